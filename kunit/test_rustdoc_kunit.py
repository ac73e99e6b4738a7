# SPDX-License-Identifier: GPL-2.0
"""Unit tests for scripts/rustdoc_kunit.py, on examples shaped as rustdoc 1.96 hands them over."""

import contextlib
import io
import json
import os
import pathlib
import re
import sys
import tempfile
import unittest
from unittest import mock

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))
import rustdoc_kunit  # noqa: E402

SOURCE = """\
//! A crate.

/// Runs.
///
/// ```
/// let x = 1;
/// assert_eq!(x, 1);
/// # Ok::<(), Error>(())
/// ```
pub fn a() {}

/// Only compiles.
///
/// ```no_run
/// let y = 2;
/// ```
pub fn b() {}
"""


def rustdoc_body(func, code, result=False):
    """The text rustdoc writes to the test builder's stdin."""
    ret = " -> core::result::Result<(), impl core::fmt::Debug>" if result else ""
    call = f"{func}().unwrap()" if result else f"{func}()"
    return ("#![allow(unused)]\n#[allow(unused_extern_crates)]\nextern crate r#demo;\n"
            f"fn main() {{ #[allow(non_snake_case)] fn {func}(){ret} {{\n"
            f"{code}}} {call} }}\n")


class RustdocKunitTest(unittest.TestCase):
    """Builder then generator, as kunit/doctests.mk runs them."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.dir = pathlib.Path(self.tmp.name)
        (self.dir / "src").mkdir()
        (self.dir / "src" / "lib.rs").write_text(SOURCE)
        self.saved = self.dir / "saved"
        self.saved.mkdir()
        cwd = os.getcwd()
        os.chdir(self.dir)
        self.addCleanup(os.chdir, cwd)

    def build(self, fence, code, result=False):
        """Hand one example to the builder; FENCE is the line of its opening fence."""
        body = rustdoc_body(f"_doctest_main_src_lib_rs_{fence}_0", code, result)
        env = {"RMP_DOCTEST_DIR": str(self.saved),
               "UNSTABLE_RUSTDOC_TEST_PATH": "./src/lib.rs",
               # As rustdoc sets it: source line = this + stdin line - 1, and the code starts
               # on stdin line 5, the line after the fence.
               "UNSTABLE_RUSTDOC_TEST_LINE": str(fence - 3)}
        with mock.patch.dict(os.environ, env), mock.patch("sys.stdin", io.StringIO(body)):
            self.assertEqual(rustdoc_kunit.main(["rustdoc_kunit.py", "-", "--emit=metadata"]), 0)

    def gen(self):
        """Run the generator; return (status, Rust text, C text, stderr)."""
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            status = rustdoc_kunit.main([
                "rustdoc_kunit.py", "gen", "--crate", "demo", "--suite", "rust_doctests_demo",
                "--dir", str(self.saved), "--rust", "out.rs", "--c", "out_kunit.c"])
        rust, c = (self.dir / "out.rs", self.dir / "out_kunit.c")
        return (status, rust.read_text() if rust.exists() else "",
                c.read_text() if c.exists() else "", err.getvalue())

    def test_examples_become_cases(self):
        self.build(5, "let x = 1;\nassert_eq!(x, 1);\nOk::<(), Error>(())\n", result=True)
        self.build(14, "let y = 2;\n")
        status, rust, c, _ = self.gen()
        self.assertEqual(status, 0)
        saved = json.loads(next(self.saved.glob("*_000005_0.json")).read_text())
        self.assertEqual(saved["path"], "src/lib.rs")
        # An example's error fails its case instead of panicking the kernel.
        self.assertNotIn(".unwrap()", rust)
        self.assertIn("assert!(test_return_value.is_ok());", rust)
        self.assertIn("KUNIT_CASE(rust_doctest_demo_src_lib_rs_0),", c)
        self.assertIn('.name = "rust_doctests_demo"', c)
        self.assertIn('c"src/lib.rs"', rust)

    def test_no_run_is_compiled_and_skipped(self):
        self.build(14, "let y = 2;\n")
        status, rust, c, _ = self.gen()
        self.assertEqual(status, 0)
        self.assertIn("pub extern \"C\" fn rust_doctest_demo_src_lib_rs_0(", rust)
        self.assertIn("kunit_skip(test, \"no_run example", c)
        self.assertIn('.name = "rust_doctest_demo_src_lib_rs_0"', c)
        self.assertNotIn("KUNIT_CASE(rust_doctest_demo_src_lib_rs_0)", c)

    def test_assertions_report_the_source_line(self):
        self.build(5, "let x = 1;\nassert_eq!(x, 1);\nOk::<(), Error>(())\n", result=True)
        _, rust, _, _ = self.gen()
        diff = int(re.search(r'kunit_assert_eq!\("[^"]*", c"[^"]*", (-?\d+),', rust).group(1))
        # `assert_eq!(x, 1);` is line 7 of SOURCE.
        line = next(i for i, t in enumerate(rust.splitlines(), 1) if t == "assert_eq!(x, 1);")
        self.assertEqual(line - diff, 7)

    def test_compile_fail_is_refused(self):
        (self.dir / "src" / "lib.rs").write_text(SOURCE.replace("```no_run", "```compile_fail"))
        self.build(14, "let y = 2;\n")
        status, _, _, err = self.gen()
        self.assertEqual(status, 1)
        self.assertIn("src/lib.rs:14: `compile_fail` examples are not supported", err)


if __name__ == "__main__":
    unittest.main()
