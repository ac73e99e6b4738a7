# SPDX-License-Identifier: GPL-2.0
"""Unit tests for make bench's host side (kunit/bench/report.py, count.py), on synthetic input."""

import contextlib
import io
import os
import sys
import tempfile
import unittest
import unittest.mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bench'))

import count  # noqa: E402
import report  # noqa: E402

LOG = """\
[    1.000000] Linux version 7.3.4
rmp-bench-twin: ok 1 rust_binder_pages_user
rmp-bench-meta: rounds=2 target_ms=30 timer_ns=80
rmp-bench-case: case=mmap_munmap per=mapping desc="mmap + munmap"
rmp-bench: case=mmap_munmap n=1 variant=c anchor=- round=0 ops=10 ns=1000
rmp-bench: case=mmap_munmap n=1 variant=rust anchor=c round=0 ops=10 ns=3000
rmp-bench: case=mmap_munmap n=1 variant=rust anchor=c round=1 ops=10 ns=2000
rmp-bench: case=mmap_munmap n=1 variant=c anchor=- round=1 ops=10 ns=2000
rmp-bench-case: case=adjacent per=set desc="n mappings"
rmp-bench-vmas: case=adjacent n=2 variant=c vmas=1
rmp-bench-vmas: case=adjacent n=2 variant=rust vmas=2
rmp-bench: case=adjacent n=2 variant=c anchor=- round=0 ops=1 ns=4000
rmp-bench: case=adjacent n=2 variant=rust anchor=c round=0 ops=1 ns=8000
rmp-bench-end
rmp-harness: END (mode bench)
"""


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, text):
        path = os.path.join(self.dir.name, 'console.log')
        with open(path, 'w') as f:
            f.write(text)
        return path

    def test_parse_and_ratios(self):
        data = report.parse_log(self.write(LOG))
        self.assertTrue(data['complete'] and data['end'])
        self.assertEqual(data['twin'], 'ok 1 rust_binder_pages_user')
        rows = {r['variant']: r for r in report.summarize(data['runs'][('mmap_munmap', 1)])}
        # Per unit: c 100 and 200 ns, rust 300 and 200 ns.
        self.assertEqual(rows['c']['median'], 150)
        self.assertEqual(rows['rust']['median'], 250)
        self.assertAlmostEqual(rows['rust']['ratio'], 250 / 150)
        self.assertEqual(rows['rust']['round_ratio'], (1.0, 3.0))
        self.assertNotIn('ratio', rows['c'])
        self.assertEqual(data['vmas'][('adjacent', 2, 'rust')], 2)

    def test_prefix_and_split_lines(self):
        data = report.parse_log(self.write(
            '[  2.0] foo rmp-bench: case=x n=0 variant=v anchor=- round=0 ops=1 ns=5\n'
            'rmp-bench: case=x n=0 variant=v anchor=- round=1 ops=1\n'))
        self.assertEqual(data['runs'][('x', 0)]['v']['rounds'], {0: 5.0})
        self.assertEqual(len(data['errors']), 1)

    def test_main_writes_results_and_plot(self):
        out = os.path.join(self.dir.name, 'out')
        argv = ['report.py', '--log', self.write(LOG), '--out', out]
        with contextlib.redirect_stdout(io.StringIO()) as text, \
                unittest.mock.patch.object(sys, 'argv', argv):
            self.assertEqual(report.main(), 0)
        self.assertIn('rust', text.getvalue())
        for name in ('results.txt', 'results.json', 'adjacent.svg'):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        with open(os.path.join(out, 'adjacent.svg')) as f:
            self.assertIn('rust (n VMAs)', f.read())

    def test_splat_and_missing_end_are_problems(self):
        out = os.path.join(self.dir.name, 'out')
        log = self.write(LOG.replace('rmp-harness: END (mode bench)\n',
                                     'WARNING: CPU: 0 PID: 1 at mm/memory.c:1\n'))
        argv = ['report.py', '--log', log, '--out', out]
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()) as err, \
                unittest.mock.patch.object(sys, 'argv', argv):
            self.assertEqual(report.main(), 1)
        self.assertIn('splat', err.getvalue())
        self.assertIn('did not reach its end', err.getvalue())


class CountTest(unittest.TestCase):
    SYMBOLS = [
        (0x1000, 'secretmem_mmap_prepare', None),
        (0x2000, '_RNvMs1_NtCsX_12mmap_prepare6deviceINtB5_20MmapMiscDeviceVTableNtCsY_'
                 '14rust_secretmem9SecretMemE12mmap_prepareB1a_', 'rust_secretmem'),
        (0x3000, '_RNvMs1_NtCsX_12mmap_prepare6deviceINtB5_20MmapMiscDeviceVTableNtCsY_'
                 '14rust_secretmem15StrictSecretMemE12mmap_prepareB1a_', 'rust_secretmem'),
        (0x2ff0, '__pfx__RNvMs1_NtCsX_12mmap_prepare6deviceINtB5_20MmapMiscDeviceVTableNtCsY_'
                 '14rust_secretmem9SecretMemE12mmap_prepareB1a_', 'rust_secretmem'),
        # A cold path of driver_warn! instantiated for the trampoline names it too.
        (0x4000, '_RINvNtCsX_12mmap_prepare3log9cold_pathNCNvMs1_NtB4_6deviceINtBS_'
                 '20MmapMiscDeviceVTableNtCsY_14rust_secretmem9SecretMemE12mmap_prepare0EB1k_',
                 'rust_secretmem'),
    ]

    def test_resolve_picks_the_one_trampoline(self):
        self.assertEqual(count.resolve(self.SYMBOLS, 'mmap_prepare_c')[0], 0x1000)
        self.assertEqual(count.resolve(self.SYMBOLS, 'mmap_prepare_rust')[0], 0x2000)
        with self.assertRaises(LookupError):
            count.resolve(self.SYMBOLS, 'fault_rust')

    def test_profile_charges_each_step_to_the_instruction_it_ran(self):
        symbols = [(0x100, 'f', None), (0x200, 'memset', None)]
        # f at 0x100, 0x104 calls memset, whose rep stosb (0x208) iterates three times, then
        # returns to f, which returns to its caller (0x50).
        trace = [0x100, 0x104, 0x200, 0x208, 0x208, 0x208, 0x20a, 0x108, 0x50]
        self.assertEqual(count.profile(symbols, trace),
                         [[3, 5, 'memset [kernel]'], [3, 3, 'f [kernel]']])

    def test_run_length_decoding(self):
        self.assertEqual(count.decode_rle(b'0* '), b'0000')
        self.assertEqual(count.decode_rle(b'ab'), b'ab')


if __name__ == '__main__':
    unittest.main()
