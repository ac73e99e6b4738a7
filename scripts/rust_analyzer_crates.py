#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add this project's crates to the kernel's rust-project.json.

    rust_analyzer_crates.py TOP          TOP/rust-project.json, for this project
    rust_analyzer_crates.py TOP DIR      DIR/rust-project.json, for a driver in DIR that uses
                                         the crate (made by `make -C <kernel> M=DIR rust-analyzer`)
    --root ROOT --bound DIR...           the kernel wrote the file inside the build root ROOT,
                                         where DIR... are bind-mounted at their own paths
    --rustc-cfg FILE                     the cfgs of the root's `rustc --print cfg -O`

The kernel's generate_rust_analyzer.py finds an external module's crates only through a
Kbuild file in the crate's own directory; ours are all named in the top-level Kbuild, and
rust-analyzer must also learn that every crate but the library depends on `mmap_prepare`.

Written inside the build root, the file names the root's own files as the root sees them
(the sysroot, `core` and `alloc` under /usr); an editor runs on the host, where they are
under ROOT, so each such path is rewritten to its host path. Then every path the file names
must exist on the host, or the script fails naming them. rust-analyzer asks the sysroot's
rustc for the target's cfgs (`target_pointer_width`, ...), which the root's rustc cannot
answer on the host: without them `core` lacks what they select (`usize: Step`, so
`for i in 0..n`). The answer given inside the root is added to every crate's cfgs.
"""

import argparse
import json
import os
import pathlib
import re
import sys

BASE = ["core", "alloc", "kernel", "macros", "pin_init", "ffi", "bindings", "zerocopy"]


def add_crate(crates, index, root, deps, member):
    """Append a crate rooted at ROOT, configured as the kernel crate is."""
    kernel = crates[index["kernel"]]
    index[root.stem] = len(crates)
    crates.append({
        "display_name": root.stem,
        "root_module": str(root),
        "is_workspace_member": member,
        "deps": [{"crate": index[d], "name": d} for d in deps if d in index],
        "cfg": kernel["cfg"],
        "edition": kernel["edition"],
        "env": kernel["env"],
    })


def project(top, crates, index):
    """This project's crates, from its Kbuild; returns how many."""
    objs = re.findall(r"([\w/]+)\.o\b", (top / "Kbuild").read_text())
    roots = [top / f"{o}.rs" for o in dict.fromkeys(objs) if (top / f"{o}.rs").exists()]
    # The library first, so that its users can depend on it.
    roots.sort(key=lambda p: p.stem != "mmap_prepare")
    for root in roots:
        deps = BASE + ([] if root.stem == "mmap_prepare" else ["mmap_prepare"])
        add_crate(crates, index, root, deps, True)
    return len(roots)


def consumer(top, driver, crates, index):
    """The library, as a dependency of every crate of the driver in DRIVER; returns how many.

    The kernel names the driver's crates relative to DRIVER, where rust-project.json is.
    """
    lib = top / "rust" / "mmap_prepare.rs"
    if "mmap_prepare" not in index:
        add_crate(crates, index, lib, BASE, False)
    users = 0
    for crate in crates:
        root = (driver / crate["root_module"]).resolve()
        if driver in root.parents and crate["display_name"] != "mmap_prepare":
            deps = crate["deps"]
            for name in BASE + ["mmap_prepare"]:
                if name in index and all(d["name"] != name for d in deps):
                    deps.append({"crate": index[name], "name": name})
            users += 1
    return users


def under(path, directory):
    """True if the absolute PATH is DIRECTORY or inside it."""
    directory = directory.rstrip("/")
    return path == directory or path.startswith(directory + "/")


def host_paths(value, root, bound):
    """VALUE (the JSON data, or a part of it) with every absolute path that lives in the build
    root ROOT made a host path; paths under a directory of BOUND, bind-mounted into the root
    at their own paths, are host paths already."""
    if isinstance(value, dict):
        return {key: host_paths(item, root, bound) for key, item in value.items()}
    if isinstance(value, list):
        return [host_paths(item, root, bound) for item in value]
    if isinstance(value, str) and value.startswith("/") and \
            not any(under(value, directory) for directory in bound):
        return str(root).rstrip("/") + value
    return value


def add_cfgs(crates, cfgs):
    """Add CFGS to the cfgs of every crate of CRATES, once."""
    for crate in crates:
        crate["cfg"] = list(dict.fromkeys(crate["cfg"] + cfgs))


def paths_of(value):
    """Every absolute path in VALUE (the JSON data, or a part of it)."""
    if isinstance(value, dict):
        return [p for item in value.values() for p in paths_of(item)]
    if isinstance(value, list):
        return [p for item in value for p in paths_of(item)]
    return [value] if isinstance(value, str) and value.startswith("/") else []


def missing_paths(data, base):
    """The paths of DATA, written to BASE/rust-project.json, that do not exist.

    A crate's root_module may be relative to BASE. rust-analyzer looks for the standard
    library's sources in the sysroot, so that directory must exist too.
    """
    paths = paths_of(data)
    paths += [str(base / c["root_module"]) for c in data.get("crates", [])
              if not c["root_module"].startswith("/")]
    if "sysroot" in data and "sysroot_src" not in data:
        paths.append(os.path.join(data["sysroot"], "lib/rustlib/src/rust/library"))
    return [p for p in dict.fromkeys(paths) if not os.path.exists(p)]


def parse_args(argv):
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("top", type=pathlib.Path, help="this project's checkout")
    p.add_argument("driver", type=pathlib.Path, nargs="?", help="a driver's directory")
    p.add_argument("--root", type=pathlib.Path,
                   help="the build root the kernel's make ran in")
    p.add_argument("--bound", action="append", default=[], metavar="DIR",
                   help="a directory bind-mounted into the root at its own path")
    p.add_argument("--rustc-cfg", type=pathlib.Path, metavar="FILE",
                   help="what `rustc --print cfg -O` prints in the root")
    return p.parse_args(argv)


def main(argv=None) -> int:
    """Run the script; return the exit status."""
    args = parse_args(argv)
    top = args.top.resolve()
    driver = args.driver.resolve() if args.driver else None
    out = (driver or top) / "rust-project.json"
    data = json.loads(out.read_text())
    if args.root:
        # The binds as the root sees them: the paths given, not their resolved forms.
        data = host_paths(data, args.root, [os.path.abspath(d) for d in args.bound])
    crates = data["crates"]
    index = {c["display_name"]: i for i, c in enumerate(crates)}
    if driver:
        n = consumer(top, driver, crates, index)
        what = f"{n} crates of {driver} use mmap_prepare ({top / 'rust'})"
    else:
        n = project(top, crates, index)
        what = f"{n} crates of this project added"
    if args.rustc_cfg:
        add_cfgs(crates, [line for line in args.rustc_cfg.read_text().splitlines() if line])
    out.write_text(json.dumps(data, sort_keys=True, indent=4))
    missing = missing_paths(data, out.parent)
    for path in missing:
        print(f"rust-project.json: ERROR: {path} does not exist", file=sys.stderr)
    if missing:
        print(f"rust-project.json: {out} names {len(missing)} paths an editor cannot open",
              file=sys.stderr)
        return 1
    print(f"rust-project.json: {what}; every path it names exists")
    return 0


if __name__ == "__main__":
    sys.exit(main())
