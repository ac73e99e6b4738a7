#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add this project's crates to the kernel's rust-project.json.

    rust_analyzer_crates.py TOP          TOP/rust-project.json, for this project
    rust_analyzer_crates.py TOP DIR      DIR/rust-project.json, for a driver in DIR that uses
                                         the crate (made by `make -C <kernel> M=DIR rust-analyzer`)

The kernel's generate_rust_analyzer.py finds an external module's crates only through a
Kbuild file in the crate's own directory; ours are all named in the top-level Kbuild, and
rust-analyzer must also learn that every crate but the library depends on `mmap_prepare`.
"""

import json
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


def main() -> None:
    top = pathlib.Path(sys.argv[1]).resolve()
    driver = pathlib.Path(sys.argv[2]).resolve() if len(sys.argv) > 2 else None
    out = (driver or top) / "rust-project.json"
    data = json.loads(out.read_text())
    crates = data["crates"]
    index = {c["display_name"]: i for i, c in enumerate(crates)}
    if driver:
        n = consumer(top, driver, crates, index)
        what = f"{n} crates of {driver} use mmap_prepare ({top / 'rust'})"
    else:
        n = project(top, crates, index)
        what = f"{n} crates of this project added"
    out.write_text(json.dumps(data, sort_keys=True, indent=4))
    print(f"rust-project.json: {what}")


if __name__ == "__main__":
    main()
