#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Merge the KTAP documents of a test kernel's serial console log into one.

The console log of a test boot holds several top-level KTAP documents: one
from the built-in KUnit suites, one per loaded module with KUnit suites and
some from userspace test programs. `kunit.py parse` only reads the first, so
this script merges them into a single document (top-level results renumbered)
and checks the log for problems: missing or duplicate suites, truncated
documents, kernel splats, memory leaks (the kmemleak report the guest prints
between markers at the end), harness failures and a missing end marker.
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
    "Call trace:",  # arm64's spelling
    "Internal error:",  # arm64's die(): "Internal error: Oops: ..."
    "SError Interrupt",  # arm64: an asynchronous external abort
    "list_add corruption",
    "list_del corruption",
    "KFENCE: ",
    "panicked at",  # a Rust panic (then BUG())
    "blocked for more than",  # the hung task detector
]
MAX_SPLATS_SHOWN = 10
HARNESS_FAIL = "rmp-harness: FAIL:"
PROG = "console_to_ktap"

# The kmemleak report kunit/kmemleak.sh prints once every module is unloaded. Any object in
# it fails the run (Documentation/test-rig.rst says why any, not only ours).
KMEMLEAK_BEGIN = "rmp-harness: kmemleak report begin"
KMEMLEAK_END = "rmp-harness: kmemleak report end"
KMEMLEAK_OBJECT_RE = re.compile(
    r"^unreferenced object(?: \(\w+\))? (0x[0-9a-f]+) \(size (\d+)\):")
KMEMLEAK_COMM_RE = re.compile(r'^\s+comm "(.*)", pid (\d+)')
KMEMLEAK_FRAME_RE = re.compile(r"^\s{4}(\S+?)(?:\+0x[0-9a-f]+/0x[0-9a-f]+)?(?: \[(\w+)\])?$")
# Frames of kmemleak and the allocators: where a leaked object was allocated is past them.
KMEMLEAK_ALLOCATOR_RE = re.compile(
    r"^(?:kmemleak_|__kmalloc|kmalloc|kmem_cache_alloc|__kmem_cache|__do_kmalloc|slab_|"
    r"__slab|___slab|kvmalloc|__kvmalloc|kvrealloc|krealloc|__krealloc|vmalloc|__vmalloc|"
    r"alloc_pages|__alloc_pages|pcpu_alloc|kmemdup|kstrdup|kasan_|__kasan)")
KMEMLEAK_SITE_FRAMES = 3
# The object the guest leaks on purpose (kunit/kmemleak.sh): reported if planted, not an error.
KMEMLEAK_CANARY = "RMP-CANARY-LEAK!"
KMEMLEAK_CANARY_PLANTED = "rmp-harness: kmemleak canary planted"
# Where the guest loaded each module (kunit/init.sh), to name a module unloaded since.
MODULE_AT_RE = re.compile(r"^rmp-harness: module (\w+) size (\d+) at (0x[0-9a-f]+)")
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


@dataclass
class Leak:
    """An unreferenced object of the kmemleak report."""
    line_no: int
    address: str
    size: int
    comm: str = "?"
    frames: list = field(default_factory=list)  # (function or address, module or None)
    canary: bool = False

    def describe(self, loaded=()):
        """One line naming the object, where it was allocated and by which module.

        LOADED lists (name, start, size) of the modules the guest loaded: a bare address in
        a backtrace is code of a module unloaded since, named if it lies in one of them.
        """
        def name_of(frame):
            name, module = frame
            if module or not name.startswith("0x"):
                return name, module
            addr = int(name, 16)
            for mod, start, size in loaded:
                if start <= addr < start + size:
                    return f"{name} ({mod})", mod
            return name, "?"

        frames = [name_of(frame) for frame in self.frames]
        site = [name for name, _ in frames if not KMEMLEAK_ALLOCATOR_RE.match(name)]
        where = " <- ".join(site[:KMEMLEAK_SITE_FRAMES]) or "?"
        modules = sorted({module for _, module in frames if module and module != "?"})
        unloaded = any(module == "?" for _, module in frames)
        text = (f"kmemleak: unreferenced object {self.address} (size {self.size}, "
                f"comm \"{self.comm}\") at log line {self.line_no}, allocated at {where}")
        if modules:
            text += f" [module {', '.join(modules)}]"
        if unloaded:
            text += " [a frame in an unknown module, unloaded since]"
        return text


