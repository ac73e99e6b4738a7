# SPDX-License-Identifier: GPL-2.0
"""Unit tests for make bench's host side (kunit/bench/report.py, count.py), on synthetic input."""

import argparse
import contextlib
import io
import json
import os
import sys
import tempfile
import unittest
import unittest.mock

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bench'))

import count  # noqa: E402
import figures  # noqa: E402
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


# A second boot: the same case, slower, with the Rust variant compared with two anchors.
LOG2 = """\
rmp-bench-twin: ok 1 rust_binder_pages_user
rmp-bench-meta: rounds=2 target_ms=30 timer_ns=90
rmp-bench-case: case=mmap_munmap per=mapping desc="mmap + munmap"
rmp-bench: case=mmap_munmap n=1 variant=c anchor=- round=0 ops=10 ns=2000
rmp-bench: case=mmap_munmap n=1 variant=rust anchor=c round=0 ops=10 ns=2000
rmp-bench: case=mmap_munmap n=1 variant=c anchor=- round=1 ops=10 ns=4000
rmp-bench: case=mmap_munmap n=1 variant=rust anchor=c round=1 ops=10 ns=6000
rmp-bench-end
rmp-harness: END (mode bench)
"""


class ReportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)

    def write(self, text, name='boot1', counts=None, host=None):
        path = os.path.join(self.dir.name, name)
        os.makedirs(path, exist_ok=True)
        with open(os.path.join(path, 'console-bench.log'), 'w') as f:
            f.write(text)
        for fname, value in (('counts.json', counts), ('host.json', host)):
            if value is not None:
                with open(os.path.join(path, fname), 'w') as f:
                    json.dump(value, f)
        return path

    def test_parse_and_ratios(self):
        data = report.parse_log(os.path.join(self.write(LOG), 'console-bench.log'))
        self.assertTrue(data['complete'] and data['end'])
        self.assertEqual(data['twin'], 'ok 1 rust_binder_pages_user')
        rows = {r['variant']: r for r in report.summarize(report.merge([data])[('mmap_munmap', 1)])}
        # Per unit: c 100 and 200 ns, rust 300 and 200 ns.
        self.assertEqual(rows['c']['median'], 150)
        self.assertEqual(rows['rust']['median'], 250)
        # Per round: 300/100 and 200/200; never 250/150.
        vs = rows['rust']['vs']['c']
        self.assertEqual((vs['min'], vs['median'], vs['max']), (1.0, 2.0, 3.0))
        self.assertEqual(rows['c']['vs'], {})
        self.assertEqual(data['vmas'][('adjacent', 2, 'rust')], 2)

    def test_boots_pool_rounds_and_give_the_spread(self):
        boots = [report.parse_log(os.path.join(self.write(text, name), 'console-bench.log'))
                 for text, name in ((LOG, 'b1'), (LOG2, 'b2'))]
        rows = {r['variant']: r for r in report.summarize(report.merge(boots)[('mmap_munmap', 1)])}
        rust = rows['rust']
        # Boot 1: rust 300, 200 ns; boot 2: 200, 600 ns.
        self.assertEqual(rust['rounds'], 4)
        self.assertEqual(rust['median'], 250)
        self.assertEqual(rust['boot_medians'], [250, 400])
        self.assertAlmostEqual(rust['boot_spread'], 400 / 250 - 1)
        # Ratios per round: 3.0, 1.0 in boot 1; 1.0, 1.5 in boot 2.
        vs = rust['vs']['c']
        self.assertEqual(vs['rounds'], 4)
        self.assertEqual((vs['min'], vs['median'], vs['max']), (1.0, 1.25, 3.0))
        self.assertEqual(vs['boot_medians'], [2.0, 1.25])
        self.assertAlmostEqual(vs['boot_spread'], 0.6)

    def test_several_anchors(self):
        data = report.parse_log(os.path.join(self.write(
            'rmp-bench: case=s n=64 variant=p anchor=- round=0 ops=1 ns=400\n'
            'rmp-bench: case=s n=64 variant=c anchor=p round=0 ops=1 ns=200\n'
            'rmp-bench: case=s n=64 variant=r anchor=c,p round=0 ops=1 ns=100\n'),
            'console-bench.log'))
        rows = {r['variant']: r for r in report.summarize(report.merge([data])[('s', 64)])}
        self.assertEqual(rows['r']['anchors'], ['c', 'p'])
        self.assertEqual(rows['r']['vs']['c']['median'], 0.5)
        self.assertEqual(rows['r']['vs']['p']['median'], 0.25)

    def test_prefix_and_split_lines(self):
        data = report.parse_log(os.path.join(self.write(
            '[  2.0] foo rmp-bench: case=x n=0 variant=v anchor=- round=0 ops=1 ns=5\n'
            'rmp-bench: case=x n=0 variant=v anchor=- round=1 ops=1\n'), 'console-bench.log'))
        self.assertEqual(data['runs'][('x', 0)]['v']['rounds'], {0: 5.0})
        self.assertEqual(len(data['errors']), 1)

    def test_counts_of_boots_are_pooled(self):
        counts = [{'cases': {'mapped_c': {'instructions': [400, 402], 'steps': [1, 1]},
                             'mapped_rust': {'instructions': [680], 'steps': [2],
                                             'profile': [[680, 2, 'f [m]']]}}},
                  {'cases': {'mapped_c': {'instructions': [402], 'steps': [1]},
                             'mapped_rust': {'instructions': [682], 'steps': [2]}}}]
        merged = report.merge_counts(counts)
        c = merged['cases']['mapped_c']
        self.assertEqual(c['instructions'], [400, 402, 402])
        self.assertEqual(c['boots'], [401, 402])
        self.assertEqual(merged['cases']['mapped_rust']['profile'], [[680, 2, 'f [m]']])
        row = [r for r in report.count_rows(merged) if r[0] == 'mapped (1 MiB)'][0]
        self.assertEqual(row[1:4], ['402 (400-402)', '681 (680-682)', '1.69'])

    def test_main_writes_results_and_plot(self):
        out = os.path.join(self.dir.name, 'out')
        b1 = self.write(LOG, 'b1', host={'load_before': '0.10', 'load_after': '0.20',
                                         'qemu_before': 0, 'qemu_after': 0})
        b2 = self.write(LOG2, 'b2')
        argv = ['report.py', '--boot', b1, '--boot', b2, '--out', out]
        with contextlib.redirect_stdout(io.StringIO()) as text, \
                unittest.mock.patch.object(sys, 'argv', argv):
            self.assertEqual(report.main(), 0)
        self.assertIn('rust', text.getvalue())
        self.assertIn('load 0.10 before, 0.20 after', text.getvalue())
        self.assertIn('250 ns / 400 ns', text.getvalue())
        for name in ('results.txt', 'results.json', 'adjacent.svg'):
            self.assertTrue(os.path.exists(os.path.join(out, name)), name)
        with open(os.path.join(out, 'adjacent.svg')) as f:
            self.assertIn('rust (n VMAs)', f.read())
        with open(os.path.join(out, 'results.json')) as f:
            results = json.load(f)
        self.assertEqual(len(results['boots']), 2)

    def test_splat_and_missing_end_are_problems(self):
        out = os.path.join(self.dir.name, 'out')
        boot = self.write(LOG.replace('rmp-harness: END (mode bench)\n',
                                      'WARNING: CPU: 0 PID: 1 at mm/memory.c:1\n'))
        argv = ['report.py', '--boot', boot, '--counts-expected', '--out', out]
        with contextlib.redirect_stdout(io.StringIO()), \
                contextlib.redirect_stderr(io.StringIO()) as err, \
                unittest.mock.patch.object(sys, 'argv', argv):
            self.assertEqual(report.main(), 1)
        self.assertIn('splat', err.getvalue())
        self.assertIn('did not reach its end', err.getvalue())
        self.assertIn('no instruction counts', err.getvalue())


