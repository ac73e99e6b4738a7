# SPDX-License-Identifier: GPL-2.0
"""Unit tests for console_to_ktap.py, on small synthetic console logs."""

import contextlib
import io
import os
import tempfile
import unittest

import console_to_ktap

BOOT = """\
[    0.500000] KTAP version 1
[    0.500001] 1..2
[    0.500002]     KTAP version 1
[    0.500003]     # Subtest: boot_a
[    0.500004]     1..1
[    0.500005]     ok 1 case_a
[    0.500006] ok 1 boot_a
[    0.500007]     KTAP version 1
[    0.500008]     # Subtest: boot_b
[    0.500009]     1..2
[    0.500010]     ok 1 case_b1
[    0.500011]     ok 2 case_b2 # SKIP not here
[    0.500012] # boot_b: pass:1 fail:0 skip:1 total:2
[    0.500013] ok 2 boot_b
"""

MODULE = """\
[    5.000000] KTAP version 1
[    5.000001] 1..1
[    5.000002]     KTAP version 1
[    5.000003]     # Subtest: rust_mod
[    5.000004]     1..1
[    5.000005]     ok 1 rust_case
[    5.000006] ok 1 rust_mod
"""

USERSPACE = """\
TAP version 14
1..2
ok 1 user_one
ok 2 user_two # SKIP no hardware
"""

END = "rmp-harness: DONE\n"

KMEMLEAK_CLEAN = """\
rmp-harness: kmemleak report begin
rmp-harness: kmemleak report end: 0 unreferenced objects
"""

KMEMLEAK_CANARY = """\
rmp-harness: kmemleak canary planted
rmp-harness: kmemleak report begin
unreferenced object 0xffff888003aa8e00 (size 32):
  comm "modules_reload", pid 300, jiffies 4294895121
  hex dump (first 32 bytes):
    52 4d 50 2d 43 41 4e 41 52 59 2d 4c 45 41 4b 21  RMP-CANARY-LEAK!
    70 6c 61 6e 74 65 64 20 6f 6e 20 70 75 72 70 6f  planted on purpo
  backtrace (crc 89a76af1):
    __kmalloc_cache_noprof+0x2fa/0x550
    0xffffffffc040d39a
    __x64_sys_ioctl+0x7b/0x190
rmp-harness: kmemleak report end: 1 unreferenced objects, 1 canaries
"""

KMEMLEAK_LEAK = """\
rmp-harness: kmemleak report begin
unreferenced object 0xffff888012345678 (size 64):
  comm "insmod", pid 123, jiffies 4294937296
  hex dump (first 32 bytes):
    00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00  ................
    6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b 6b  kkkkkkkkkkkkkkkk
  backtrace (crc 1a2b3c4d):
    kmemleak_alloc+0x4a/0x80
    __kmalloc_cache_noprof+0x2b5/0x3d0
    _RNvNtCs1_17rust_binder_pages4send+0x3f/0x1a0 [rust_binder_pages]
    _RNvNtCs1_17rust_binder_pages5ioctl+0x10/0x20 [rust_binder_pages]
    __x64_sys_ioctl+0x7b/0x190
    do_syscall_64+0x7b/0x190
unreferenced object (percpu) 0x00006a5b40012340 (size 8):
  comm "modules_reload", pid 200, jiffies 4294999999
  backtrace (crc 0):
    pcpu_alloc_noprof+0x300/0x900
    0xffffffffc0a01234
    load_module+0x1f0/0x2a0
rmp-harness: kmemleak report end: 2 unreferenced objects
"""


