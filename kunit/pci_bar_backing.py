#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The host side of the guest's PCI BAR: QEMU's ivshmem-plain backing file.

`scripts/rmp` boots the guest with an ivshmem-plain device whose BAR 2 is a
file of the test run's output directory (QEMU maps it shared, so guest writes
land in the file). Before boot the file is filled with a known pattern, which
the guest reads back through the sample's devices; after the run the harness
checks that the bytes the guest wrote are in the file, and that nothing else
changed. The check prints one KTAP document (suite pci_bar_host), which the
harness appends to the console log so that kunit.py reports it with the rest.

    pci_bar_backing.py fill FILE SIZE    write a fresh file of SIZE bytes
    pci_bar_backing.py check FILE        print the KTAP document; exit 1 on failure

The patterns are those of kunit/userspace/pci_bar.h: keep them in step.
"""

import argparse
import sys

PAGE = 4096
SUITE = "pci_bar_host"

# Pages the guest writes (kunit/userspace/pci_bar_user.c), with the value it XORs into the host
# pattern, and what the case is called.
# The write-combined page is page 2 of the BAR's second half (the BAR is 1 MiB: 256 pages).
GUEST_PAGES = [
    (1, 0x11, "uncached_write_reached_the_file"),
    (128 + 2, 0x22, "write_combined_write_reached_the_file"),
    (3, 0x33, "write_after_rebind_and_rescan_reached_the_file"),
]


def host_byte(offset):
    """The byte the host writes at OFFSET (pci_bar_host_byte() in pci_bar.h)."""
    return ((offset >> 12) * 61 + (offset & 0xFFF) * 7 + 3) & 0xFF


def host_page(index):
    """The host pattern of page INDEX."""
    return bytes(host_byte(index * PAGE + i) for i in range(PAGE))


def guest_page(index, tag):
    """Page INDEX as the guest writes it: the host pattern XOR TAG."""
    return bytes(b ^ tag for b in host_page(index))


def fill(path, size):
    """Write a fresh backing file of SIZE bytes holding the host pattern."""
    if size <= 0 or size % PAGE:
        raise ValueError(f"size {size} is not a positive multiple of {PAGE}")
    with open(path, "wb") as f:
        for index in range(size // PAGE):
            f.write(host_page(index))


def first_difference(got, want):
    """The offset of the first byte where GOT and WANT differ, or None."""
    for i, (a, b) in enumerate(zip(got, want)):
        if a != b:
            return i
    return None if len(got) == len(want) else min(len(got), len(want))


def check(path):
    """Return (cases, ok): KTAP lines for each case of the check of PATH."""
    results = []
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        return [(False, "backing_file_readable", str(e))], False
    pages = len(data) // PAGE
    last = max(index for index, _, _ in GUEST_PAGES)
    results.append((pages > last and len(data) % PAGE == 0, "backing_file_readable",
                    f"{len(data)} bytes"))
    written = {index for index, _, _ in GUEST_PAGES}
    for index, tag, name in GUEST_PAGES:
        got = data[index * PAGE:(index + 1) * PAGE]
        diff = first_difference(got, guest_page(index, tag))
        results.append((diff is None, name,
                        f"page {index}: first difference at byte {diff}"
                        + (" (the host pattern is still there)" if got == host_page(index)
                           else "")))
    bad = [index for index in range(pages)
           if index not in written and data[index * PAGE:(index + 1) * PAGE] != host_page(index)]
    results.append((not bad, "other_pages_keep_the_host_pattern",
                    f"{len(bad)} pages changed, first {bad[:8]}"))
    return results, all(ok for ok, _, _ in results)


def ktap(results):
    """The KTAP document of RESULTS, one suite."""
    ok_all = all(ok for ok, _, _ in results)
    out = ["KTAP version 1", "1..1", "    KTAP version 1", f"    # Subtest: {SUITE}",
           f"    1..{len(results)}"]
    for number, (ok, name, why) in enumerate(results, 1):
        if not ok:
            out.append(f"    # {name}: {why}")
        out.append(f"    {'ok' if ok else 'not ok'} {number} {name}")
    out.append(f"{'ok' if ok_all else 'not ok'} 1 {SUITE}")
    return "\n".join(out) + "\n"


def main(argv=None):
    """Run the command; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("fill")
    f.add_argument("file")
    f.add_argument("size", type=int)
    c = sub.add_parser("check")
    c.add_argument("file")
    args = p.parse_args(argv)
    if args.cmd == "fill":
        fill(args.file, args.size)
        return 0
    results, ok = check(args.file)
    sys.stdout.write(ktap(results))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