class FiguresTest(unittest.TestCase):
    def results(self, boots):
        """results.json as report.py makes it, from console logs and counts of boots."""
        self.dir = tempfile.TemporaryDirectory()
        self.addCleanup(self.dir.cleanup)
        dirs = []
        for i, (log, counts) in enumerate(boots):
            d = os.path.join(self.dir.name, 'boot-%d' % i)
            os.makedirs(d)
            with open(os.path.join(d, 'console-bench.log'), 'w') as f:
                f.write(log)
            with open(os.path.join(d, 'counts.json'), 'w') as f:
                json.dump(counts, f)
            dirs.append(d)
        _, results, problems, _, _ = report.report(dirs, 'make bench, a date\nKernel: a kernel\n')
        self.assertEqual(problems, [])
        return json.loads(json.dumps(results))

    COUNTS = {'cases': {'fault_c': {'instructions': [1700, 1600, 1600], 'steps': [1, 1, 1]},
                        'fault_rust': {'instructions': [1400, 660, 660],
                                       'steps': [38000, 4700, 4700]}}}

    def test_section_names_commit_and_command_and_gives_per_round_ratios(self):
        res = self.results([(LOG, self.COUNTS), (LOG2, self.COUNTS)])
        args = argparse.Namespace(stamp='abc1234', command='make bench-doc', section='')
        lines = figures.section(args, res, None, None, [])
        text = '\n'.join(lines)
        self.assertEqual((lines[0], lines[-1]), (figures.BEGIN, figures.END))
        self.assertIn('``make bench-doc`` at commit ``abc1234``', text)
        self.assertIn('from 2 boots', text)
        # rust against c: per-round ratios 3.0, 1.0 | 1.0, 1.5: median 1.25, boot medians.
        self.assertTrue(any('1.25   1.00-3.00    2.00 / 1.25' in line for line in lines), text)
        # An area's first fault apart from the later ones.
        first = [line for line in lines if "an area's first" in line][0]
        self.assertIn('1400', first)
        later = [line for line in lines if 'later ones' in line][0]
        self.assertIn('660', later)
        self.assertNotIn('1400', later)

    def test_replace_section_keeps_the_rest(self):
        doc = 'a\n%s\nold\n%s\nb\n' % (figures.BEGIN, figures.END)
        self.assertEqual(figures.replace_section(doc, [figures.BEGIN, 'new', figures.END]),
                         'a\n%s\nnew\n%s\nb\n' % (figures.BEGIN, figures.END))
        with self.assertRaises(SystemExit):
            figures.replace_section('no markers', [])

    def test_arm64_section_leaves_the_main_one(self):
        res = self.results([(LOG, self.COUNTS)])
        args = argparse.Namespace(stamp='abc1234', command='make bench-doc ARCH=arm64',
                                  section='arm64')
        lines = figures.section(args, res, None, None, [])
        begin, end = figures.markers('arm64')
        self.assertEqual((lines[0], lines[-1]), (begin, end))
        self.assertNotIn(figures.BEGIN, lines)
        self.assertIn('arm64 figures of abc1234', lines)
        doc = 'a\n%s\nx86\n%s\nb\n%s\nold\n%s\nc\n' % (figures.BEGIN, figures.END, begin, end)
        self.assertEqual(figures.replace_section(doc, [begin, 'new', end], 'arm64'),
                         'a\n%s\nx86\n%s\nb\n%s\nnew\n%s\nc\n'
                         % (figures.BEGIN, figures.END, begin, end))
        with self.assertRaises(SystemExit):
            figures.replace_section('a\n%s\nx86\n%s\n' % (figures.BEGIN, figures.END), [],
                                    'arm64')

    def test_sizes_and_times(self):
        self.assertEqual(figures.fmt_n('send', 65536), '64 KiB')
        self.assertEqual(figures.fmt_n('send', 64), '64 B')
        self.assertEqual(figures.fmt_n('fault', 256), '256 pages')
        self.assertEqual(figures.fmt_n('create_close', 0), '')
        self.assertEqual(figures.fmt_time(-18202), '-18.20 us')


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
