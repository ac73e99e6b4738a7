# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the Binder battery's table (kunit/binder_table.py)."""

import contextlib
import io
import os
import tempfile
import unittest

import binder_table

C_LOG = """\
[    1.000000] Linux version 7.3
    # Subtest: rmp_binder_c
    ok 1 binder_version
    # reply_after_receiver_unmaps: expected on c: BR_DEAD_REPLY (close clears the VMA)
    ok 2 reply_after_receiver_unmaps
"""

RUST_LOG = """\
    # Subtest: rmp_binder_rust
    ok 1 binder_version
    # reply_after_receiver_unmaps: expected on rust: BR_FAILED_REPLY (no close)
    # reply_after_receiver_unmaps: got BR_DEAD_REPLY
    not ok 2 reply_after_receiver_unmaps
"""


class TableTest(unittest.TestCase):
    """One row per case, one column per driver, the differing cases numbered with reasons."""

    def setUp(self):
        self.paths = []
        for text in (C_LOG, RUST_LOG):
            fd, path = tempfile.mkstemp()
            with os.fdopen(fd, "w") as f:
                f.write(text)
            self.paths.append(path)

    def tearDown(self):
        for path in self.paths:
            os.unlink(path)

    def columns(self):
        return [(drv,) + binder_table.read_suite(path)
                for drv, path in zip(("c", "rust"), self.paths)]

    def test_rows_and_cells(self):
        lines = binder_table.table(self.columns())
        self.assertEqual(lines[0], "Binder battery: c: 2 of 2 pass, rust: 1 of 2 pass")
        self.assertRegex(lines[2], r"^binder_version +ok +ok$")
        self.assertRegex(lines[3], r"^reply_after_receiver_unmaps \[1\] +ok +FAIL$")
        self.assertIn("[1] c: BR_DEAD_REPLY (close clears the VMA)", lines)
        self.assertIn("[1] rust: BR_FAILED_REPLY (no close)", lines)

    def test_skipped_case_is_not_a_pass(self):
        cols = self.columns()
        path = self.paths[0]
        with open(path, "a") as f:
            f.write("    ok 3 binderfs_stress # SKIP no user namespaces\n")
        cols[0] = ("c",) + binder_table.read_suite(path)
        lines = binder_table.table(cols)
        self.assertEqual(lines[0], "Binder battery: c: 2 of 3 pass, rust: 1 of 2 pass")
        self.assertRegex(lines[4], r"^binderfs_stress +SKIP +-$")

    def test_case_missing_on_a_driver(self):
        cols = self.columns()
        del cols[1][1]["binder_version"]
        lines = binder_table.table(cols)
        self.assertRegex(lines[2], r"^binder_version +ok +-$")

    def test_third_driver_column(self):
        """A third driver (the port) gets its own column and its own reason lines."""
        ported = RUST_LOG.replace("rmp_binder_rust", "rmp_binder_ported").replace(
            "expected on rust: BR_FAILED_REPLY (no close)",
            "expected on ported: BR_DEAD_REPLY (close)").replace(
            "    # reply_after_receiver_unmaps: got BR_DEAD_REPLY\n    not ok", "    ok")
        fd, path = tempfile.mkstemp()
        with os.fdopen(fd, "w") as f:
            f.write(ported)
        self.paths.append(path)
        cols = self.columns() + [("ported",) + binder_table.read_suite(path)]
        lines = binder_table.table(cols)
        self.assertEqual(lines[0], "Binder battery: c: 2 of 2 pass, rust: 1 of 2 pass, "
                         "ported: 2 of 2 pass")
        self.assertRegex(lines[1], r"^case +c Binder +rust Binder +ported Binder$")
        self.assertRegex(lines[3], r"^reply_after_receiver_unmaps \[1\] +ok +FAIL +ok$")
        self.assertIn("[1] ported: BR_DEAD_REPLY (close)", lines)

    def test_empty_log_fails(self):
        with open(self.paths[1], "w", encoding="utf-8") as f:
            f.write("no KTAP here\n")
        with contextlib.redirect_stdout(io.StringIO()):
            status = binder_table.main([f"c={self.paths[0]}", f"rust={self.paths[1]}"])
        self.assertEqual(status, 1)


if __name__ == "__main__":
    unittest.main()
