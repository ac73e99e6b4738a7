#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add this project's crates to the kernel's rust-project.json.

    rust_analyzer_crates.py TOP          TOP/rust-project.json, for this project
    rust_analyzer_crates.py TOP DIR      DIR/rust-project.json, for a driver in DIR that uses
                                         the crate (made by `make -C <kernel> M=DIR rust-analyzer`)
    --root ROOT --bound DIR...           the kernel wrote the file inside the build root ROOT,
                                         where DIR... are bind-mounted at their own paths
    --host-sysroot DIR                   make DIR the sysroot (below)

The kernel's generate_rust_analyzer.py finds an external module's crates only through a
Kbuild file in the crate's own directory; ours are all named in the top-level Kbuild, and
rust-analyzer must also learn that every crate but the library depends on `mmap_prepare`.

Written inside the build root, the file names the root's own files as the root sees them
(the sysroot, `core` and `alloc` under /usr); an editor runs on the host, where they are
under ROOT, so each such path is rewritten to its host path. Then every path the file names
must exist on the host, or the script fails naming them.

rust-analyzer runs two programs of the sysroot: its rustc, for the target's cfgs (without
them `core` lacks what they select: `usize: Step`, so `for i in 0..n`), and its proc-macro
server, to expand the kernel's proc macros. The root's need the root's libraries and do not
run on the host as they are (and rust-analyzer 1.97 dies of SIGPIPE when the server does not
start), so the sysroot the file names is DIR, which holds scripts that run them through the
root's program interpreter and libraries. The standard library is the crates the kernel
lists, from the root's rust-src (naming that directory as `sysroot_src` as well makes
rust-analyzer 1.97 load `core` twice, and then nothing is `Sized`).
"""

import argparse
import json
import os
import pathlib
import re
import shlex
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


# The sysroot's programs rust-analyzer runs, the program interpreter the root's programs name
# (the x86-64 ABI's) and the root's directories of the libraries they and the kernel's proc
# macros load.
SYSROOT_PROGRAMS = ["bin/rustc", "libexec/rust-analyzer-proc-macro-srv"]
ROOT_INTERP = "lib64/ld-linux-x86-64.so.2"
ROOT_LIBS = ["usr/lib/x86_64-linux-gnu", "usr/lib/rustlib/x86_64-unknown-linux-gnu/lib"]


def host_sysroot(root, directory):
    """Make DIRECTORY a sysroot whose programs run the build root ROOT's on the host."""
    libs = ":".join(str(root / lib) for lib in ROOT_LIBS)
    for program in SYSROOT_PROGRAMS:
        wrapper = directory / program
        if not (root / "usr" / program).exists():
            continue
        wrapper.parent.mkdir(parents=True, exist_ok=True)
        command = [str(root / ROOT_INTERP), "--library-path", libs, str(root / "usr" / program)]
        wrapper.write_text("#!/bin/sh\n# The build root's program, run with the root's libraries"
                           " (scripts/rust_analyzer_crates.py).\n"
                           f"exec {shlex.join(command)} \"$@\"\n")
        wrapper.chmod(0o755)


def paths_of(value):
    """Every absolute path in VALUE (the JSON data, or a part of it)."""
    if isinstance(value, dict):
        return [p for item in value.values() for p in paths_of(item)]
    if isinstance(value, list):
        return [p for item in value for p in paths_of(item)]
    return [value] if isinstance(value, str) and value.startswith("/") else []


def missing_paths(data, base):
    """The paths of DATA, written to BASE/rust-project.json, that do not exist.

    A crate's root_module may be relative to BASE.
    """
    paths = paths_of(data)
    paths += [str(base / c["root_module"]) for c in data.get("crates", [])
              if not c["root_module"].startswith("/")]
    return [p for p in dict.fromkeys(paths) if not os.path.exists(p)]


def parse_args(argv):
    """Parse the command line."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("top", type=pathlib.Path, help="this project's checkout")
    p.add_argument("driver", type=pathlib.Path, nargs="?", help="a driver's directory")
    p.add_argument("--root", type=pathlib.Path,
                   help="the build root the kernel's make ran in (the file gets host paths)")
    p.add_argument("--bound", action="append", default=[], metavar="DIR",
                   help="a directory bind-mounted into the root at its own path")
    p.add_argument("--host-sysroot", type=pathlib.Path, metavar="DIR",
                   help="with --root: a sysroot of scripts running the root's programs")
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
        if args.host_sysroot:
            host_sysroot(args.root, args.host_sysroot)
            data["sysroot"] = str(args.host_sysroot)
    crates = data["crates"]
    index = {c["display_name"]: i for i, c in enumerate(crates)}
    if driver:
        n = consumer(top, driver, crates, index)
        what = f"{n} crates of {driver} use mmap_prepare ({top / 'rust'})"
    else:
        n = project(top, crates, index)
        what = f"{n} crates of this project added"
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
