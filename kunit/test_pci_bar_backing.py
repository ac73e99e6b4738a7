# SPDX-License-Identifier: GPL-2.0
"""Unit tests for the host's check of the ivshmem backing file (kunit/pci_bar_backing.py)."""

import contextlib
import io
import os
import tempfile
import unittest

import pci_bar_backing as backing

SIZE = 256 * backing.PAGE


class BackingFileTest(unittest.TestCase):
    """fill writes the host pattern; check wants exactly the guest's pages changed."""

    def setUp(self):
        fd, self.path = tempfile.mkstemp()
        os.close(fd)
        backing.fill(self.path, SIZE)

    def tearDown(self):
        os.unlink(self.path)

    def write_page(self, index, data):
        with open(self.path, "r+b") as f:
            f.seek(index * backing.PAGE)
            f.write(data)

    def run_check(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = backing.main(["check", self.path])
        return status, out.getvalue()

    def test_fill_is_the_host_pattern(self):
        with open(self.path, "rb") as f:
            data = f.read()
        self.assertEqual(len(data), SIZE)
        self.assertEqual(data[5 * backing.PAGE + 9], backing.host_byte(5 * backing.PAGE + 9))
        self.assertEqual(backing.host_byte(0), 3)
        self.assertEqual(backing.host_byte(backing.PAGE + 1), (61 + 7 + 3) & 0xFF)

    def test_untouched_file_fails(self):
        status, out = self.run_check()
        self.assertEqual(status, 1)
        self.assertIn("not ok 2 uncached_write_reached_the_file", out)
        self.assertIn("ok 5 other_pages_keep_the_host_pattern", out)
        self.assertTrue(out.rstrip().endswith("not ok 1 pci_bar_host"))

    def test_guest_pages_pass(self):
        for index, tag, _ in backing.GUEST_PAGES:
            self.write_page(index, backing.guest_page(index, tag))
        status, out = self.run_check()
        self.assertEqual(status, 0, out)
        self.assertTrue(out.rstrip().endswith("ok 1 pci_bar_host"))
        self.assertNotIn("not ok", out)

    def test_stray_write_fails(self):
        for index, tag, _ in backing.GUEST_PAGES:
            self.write_page(index, backing.guest_page(index, tag))
        self.write_page(40, b"\0")
        status, out = self.run_check()
        self.assertEqual(status, 1)
        self.assertIn("# other_pages_keep_the_host_pattern: 1 pages changed, first [40]", out)

    def test_missing_file_fails(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            status = backing.main(["check", self.path + ".missing"])
        self.assertEqual(status, 1)
        self.assertIn("not ok 1 backing_file_readable", out.getvalue())


if __name__ == "__main__":
    unittest.main()
