#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turn every ``.. code-block:: rust`` of Documentation/*.rst into a module that must build.

    scripts/doc_blocks.py OUTDIR FILE.rst...

Each block becomes OUTDIR/doc_<file>_<line>.rs, a crate for the compile-fail runner
(scripts/compile_fail.sh) marked ``//! Must compile`` and ``//! Prelude: none``: the block as it
is, then a module declaration of its own (the block's items need not be used: dead code is
allowed, no other warning). A block is a whole crate as a reader would write it, with its own
``use`` lines. Prints the number of blocks written; an empty block is an error.
"""

import os
import re
import sys

DIRECTIVE = re.compile(r"^(\s*)\.\. code-block:: rust\s*$")

BOILERPLATE = """
// ---- added by scripts/doc_blocks.py: a module around the block ----
kernel::prelude::module! {{
    type: DocBlock,
    name: "{name}",
    authors: ["rust-mmap-prepare developers"],
    description: "{where}",
    license: "GPL",
}}

struct DocBlock;

impl kernel::Module for DocBlock {{
    fn init(_module: &'static kernel::ThisModule) -> kernel::error::Result<Self> {{
        Ok(DocBlock)
    }}
}}
"""


def blocks(text):
    """Yield (line number of the directive, block text) for each Rust code block."""
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        m = DIRECTIVE.match(lines[i])
        if not m:
            i += 1
            continue
        indent = len(m.group(1))
        start = i + 1
        j = start
        # Options of the directive (":linenos:" and the like), then a blank line.
        while j < len(lines) and lines[j].strip().startswith(":"):
            j += 1
        body = []
        while j < len(lines):
            line = lines[j]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            body.append(line)
            j += 1
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        if not body:
            raise ValueError(f"line {i + 1}: an empty code block")
        cut = min(len(l) - len(l.lstrip()) for l in body if l.strip())
        yield i + 1, "\n".join(l[cut:] for l in body) + "\n"
        i = j


def main(argv):
    if len(argv) < 2:
        print(__doc__.strip().split("\n\n")[1], file=sys.stderr)
        return 2
    out = argv[0]
    os.makedirs(out, exist_ok=True)
    count = 0
    for path in argv[1:]:
        stem = re.sub(r"[^a-z0-9]+", "_", os.path.basename(path).rsplit(".", 1)[0].lower())
        with open(path, encoding="utf-8") as f:
            text = f.read()
        try:
            found = list(blocks(text))
        except ValueError as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 1
        for line, body in found:
            name = f"doc_{stem}_{line}"
            where = f"Documentation/{os.path.basename(path)}:{line}"
            with open(os.path.join(out, name + ".rs"), "w", encoding="utf-8") as f:
                f.write("// SPDX-License-Identifier: GPL-2.0\n\n")
                f.write(f"//! Must compile: the Rust block at {where}.\n")
                f.write("//! Prelude: none\n")
                f.write("#![allow(dead_code)]\n\n")
                f.write(body)
                f.write(BOILERPLATE.format(name=name, where=where))
            count += 1
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
