# SPDX-License-Identifier: GPL-2.0
"""Unit tests for scripts/rust_analyzer_crates.py: host paths for a file made in the build root."""

import contextlib
import io
import json
import os
import pathlib
import shlex
import sys
import tempfile
import unittest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "scripts"))
import rust_analyzer_crates  # noqa: E402

MODFILE = {"RUST_MODFILE": "This is only for rust-analyzer"}


def kernel_json(cache, driver=None):
    """A rust-project.json shaped as the kernel's generate_rust_analyzer.py writes it in the
    root: the sysroot and its crates under the root's /usr, the kernel's under the cache."""
    src, build = f"{cache}/src/linux", f"{cache}/build/linux"
    lib = "/usr/lib/rustlib/src/rust/library"
    crates = [
        {"display_name": "core", "root_module": f"{lib}/core/src/lib.rs", "deps": [],
         "cfg": [], "edition": "2024", "env": dict(MODFILE), "is_workspace_member": False},
        {"display_name": "alloc", "root_module": f"{lib}/alloc/src/lib.rs",
         "deps": [{"crate": 0, "name": "core"}], "cfg": [], "edition": "2024",
         "env": dict(MODFILE), "is_workspace_member": False},
        {"display_name": "macros", "root_module": f"{src}/rust/macros/lib.rs", "deps": [],
         "cfg": [], "edition": "2021", "env": dict(MODFILE), "is_workspace_member": True,
         "is_proc_macro": True, "proc_macro_dylib_path": f"{build}/rust/libmacros.so"},
        {"display_name": "kernel", "root_module": f"{src}/rust/kernel/lib.rs",
         "deps": [{"crate": 0, "name": "core"}], "cfg": ['CONFIG_RUST="y"'],
         "edition": "2021", "env": dict(MODFILE, OBJTREE=build), "is_workspace_member": True,
         "source": {"include_dirs": [f"{src}/rust/kernel", f"{build}/rust"],
                    "exclude_dirs": []}},
    ]
    if driver:
        crates.append({"display_name": "my_driver", "root_module": "my_driver.rs",
                       "deps": [{"crate": 3, "name": "kernel"}], "cfg": [],
                       "edition": "2021", "env": dict(MODFILE), "is_workspace_member": True})
    return {"sysroot": "/usr", "crates": crates}


class HostPaths(unittest.TestCase):
    """host_paths(): the root's own files get the root's prefix, bound directories do not."""

    def setUp(self):
        self.data = rust_analyzer_crates.host_paths(
            kernel_json("/c", driver=True), "/c/root-1", ["/c", "/top", "/drv"])

    def crate(self, name):
        return next(c for c in self.data["crates"] if c["display_name"] == name)

    def test_sysroot_and_its_crates_are_under_the_root(self):
        self.assertEqual(self.data["sysroot"], "/c/root-1/usr")
        self.assertEqual(self.crate("core")["root_module"],
                         "/c/root-1/usr/lib/rustlib/src/rust/library/core/src/lib.rs")
        self.assertEqual(self.crate("alloc")["root_module"],
                         "/c/root-1/usr/lib/rustlib/src/rust/library/alloc/src/lib.rs")

    def test_bound_paths_are_kept(self):
        kernel = self.crate("kernel")
        self.assertEqual(kernel["root_module"], "/c/src/linux/rust/kernel/lib.rs")
        self.assertEqual(kernel["env"]["OBJTREE"], "/c/build/linux")
        self.assertEqual(kernel["source"]["include_dirs"],
                         ["/c/src/linux/rust/kernel", "/c/build/linux/rust"])
        self.assertEqual(self.crate("macros")["proc_macro_dylib_path"],
                         "/c/build/linux/rust/libmacros.so")

    def test_what_is_not_an_absolute_path_is_kept(self):
        self.assertEqual(self.crate("my_driver")["root_module"], "my_driver.rs")
        self.assertEqual(self.crate("kernel")["env"]["RUST_MODFILE"], MODFILE["RUST_MODFILE"])
        self.assertEqual(self.crate("kernel")["cfg"], ['CONFIG_RUST="y"'])
        self.assertEqual(self.crate("alloc")["deps"], [{"crate": 0, "name": "core"}])

    def test_a_bind_is_a_directory_not_a_prefix(self):
        fixed = rust_analyzer_crates.host_paths(["/top", "/top/x", "/topping/x", "/c/"],
                                                "/r", ["/top/", "/c"])
        self.assertEqual(fixed, ["/top", "/top/x", "/r/topping/x", "/c/"])


