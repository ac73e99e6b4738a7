#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Merge the KTAP documents of a test kernel's serial console log into one.

The console log of a test boot holds several top-level KTAP documents: one
from the built-in KUnit suites, one per loaded module with KUnit suites and
some from userspace test programs. `kunit.py parse` only reads the first, so
this script merges them into a single document (top-level results renumbered)
and checks the log for problems: missing or duplicate suites, truncated
documents, kernel splats, harness failures and a missing end marker.
Problems are printed as `console_to_ktap: ERROR: ...` lines; the exit status
is 1 if there were any. Failing tests are not errors here: kunit.py reports
them from the merged document.
"""

import argparse
import re
import sys
from dataclasses import dataclass, field

# Substrings of a console line that mean the kernel hit a problem. A pattern
# only matches at the start of a word, so "BUG:" does not match "DEBUG:".
SPLAT_PATTERNS = [
    "WARNING:",
    "BUG:",  # BUG: KASAN:, BUG: sleeping function, BUG: unable to handle
    "kernel BUG at",
    "Oops",
    "general protection fault",
    "Kernel panic",
    "UBSAN:",
    "refcount_t:",
    "INFO: possible circular locking",
    "INFO: possible recursive locking",
    "INFO: rcu_",
    "rcu: INFO:",
    "detected stall",
    "Call Trace:",
    "list_add corruption",
    "list_del corruption",
    "KFENCE: ",
]
MAX_SPLATS_SHOWN = 10
HARNESS_FAIL = "rmp-harness: FAIL:"
PROG = "console_to_ktap"

SPLAT_RE = re.compile(r"(?<![A-Za-z0-9_])(?:%s)" % "|".join(map(re.escape, SPLAT_PATTERNS)))
TIMESTAMP_RE = re.compile(r"^\[\s*\d+\.\d+\](?:\[\s*[CT]\d+\])? ?")
ANSI_RE = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
VERSION_RE = re.compile(r"^(?:KTAP version 1|TAP version 14)$")
PLAN_RE = re.compile(r"^1\.\.(\d+)")
RESULT_RE = re.compile(r"^(ok|not ok) \d+(?: (?:- )?([^#]*?))?\s*(#.*)?$")
SUBTEST_RE = re.compile(r"^    # Subtest: (.+)$")
INDENT = "    "


@dataclass
class Subtest:
    """A top-level subtest: its nested/diagnostic lines and its result."""
    name: str
    status: str  # "ok" or "not ok"
    directive: str  # e.g. "# SKIP reason", or ""
    lines: list = field(default_factory=list)

    def result_line(self, number):
        """Return the top-level result line, renumbered to NUMBER."""
        parts = [self.status, str(number)]
        parts += [p for p in (self.name, self.directive) if p]
        return " ".join(parts)


@dataclass
class Document:
    """A top-level KTAP document found in the log."""
    line_no: int  # log line of the version header
    plan: int = None
    subtests: list = field(default_factory=list)
    pending: list = field(default_factory=list)  # lines since the last result

    def complete(self):
        """True once the document has all the results its plan announced."""
        return self.plan is not None and len(self.subtests) >= self.plan


def clean_line(raw):
    """Drop control characters, ANSI sequences and one printk timestamp."""
    text = ANSI_RE.sub("", raw)
    text = CONTROL_RE.sub("", text).rstrip()
    return TIMESTAMP_RE.sub("", text, count=1)


def read_log(path):
    """Return the cleaned lines of the console log at PATH."""
    with open(path, encoding="utf-8", errors="replace", newline="") as f:
        return [clean_line(raw) for raw in f.read().split("\n")]


def parse_result(text):
    """Return (status, name, directive) for a top-level result line, or None."""
    m = RESULT_RE.match(text)
    if not m:
        return None
    return m.group(1), (m.group(2) or "").strip(), (m.group(3) or "").strip()


def feed_line(doc, text):
    """Add one KTAP-shaped line to an open document; ignore anything else."""
    if text.startswith(INDENT):
        doc.pending.append(text)
        return
    plan = PLAN_RE.match(text)
    if plan and doc.plan is None:
        doc.plan = int(plan.group(1))
        return
    result = parse_result(text)
    if result:
        status, name, directive = result
        doc.subtests.append(Subtest(name, status, directive, doc.pending))
        doc.pending = []
    elif text == "#" or text.startswith("# "):
        doc.pending.append(text)


def parse_documents(lines):
    """Split the cleaned log lines into top-level KTAP documents."""
    docs = []
    for line_no, text in enumerate(lines, 1):
        if VERSION_RE.match(text):
            docs.append(Document(line_no))
        elif docs and not docs[-1].complete():
            feed_line(docs[-1], text)
    return docs


def close_truncated(doc):
    """If DOC is truncated, close its partial suite and return an error."""
    if doc.complete():
        return None
    partial = [m.group(1) for m in map(SUBTEST_RE.match, doc.pending) if m]
    if partial:
        last = partial[0]
        doc.subtests.append(Subtest(last, "not ok", "# truncated (crash?)", doc.pending))
    else:
        last = doc.subtests[-1].name if doc.subtests else "(none)"
    doc.pending = []
    plan = "?" if doc.plan is None else doc.plan
    found = len(doc.subtests) - (1 if partial else 0)
    return (f"truncated KTAP document at log line {doc.line_no}: "
            f"{found} of {plan} results, last suite seen: {last}")


def merge(docs):
    """Return the text of one KTAP document holding all subtests of DOCS."""
    subtests = [t for doc in docs for t in doc.subtests]
    out = ["KTAP version 1", f"1..{len(subtests)}"]
    for number, test in enumerate(subtests, 1):
        out += test.lines
        out.append(test.result_line(number))
    return "\n".join(out) + "\n"


def read_expect_file(path):
    """Return the suite names in PATH: one per line, '#' starts a comment."""
    with open(path, encoding="utf-8") as f:
        names = [line.split("#", 1)[0].strip() for line in f]
    return [name for name in names if name]


def check_suites(docs, expected):
    """Return errors for expected suites that are missing or duplicated."""
    names = [t.name for doc in docs for t in doc.subtests if t.name]
    errors = [f"expected suite not found: {name}"
              for name in dict.fromkeys(expected) if name not in names]
    for name in dict.fromkeys(names):
        if names.count(name) > 1:
            errors.append(f"suite appears {names.count(name)} times: {name}")
    return errors


def check_log(lines, require_end):
    """Return errors for splats, harness failures and a missing end marker."""
    errors = []
    splats = [(n, t) for n, t in enumerate(lines, 1) if SPLAT_RE.search(t)]
    if splats:
        shown = min(len(splats), MAX_SPLATS_SHOWN)
        errors.append(f"{len(splats)} kernel splat lines in log (first {shown} follow)")
        errors += [f"splat at log line {n}: {t}" for n, t in splats[:shown]]
    errors += [t for t in lines if HARNESS_FAIL in t]
    if require_end and not any(require_end in t for t in lines):
        errors.append("guest did not finish (crash or timeout?): "
                      f"end marker {require_end!r} not found")
    return errors


def parse_args(argv):
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log", help="serial console log of the test boot")
    p.add_argument("--out", required=True, help="merged KTAP file to write")
    p.add_argument("--expect", action="extend", nargs="+", default=[],
                   metavar="SUITE", help="suite that must appear")
    p.add_argument("--expect-file", action="append", default=[], metavar="FILE",
                   help="file of expected suites, one per line")
    p.add_argument("--require-end", metavar="MARKER",
                   help="text the guest prints when it finished")
    return p.parse_args(argv)


def main(argv=None):
    """Run the script; return the exit status."""
    args = parse_args(argv)
    errors = []
    try:
        lines = read_log(args.log)
        expected = list(args.expect)
        for path in args.expect_file:
            expected += read_expect_file(path)
    except OSError as e:
        print(f"{PROG}: ERROR: {e}", file=sys.stderr)
        return 1
    docs = parse_documents(lines)
    if not docs:
        errors.append(f"no KTAP document found in {args.log}")
    errors += [e for e in map(close_truncated, docs) if e]
    errors += check_suites(docs, expected)
    errors += check_log(lines, args.require_end)
    try:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(merge(docs))
    except OSError as e:
        errors.append(f"cannot write merged file: {e}")
    for error in errors:
        print(f"{PROG}: ERROR: {error}", file=sys.stderr)
    suites = sum(len(doc.subtests) for doc in docs)
    print(f"{PROG}: {len(docs)} documents, {suites} suites merged into {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
