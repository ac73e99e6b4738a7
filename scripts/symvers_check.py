#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Check Rust symbols against a kernel's Module.symvers (make test KERNEL=debian).

  symvers_check.py exports --symvers FILE --kdir DIR
      The Rust symbols that the kernel's `rust/` directory rebuilt in DIR exports (its
      exports_*_generated.h) against those of FILE, the stock kernel's Module.symvers: every
      one must be there under the same name, and the stock kernel must export no Rust symbol
      the rebuild does not. Run once the metadata is made, before any module is built.

  symvers_check.py imports --symvers FILE [--symvers FILE...] KO...
      Every symbol each module imports (nm -u) must be exported by one of the files (the stock
      kernel's, and the library's own for the modules that use it).

A v0-mangled Rust name holds, for each crate it names, the crate's name and its hash
(`Cs<hash>_<len><name>`, the StableCrateId: rustc derives it from the crate's name, its
-Cmetadata values and the compiler's version string). On a mismatch the crates' hashes on both
sides are printed: a differing hash of `core` or `kernel` is another rustc (or -Cmetadata);
equal hashes with differing names are differing code (another source, .config or bindgen).
Exits 1 on a mismatch, naming the first missing symbols.
"""

import argparse
import re
import subprocess
import sys

SHOWN = 10
EXPORT_RE = re.compile(r"EXPORT_SYMBOL_RUST_GPL\((\w+)\)")
# A crate root with its disambiguator: `C` `s` <base-62> `_` <decimal length> <name>.
CRATE_RE = re.compile(r"Cs([0-9A-Za-z]*)_(\d+)")


def crates(symbol):
    """The (crate name, hash) pairs a v0 Rust symbol names."""
    found = []
    for m in CRATE_RE.finditer(symbol):
        length = int(m.group(2))
        start = m.end()
        if start < len(symbol) and symbol[start] == "_":
            start += 1  # an identifier starting with a digit or `_` gets a `_` separator
        name = symbol[start:start + length]
        if len(name) == length and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            found.append((name, m.group(1)))
    return found


def crate_hashes(symbols):
    """{crate name: {hash: count}} over the Rust symbols of SYMBOLS."""
    table = {}
    for sym in symbols:
        if not sym.startswith("_R"):
            continue
        for name, digest in set(crates(sym)):
            table.setdefault(name, {}).setdefault(digest, 0)
            table[name][digest] += 1
    return table


def read_symvers(path):
    """{symbol: module} of a Module.symvers."""
    symbols = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if len(fields) >= 3:
                symbols[fields[1]] = fields[2]
    return symbols


def print_hashes(ours, theirs, our_label, their_label):
    """The crates' hashes on both sides, one crate a line."""
    print(f"    {'crate':<18} {our_label:<32} {their_label}")
    for name in sorted(set(ours) | set(theirs)):
        def fmt(table):
            return ", ".join(f"Cs{d}_ ({n})" for d, n in sorted(table.get(name, {}).items())) or "-"
        mark = "" if set(ours.get(name, {})) == set(theirs.get(name, {})) else "   <- differs"
        print(f"    {name:<18} {fmt(ours):<32} {fmt(theirs)}{mark}")


def cmd_exports(args):
    """Rebuilt exports against the stock Module.symvers."""
    stock = read_symvers(args.symvers)
    ours = []
    for part in ("core", "bindings", "kernel", "helpers"):
        path = f"{args.kdir}/rust/exports_{part}_generated.h"
        try:
            with open(path, encoding="utf-8") as f:
                ours += EXPORT_RE.findall(f.read())
        except FileNotFoundError:
            if part != "helpers":
                print(f"symvers_check: ERROR: {path} is missing: the rust/ build did not finish")
                return 1
    ours_set = set(ours)
    ours_rust = {s for s in ours_set if s.startswith("_R")}
    stock_rust = {s for s in stock if s.startswith("_R")}
    missing = sorted(s for s in ours if s not in stock)
    extra = sorted(stock_rust - ours_rust)
    helpers = sum(1 for s in ours_set if s.startswith("rust_helper_"))
    print(f"symvers_check: rebuilt rust/ exports {len(ours_rust)} Rust symbols and "
          f"{helpers} C helpers; the stock Module.symvers has {len(stock_rust)} Rust symbols")
    if not missing and not extra:
        print(f"symvers_check: all {len(ours_set)} exports of the rebuilt rust/ are the stock "
              "kernel's, name for name, and the stock kernel exports no other Rust symbol")
        print_hashes(crate_hashes(ours_rust), crate_hashes(stock_rust), "rebuilt", "stock")
        return 0
    if missing:
        print(f"symvers_check: ERROR: {len(missing)} symbols the rebuilt rust/ exports are not "
              f"in the stock kernel's Module.symvers; the first {min(SHOWN, len(missing))}:")
        for sym in missing[:SHOWN]:
            print(f"    {sym}")
    if extra:
        print(f"symvers_check: ERROR: {len(extra)} Rust symbols of the stock kernel are not "
              f"made by the rebuild; the first {min(SHOWN, len(extra))}:")
        for sym in extra[:SHOWN]:
            print(f"    {sym}")
    print("symvers_check: the crates' hashes (a differing hash: another rustc version string "
          "or -Cmetadata; equal hashes: differing code)")
    print_hashes(crate_hashes(ours_rust), crate_hashes(stock_rust), "rebuilt", "stock")
    return 1


def undefined(ko, nm):
    """The symbols module KO imports."""
    out = subprocess.run([nm, "-u", ko], check=True, capture_output=True, text=True).stdout
    return [line.split()[-1] for line in out.splitlines() if line.strip()]


def cmd_imports(args):
    """Each module's imports against the Module.symvers files."""
    known = {}
    for path in args.symvers:
        known.update(read_symvers(path))
    stock_hashes = crate_hashes(known)
    failed = 0
    total = 0
    for ko in args.modules:
        imports = undefined(ko, args.nm)
        total += len(imports)
        missing = [s for s in imports if s not in known]
        if not missing:
            continue
        failed += 1
        missing.sort(key=lambda s: (not s.startswith("_R"), s))
        print(f"symvers_check: ERROR: {ko} imports {len(missing)} symbols the kernel does not "
              f"export; the first {min(SHOWN, len(missing))}:")
        for sym in missing[:SHOWN]:
            print(f"    {sym}")
        ours = crate_hashes(s for s in missing if s.startswith("_R"))
        if ours:
            print("symvers_check: the crates these names hash (against the kernel's):")
            print_hashes(ours, stock_hashes, "missing symbols", "kernel's exports")
    rust = sum(1 for ko in args.modules for s in undefined(ko, args.nm) if s.startswith("_R"))
    if failed:
        return 1
    print(f"symvers_check: every symbol {len(args.modules)} modules import is exported "
          f"({total} imports, {rust} of them Rust symbols)")
    return 0


def main(argv=None):
    """Run the script; return the exit status."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("exports")
    e.add_argument("--symvers", required=True)
    e.add_argument("--kdir", required=True)
    i = sub.add_parser("imports")
    i.add_argument("--symvers", action="append", required=True)
    i.add_argument("--nm", default="nm")
    i.add_argument("modules", nargs="+")
    args = p.parse_args(argv)
    return cmd_exports(args) if args.cmd == "exports" else cmd_imports(args)


if __name__ == "__main__":
    sys.exit(main())