class ConsoleToKtapTest(unittest.TestCase):
    """Runs main() on a log written to a temporary directory."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.out = os.path.join(self.tmp.name, "merged.ktap")

    def run_script(self, log, *args):
        """Write LOG, run the script; return (status, stdout, stderr)."""
        path = os.path.join(self.tmp.name, "console.log")
        with open(path, "wb") as f:
            f.write(log.encode("utf-8") if isinstance(log, str) else log)
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = console_to_ktap.main([path, "--out", self.out, *args])
        return status, stdout.getvalue(), stderr.getvalue()

    def merged(self):
        """Return the lines of the merged file."""
        with open(self.out, encoding="utf-8") as f:
            return f.read().splitlines()

    def test_merge_renumbers_and_strips_timestamps(self):
        status, out, err = self.run_script(BOOT + MODULE + USERSPACE)
        self.assertEqual((status, err), (0, ""))
        self.assertIn("3 documents, 5 suites merged into", out)
        self.assertEqual(self.merged(), [
            "KTAP version 1",
            "1..5",
            "    KTAP version 1",
            "    # Subtest: boot_a",
            "    1..1",
            "    ok 1 case_a",
            "ok 1 boot_a",
            "    KTAP version 1",
            "    # Subtest: boot_b",
            "    1..2",
            "    ok 1 case_b1",
            "    ok 2 case_b2 # SKIP not here",
            "# boot_b: pass:1 fail:0 skip:1 total:2",
            "ok 2 boot_b",
            "    KTAP version 1",
            "    # Subtest: rust_mod",
            "    1..1",
            "    ok 1 rust_case",
            "ok 3 rust_mod",
            "ok 4 user_one",
            "ok 5 user_two # SKIP no hardware",
        ])

    def test_interleaved_unrelated_lines_and_junk(self):
        log = MODULE.replace(
            "[    5.000004]", "[    5.000003] rust_mod: loaded\n"
            "\x1b[0m[    5.000003] random: crng init done\r\n[    5.000004]")
        log = b"\x00\xff\xfe junk\r\n" + log.encode() + b"systemd[1]: \x1b[32mok\x1b[0m\n"
        status, out, err = self.run_script(log)
        self.assertEqual((status, err), (0, ""))
        merged = self.merged()
        self.assertEqual(merged[1], "1..1")
        self.assertEqual(merged[-1], "ok 1 rust_mod")
        self.assertNotIn("rust_mod: loaded", "\n".join(merged))

    def test_failing_suite_is_not_a_script_error(self):
        log = MODULE.replace("    ok 1 rust_case", "    not ok 1 rust_case")
        log = log.replace("] ok 1 rust_mod", "] not ok 1 rust_mod")
        status, out, err = self.run_script(log, "--expect", "rust_mod")
        self.assertEqual((status, err), (0, ""))
        self.assertEqual(self.merged()[-1], "not ok 1 rust_mod")

    def test_expected_suites(self):
        expect = os.path.join(self.tmp.name, "expect")
        with open(expect, "w", encoding="utf-8") as f:
            f.write("# suites\nboot_a\nrust_mod  # module\n\nmissing_file_suite\n")
        status, out, err = self.run_script(
            BOOT + MODULE, "--expect", "boot_b", "missing_arg_suite",
            "--expect-file", expect)
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines(), [
            "console_to_ktap: ERROR: expected suite not found: missing_arg_suite",
            "console_to_ktap: ERROR: expected suite not found: missing_file_suite",
        ])

    def test_duplicate_suite(self):
        status, out, err = self.run_script(MODULE + MODULE)
        self.assertEqual(status, 1)
        self.assertIn("ERROR: suite appears 2 times: rust_mod", err)
        self.assertEqual(self.merged()[-1], "ok 2 rust_mod")

    def test_truncated_document(self):
        crashed = "".join(BOOT.splitlines(True)[:10])  # boot_b never finishes
        status, out, err = self.run_script(crashed + MODULE)
        self.assertEqual(status, 1)
        self.assertIn("ERROR: truncated KTAP document at log line 1: "
                      "1 of 2 results, last suite seen: boot_b", err)
        merged = self.merged()
        self.assertEqual(merged[1], "1..3")
        self.assertIn("not ok 2 boot_b # truncated (crash?)", merged)
        self.assertEqual(merged[-1], "ok 3 rust_mod")

    def test_truncated_at_end_of_log(self):
        status, out, err = self.run_script(BOOT + "KTAP version 1\n1..3\nok 1 x\n")
        self.assertEqual(status, 1)
        self.assertIn("1 of 3 results, last suite seen: x", err)

    def test_no_document(self):
        status, out, err = self.run_script("Linux version 7.3\n")
        self.assertEqual(status, 1)
        self.assertIn("ERROR: no KTAP document found", err)
        self.assertEqual(self.merged(), ["KTAP version 1", "1..0"])

    def test_warning_splat(self):
        log = MODULE + ("[    6.000000] WARNING: CPU: 0 PID: 1 at mm/mmap.c:42 f+0x1/0x2\n"
                        "[    6.000001] Call Trace:\n")
        status, out, err = self.run_script(log)
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines(), [
            "console_to_ktap: ERROR: 2 kernel splat lines in log (first 2 follow)",
            "console_to_ktap: ERROR: splat at log line 8: "
            "WARNING: CPU: 0 PID: 1 at mm/mmap.c:42 f+0x1/0x2",
            "console_to_ktap: ERROR: splat at log line 9: Call Trace:",
        ])

    def test_arm64_splat(self):
        log = MODULE + ("[    6.000000] Unable to handle kernel paging request at virtual "
                        "address dead000000000108\n"
                        "[    6.000001] Internal error: Oops: 0000000096000044 [#1]  SMP\n"
                        "[    6.000002] Call trace:\n"
                        "[    6.000003]  f+0x1/0x2 (P)\n")
        status, out, err = self.run_script(log)
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines(), [
            "console_to_ktap: ERROR: 2 kernel splat lines in log (first 2 follow)",
            "console_to_ktap: ERROR: splat at log line 9: "
            "Internal error: Oops: 0000000096000044 [#1]  SMP",
            "console_to_ktap: ERROR: splat at log line 10: Call trace:",
        ])

    def test_kasan_splat_and_limit(self):
        banner = "[    7.000000] " + "=" * 66 + "\n"
        kasan = "[    7.000001] BUG: KASAN: slab-out-of-bounds in f+0x1/0x2\n"
        log = banner + kasan * 12 + "DEBUG: not a splat\nWhoops\n"
        status, out, err = self.run_script(MODULE + log)
        self.assertEqual(status, 1)
        lines = err.splitlines()
        self.assertIn("12 kernel splat lines in log (first 10 follow)", lines[0])
        self.assertEqual(len(lines), 11)  # the count line, then 10 splat lines
        self.assertIn("splat at log line 9: BUG: KASAN: slab-out-of-bounds", lines[1])

    def test_harness_fail_line(self):
        log = MODULE + "rmp-harness: FAIL: insmod rust_mod2.ko\n" + END
        status, out, err = self.run_script(log, "--require-end", "rmp-harness: DONE")
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines(), [
            "console_to_ktap: ERROR: rmp-harness: FAIL: insmod rust_mod2.ko"])

    def test_end_marker(self):
        status, out, err = self.run_script(MODULE + END, "--require-end", "rmp-harness: DONE")
        self.assertEqual((status, err), (0, ""))
        status, out, err = self.run_script(MODULE, "--require-end", "rmp-harness: DONE")
        self.assertEqual(status, 1)
        self.assertIn("ERROR: guest did not finish (crash or timeout?)", err)

    def test_kmemleak_clean_report(self):
        status, out, err = self.run_script(MODULE + KMEMLEAK_CLEAN + END,
                                           "--require-end", "rmp-harness: DONE")
        self.assertEqual((status, err), (0, ""))

    def test_kmemleak_leaks_name_the_object_and_module(self):
        status, out, err = self.run_script(MODULE + KMEMLEAK_LEAK + END,
                                           "--require-end", "rmp-harness: DONE")
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines(), [
            "console_to_ktap: ERROR: kmemleak: unreferenced object 0xffff888012345678 "
            "(size 64, comm \"insmod\") at log line 9, allocated at "
            "_RNvNtCs1_17rust_binder_pages4send <- _RNvNtCs1_17rust_binder_pages5ioctl <- "
            "__x64_sys_ioctl [module rust_binder_pages]",
            "console_to_ktap: ERROR: kmemleak: unreferenced object 0x00006a5b40012340 "
            "(size 8, comm \"modules_reload\") at log line 21, allocated at "
            "0xffffffffc0a01234 <- load_module [a frame in an unknown module, unloaded since]",
        ])
        # The report's indented lines do not leak into the merged KTAP.
        self.assertEqual(self.merged()[-1], "ok 1 rust_mod")
        self.assertNotIn("6b 6b", "\n".join(self.merged()))

    def test_kmemleak_names_the_unloaded_module_of_a_bare_address(self):
        loaded = ("rmp-harness: module rust_secretmem size 65536 at 0xffffffffc0a00000\n"
                  "rmp-harness: module rust_mmap_prepare size 8192 at 0xffffffffc0900000\n")
        status, out, err = self.run_script(loaded + MODULE + KMEMLEAK_LEAK)
        self.assertEqual(status, 1)
        self.assertIn("allocated at 0xffffffffc0a01234 (rust_secretmem) <- load_module "
                      "[module rust_secretmem]", err)
        self.assertNotIn("unknown module", err)

    def test_kmemleak_canary_is_required_and_not_an_error(self):
        status, out, err = self.run_script(MODULE + KMEMLEAK_CANARY)
        self.assertEqual((status, err), (0, ""))
        missing = KMEMLEAK_CANARY.split("rmp-harness: kmemleak report begin\n")[0] + KMEMLEAK_CLEAN
        status, out, err = self.run_script(MODULE + missing)
        self.assertEqual(status, 1)
        self.assertEqual(err.splitlines(), [
            "console_to_ktap: ERROR: kmemleak did not report the leak canary planted on "
            "purpose: the leak scan cannot be trusted"])
        # A leak beside the canary is still one.
        status, out, err = self.run_script(MODULE + "rmp-harness: kmemleak canary planted\n" +
                                           KMEMLEAK_LEAK.replace(
                                               "rmp-harness: kmemleak report end",
                                               KMEMLEAK_CANARY.split("report begin\n")[1]))
        self.assertEqual(status, 1)
        self.assertEqual(len(err.splitlines()), 2)
        self.assertNotIn("canary", err)

    def test_kmemleak_many_leaks_are_counted_and_capped(self):
        one = KMEMLEAK_LEAK.split("\n", 1)[1].split("unreferenced object (percpu)")[0]
        log = MODULE + "rmp-harness: kmemleak report begin\n" + one * 12 + \
            "rmp-harness: kmemleak report end: 12 unreferenced objects\n"
        status, out, err = self.run_script(log)
        self.assertEqual(status, 1)
        lines = err.splitlines()
        self.assertEqual(len(lines), 11)
        self.assertIn("kmemleak: 12 unreferenced objects (first 10 follow)", lines[0])

    def test_kmemleak_report_cut_short(self):
        cut = "".join(KMEMLEAK_LEAK.splitlines(True)[:5])
        status, out, err = self.run_script(MODULE + cut)
        self.assertEqual(status, 1)
        self.assertIn("ERROR: kmemleak: unreferenced object 0xffff888012345678", err)
        self.assertIn("ERROR: kmemleak report cut short at log line 8", err)

    def test_kmemleak_binder_boots_have_reports_of_their_own(self):
        # The test boot's report, then a Binder boot's, labelled with its driver (scripts/
        # binder.sh appends each Binder boot's console to the test's log).
        binder = lambda report: report.replace(
            "rmp-harness: kmemleak report begin",
            "rmp-harness: kmemleak report begin (Binder boot, driver rust)")
        status, out, err = self.run_script(MODULE + KMEMLEAK_CANARY + binder(KMEMLEAK_CANARY))
        self.assertEqual((status, err), (0, ""))
        # A leak in the Binder boot names it; the test boot's clean report does not hide it.
        status, out, err = self.run_script(MODULE + KMEMLEAK_CANARY + binder(KMEMLEAK_LEAK))
        self.assertEqual(status, 1)
        self.assertEqual(len(err.splitlines()), 2)
        self.assertTrue(all(line.endswith("in the Binder boot, driver rust")
                            for line in err.splitlines()), err)
        # A leak in the test boot is not lost when a Binder boot's report follows, and is
        # not named after it.
        status, out, err = self.run_script(MODULE + KMEMLEAK_LEAK + binder(KMEMLEAK_CANARY))
        self.assertEqual(status, 1)
        self.assertEqual(len(err.splitlines()), 2)
        self.assertNotIn("Binder", err)
        # Each boot needs its own canary: the test boot's does not vouch for the Binder boot's
        # scan, and modules loaded in one boot do not name addresses in another.
        status, out, err = self.run_script(
            "rmp-harness: module rust_secretmem size 65536 at 0xffffffffc0a00000\n" + MODULE +
            KMEMLEAK_CANARY + "rmp-harness: kmemleak canary planted\n" +
            binder(KMEMLEAK_CLEAN) + binder(KMEMLEAK_LEAK))
        self.assertEqual(status, 1)
        self.assertIn("kmemleak did not report the leak canary planted on purpose in the "
                      "Binder boot, driver rust: the leak scan cannot be trusted", err)
        self.assertNotIn("(rust_secretmem)", err)


if __name__ == "__main__":
    unittest.main()