@dataclass
class Report:
    """One kmemleak report: the test boot's, or a Binder boot's (its LABEL names the driver)."""
    line_no: int  # of its begin marker
    label: str  # what the begin marker says in parentheses, e.g. "Binder boot, driver c"
    planted: bool  # the boot planted the canary before it
    loaded: list  # (name, start, size) of the modules the boot loaded before it
    leaks: list = field(default_factory=list)
    complete: bool = False

    def where(self):
        """' in the <label>' for the messages about a labelled report, else ''."""
        return f" in the {self.label}" if self.label else ""


def parse_kmemleak(lines):
    """Return the kmemleak reports of the log, in order. The console log of make test holds
    the test boot's and, appended after it, one per Binder boot: the canary planted and the
    modules loaded before a report belong to it (they are reset after each report)."""
    reports, cur, planted, loaded = [], None, False, []
    for line_no, text in enumerate(lines, 1):
        if cur is None:
            loaded_at = MODULE_AT_RE.match(text)
            if loaded_at:
                loaded.append((loaded_at.group(1), int(loaded_at.group(3), 16),
                               int(loaded_at.group(2))))
            planted |= text.startswith(KMEMLEAK_CANARY_PLANTED)
        if text.startswith(KMEMLEAK_BEGIN):
            if cur is not None:
                reports.append(cur)  # cut short: another report began
            label = text[len(KMEMLEAK_BEGIN):].strip()
            if label.startswith("(") and label.endswith(")"):
                label = label[1:-1]
            cur = Report(line_no, label, planted, loaded)
            planted, loaded = False, []
            continue
        if cur is None:
            continue
        if text.startswith(KMEMLEAK_END):
            cur.complete = True
            reports.append(cur)
            cur = None
            continue
        leaks = cur.leaks
        obj = KMEMLEAK_OBJECT_RE.match(text)
        if obj:
            leaks.append(Leak(line_no, obj.group(1), int(obj.group(2))))
            continue
        comm = KMEMLEAK_COMM_RE.match(text)
        frame = KMEMLEAK_FRAME_RE.match(text)
        if leaks and KMEMLEAK_CANARY in text:
            leaks[-1].canary = True
        if leaks and comm:
            leaks[-1].comm = comm.group(1)
        elif leaks and frame and not text.strip().startswith(("hex dump", "backtrace")) \
                and not re.match(r"^\s{4}[0-9a-f]{2} ", text):
            leaks[-1].frames.append((frame.group(1), frame.group(2)))
    if cur is not None:
        reports.append(cur)
    return reports


MAX_LEAKS_SHOWN = 10


def check_kmemleak(lines):
    """Return, for each kmemleak report, an error per leaked object, about a report cut short,
    and about a canary planted but not reported (then the scan cannot be trusted); a
    labelled report's errors name it (a Binder boot's, its driver)."""
    errors = []
    for report in parse_kmemleak(lines):
        where = report.where()
        if report.planted and report.complete and not any(l.canary for l in report.leaks):
            errors.append("kmemleak did not report the leak canary planted on purpose"
                          f"{where}: the leak scan cannot be trusted")
        leaks = [leak for leak in report.leaks if not leak.canary]
        if len(leaks) > MAX_LEAKS_SHOWN:
            errors.append(f"kmemleak: {len(leaks)} unreferenced objects{where} "
                          f"(first {MAX_LEAKS_SHOWN} follow)")
        errors += [leak.describe(report.loaded) + where for leak in leaks[:MAX_LEAKS_SHOWN]]
        if not report.complete:
            errors.append(f"kmemleak report cut short at log line {report.line_no}{where} "
                          "(crash or timeout?)")
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
    errors += check_kmemleak(lines)
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
