#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Add this project's crates to the kernel's rust-project.json.

The kernel's generate_rust_analyzer.py finds an external module's crates only through a
Kbuild file in the crate's own directory; ours are all named in the top-level Kbuild, and
rust-analyzer must also learn that every crate but the library depends on `mmap_prepare`.
"""

import json
import pathlib
import re
import sys


def main() -> None:
    top = pathlib.Path(sys.argv[1]).resolve()
    out = top / "rust-project.json"
    project = json.loads(out.read_text())
    crates = project["crates"]
    index = {c["display_name"]: i for i, c in enumerate(crates)}
    kernel = crates[index["kernel"]]

    objs = re.findall(r"([\w/]+)\.o\b", (top / "Kbuild").read_text())
    roots = [top / f"{o}.rs" for o in dict.fromkeys(objs) if (top / f"{o}.rs").exists()]
    # The library first, so that its users can depend on it.
    roots.sort(key=lambda p: p.stem != "mmap_prepare")

    base = ["core", "alloc", "kernel", "macros", "pin_init", "ffi", "bindings", "zerocopy"]
    for root in roots:
        deps = [n for n in base if n in index]
        if root.stem != "mmap_prepare":
            deps.append("mmap_prepare")
        index[root.stem] = len(crates)
        crates.append({
            "display_name": root.stem,
            "root_module": str(root),
            "is_workspace_member": True,
            "deps": [{"crate": index[d], "name": d} for d in deps],
            "cfg": kernel["cfg"],
            "edition": kernel["edition"],
            "env": kernel["env"],
        })
    out.write_text(json.dumps(project, sort_keys=True, indent=4))
    print(f"rust-project.json: {len(roots)} crates of this project added")


if __name__ == "__main__":
    main()