class Main(unittest.TestCase):
    """The script on a file system laid out as the cache is: it rewrites, then checks."""

    def setUp(self):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        self.cache = pathlib.Path(tmp.name) / "cache"
        self.root = self.cache / "root-1"
        self.top = pathlib.Path(tmp.name) / "top"
        self.driver = pathlib.Path(tmp.name) / "drv"
        lib = self.root / "usr/lib/rustlib/src/rust/library"
        src, build = self.cache / "src/linux", self.cache / "build/linux"
        for f in (self.root / "usr/bin/rustc",
                  self.root / "usr/libexec/rust-analyzer-proc-macro-srv",
                  lib / "core/src/lib.rs", lib / "alloc/src/lib.rs",
                  src / "rust/macros/lib.rs", src / "rust/kernel/lib.rs",
                  build / "rust/libmacros.so", self.top / "rust/mmap_prepare.rs",
                  self.driver / "my_driver.rs"):
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text("")
        self.json = self.driver / "rust-project.json"
        self.json.write_text(json.dumps(kernel_json(str(self.cache), driver=True)))
        self.sysroot = self.cache / "rust-analyzer" / "root-1"

    def run_main(self, *extra):
        args = ["--root", str(self.root), "--bound", str(self.cache), "--bound", str(self.top),
                "--bound", str(self.driver), "--host-sysroot", str(self.sysroot), *extra,
                str(self.top), str(self.driver)]
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            status = rust_analyzer_crates.main(args)
        return status, err.getvalue()

    def test_every_path_exists_on_the_host(self):
        status, err = self.run_main()
        self.assertEqual((status, err), (0, ""))
        data = json.loads(self.json.read_text())
        self.assertEqual(data["sysroot"], str(self.sysroot))
        order = [c["display_name"] for c in data["crates"]]
        names = dict(zip(order, data["crates"]))
        self.assertEqual(names["mmap_prepare"]["root_module"],
                         str(self.top / "rust/mmap_prepare.rs"))
        self.assertIn({"crate": order.index("mmap_prepare"), "name": "mmap_prepare"},
                      names["my_driver"]["deps"])
        self.assertEqual(rust_analyzer_crates.missing_paths(data, self.driver), [])

    def test_a_path_missing_on_the_host_fails(self):
        (self.root / "usr/lib/rustlib/src/rust/library/alloc/src/lib.rs").unlink()
        status, err = self.run_main()
        self.assertEqual(status, 1)
        self.assertIn(f"{self.root}/usr/lib/rustlib/src/rust/library/alloc/src/lib.rs "
                      "does not exist", err)

    def test_the_sysroot_runs_the_roots_programs(self):
        """rust-analyzer runs the sysroot's rustc and proc-macro server: scripts that run the
        root's, with the root's program interpreter and libraries, and no library sources."""
        status, _ = self.run_main()
        self.assertEqual(status, 0)
        for program in ("bin/rustc", "libexec/rust-analyzer-proc-macro-srv"):
            script = self.sysroot / program
            self.assertTrue(os.access(script, os.X_OK), script)
            words = shlex.split(script.read_text().splitlines()[-1])
            self.assertEqual(words[:2], ["exec", f"{self.root}/lib64/ld-linux-x86-64.so.2"])
            self.assertEqual(words[2:4], ["--library-path",
                                          f"{self.root}/usr/lib/x86_64-linux-gnu:{self.root}"
                                          "/usr/lib/rustlib/x86_64-unknown-linux-gnu/lib"])
            self.assertEqual(words[4:], [f"{self.root}/usr/{program}", "$@"])
        self.assertFalse((self.sysroot / "lib").exists())

    def test_a_missing_driver_crate_fails(self):
        (self.driver / "my_driver.rs").unlink()
        status, err = self.run_main()
        self.assertEqual(status, 1)
        self.assertIn(f"{self.driver}/my_driver.rs does not exist", err)


if __name__ == "__main__":
    unittest.main()
