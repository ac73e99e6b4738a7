#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Print the Binder battery's table: one row per case, one column per driver.

Usage: binder_table.py DRIVER=CONSOLE_LOG...

Reads each driver's suite (rmp_binder_<driver>, kunit/binder/binder_battery.c) from the
console log of its boot. A cell is "ok", "FAIL" or "-" (the case did not run on that
driver); a case whose expected answer differs between the drivers is marked with a number,
and the reasons the battery printed follow the table.
"""

import re
import sys

CASE_RE = re.compile(r"^    (ok|not ok) \d+ (\S+)( # SKIP)?")
EXPECT_RE = re.compile(r"^    # (\S+): expected on (\S+): (.*)$")
TIMESTAMP_RE = re.compile(r"^\[\s*\d+\.\d+\] ?")


def read_suite(path):
    """Return ({case: 'ok'|'FAIL'|'SKIP'}, [case order], {case: expectation}) of the log at PATH.

    A skipped case (the kselftest's "ok N name # SKIP reason") is its own cell: in the
    Binder boots it fails its suite, and must not read as a pass.
    """
    results, order, expects = {}, [], {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [TIMESTAMP_RE.sub("", line.rstrip("\r\n")) for line in f]
    except OSError as e:
        print(f"binder_table.py: {e}", file=sys.stderr)
        return results, order, expects
    for line in lines:
        m = CASE_RE.match(line)
        if m:
            name = m.group(2)
            if name not in results:
                order.append(name)
            if m.group(1) != "ok":
                results[name] = "FAIL"
            else:
                results[name] = "SKIP" if m.group(3) else "ok"
            continue
        m = EXPECT_RE.match(line)
        if m:
            expects[m.group(1)] = m.group(3)
    return results, order, expects


def table(columns):
    """Return the table's lines for COLUMNS, a list of (driver, results, order, expects)."""
    order = []
    for _, _, col_order, _ in columns:
        order += [name for name in col_order if name not in order]
    notes, rows = [], []
    for name in order:
        differs = any(name in expects for _, _, _, expects in columns)
        mark = ""
        if differs:
            notes.append(name)
            mark = f" [{len(notes)}]"
        rows.append((name + mark, [res.get(name, "-") for _, res, _, _ in columns]))
    width = max([len("case")] + [len(r[0]) for r in rows])
    heads = [f"{drv} Binder" for drv, _, _, _ in columns]
    out = ["Binder battery: " + ", ".join(
        f"{drv}: {sum(v == 'ok' for v in res.values())} of {len(res)} pass"
        for drv, res, _, _ in columns)]
    out.append("  ".join([f"{'case':<{width}}"] + [f"{h:<13}" for h in heads]).rstrip())
    for name, cells in rows:
        out.append("  ".join([f"{name:<{width}}"] + [f"{c:<13}" for c in cells]).rstrip())
    for i, name in enumerate(notes, 1):
        for drv, _, _, expects in columns:
            if name in expects:
                out.append(f"[{i}] {drv}: {expects[name]}")
    return out


def main(argv):
    """Print the table of the logs named in ARGV; return 1 if a log has no case."""
    columns = []
    for arg in argv:
        drv, _, path = arg.partition("=")
        results, order, expects = read_suite(path)
        columns.append((drv, results, order, expects))
    print("\n".join(table(columns)))
    return 0 if all(col[1] for col in columns) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
