#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the figures section of Documentation/benchmarks.rst from `make bench` results.

`make bench-doc` runs make bench three times on one checkout and calls this with the three
results.json files report.py wrote:

  --main     the figures: -cpu max, the bench kernel as configured (RUST_INLINE_HELPERS);
  --cpu      some cases again under another CPU model (QEMU's default, qemu64);
  --helpers  some cases again on a bench kernel without RUST_INLINE_HELPERS.

The section, between the BEGIN and END comment lines, is replaced whole; nothing else of the
file is touched. Every figure in it comes from those files, and it names the commit and the
command that produced them. Ratios are those report.py made round by round (a variant's time
over its anchor's in the same round of the same boot), never a ratio of two medians.

`make bench-doc ARCH=arm64` runs only the first configuration on arm64 and calls this with
--section arm64: its own section, between the BEGIN and END lines named bench-figures-arm64.
The Binder boots of make bench (x86_64) have their own section too, bench-figures-binder,
written from their results.json with --section binder --main FILE.

Usage: figures.py --main FILE [--cpu FILE] [--helpers FILE] [--listing TITLE=FILE ...]
                  [--section NAME] --stamp COMMIT --command CMD --doc FILE
"""

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys

BEGIN = '.. BEGIN bench-figures: written by make bench-doc (kunit/bench/figures.py), not by hand'
END = '.. END bench-figures'


def markers(name):
    """The BEGIN and END lines of the section NAME ('' for the main one)."""
    if not name:
        return BEGIN, END
    if name == 'binder':
        return ('.. BEGIN bench-figures-binder: written by make bench-doc '
                '(kunit/bench/figures.py), not by hand', '.. END bench-figures-binder')
    return ('.. BEGIN bench-figures-%s: written by make bench-doc ARCH=%s '
            '(kunit/bench/figures.py), not by hand' % (name, name),
            '.. END bench-figures-%s' % name)

# Cases whose n is a message size in bytes; the others count pages (or mappings).
BYTE_CASES = ('send', 'free', 'binder_life', 'binder_rtt', 'binder_oneway')
# The values of n of the adjacent case the document shows (results.txt has all of them).
ADJACENT_NS = (1, 64, 4096)
# The kernel's allocator entry points, whose share of a hook's instructions is summed.
ALLOCATOR = re.compile(r'^(__kmalloc|kmalloc|__kvmalloc|kvmalloc|krealloc|kvrealloc|kfree|'
                       r'kvfree|is_vmalloc_addr|__do_kmalloc|kmem_cache_alloc)')


def fmt_time(ns):
    if abs(ns) >= 1e6:
        return '%.2f ms' % (ns / 1e6)
    if abs(ns) >= 1e3:
        return '%.2f us' % (ns / 1e3)
    return '%.0f ns' % ns


def fmt_n(case, n):
    if not n:
        return ''
    if case in BYTE_CASES:
        for unit, size in (('MiB', 1 << 20), ('KiB', 1 << 10)):
            if n >= size and n % size == 0:
                return '%d %s' % (n // size, unit)
        return '%d B' % n
    if case == 'adjacent':
        return '%d' % n
    return '%d page%s' % (n, '' if n == 1 else 's')


def boots_of(values, fmt):
    return ' / '.join(fmt(v) for v in values)


def pct(x):
    return '%.0f%%' % (100 * x)


def ratio(r):
    return '%.2f' % r


def literal(lines):
    """An rst literal block of lines (after a paragraph ending in '::')."""
    return [''] + ['  ' + line if line else '' for line in lines] + ['']


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    out = ['  '.join(str(x).ljust(w) for x, w in zip(headers, widths)).rstrip(),
           '  '.join('-' * w for w in widths)]
    out += ['  '.join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in rows]
    return out


def by_key(results):
    return {(r['case'], r['n'], r['variant']): r for r in results['results']}


def case_order(results):
    return [c['case'] for c in results.get('cases', [])]


def per_of(results):
    return {c['case']: c['per'] for c in results.get('cases', [])}


def timing_rows(results, cases=None, nboots=None):
    """Rows of the timing table: one per variant and n, one more per further anchor."""
    rows = []
    per = per_of(results)
    vmas = {(v['case'], v['n'], v['variant']): v['vmas'] for v in results.get('vmas', [])}
    for case in cases or case_order(results):
        last = None
        for r in results['results']:
            if r['case'] != case or (case == 'adjacent' and r['n'] not in ADJACENT_NS):
                continue
            label = '%s (%s)' % (case, per.get(case, '?')) if last != case else ''
            last = case
            name = r['variant']
            if case == 'adjacent':
                name += ' (%s VMA%s)' % (vmas.get((case, r['n'], name), '?'),
                                         '' if vmas.get((case, r['n'], name)) == 1 else 's')
            lead = [label, fmt_n(case, r['n']), name, fmt_time(r['median']),
                    boots_of(r['boot_medians'], fmt_time), pct(r['boot_spread'])]
            if not r['vs']:
                rows.append(lead + ['(anchor)', '', '', ''])
            for i, (anchor, s) in enumerate(r['vs'].items()):
                cells = [anchor, ratio(s['median']), '%s-%s' % (ratio(s['min']), ratio(s['max'])),
                         boots_of(s['boot_medians'], ratio)]
                rows.append((lead if i == 0 else [''] * len(lead)) + cells)
    return rows


TIMING_HEADERS = ['case (per)', 'n', 'variant', 'median', 'median by boot', 'spread', 'vs',
                  'ratio', 'round range', 'ratio by boot']


def calls(results, case, key, which):
    """The figures (key: instructions or steps) of every boot's calls of a case: all of
    them, the first of each boot, or the later ones."""
    out = []
    for boot in results.get('counts_by_boot') or []:
        values = boot.get('cases', {}).get(case, {}).get(key, [])
        out += values if which == 'all' else values[:1] if which == 'first' else values[1:]
    return out


# The hooks counted; a fault's first call of an area and the later ones apart (the secret
# devices make their page slots at the first).
COUNTED = (('mmap_prepare', 'mmap_prepare_c', 'mmap_prepare_rust', 'all'),
           ('mapped (1 MiB)', 'mapped_c', 'mapped_rust', 'all'),
           ("fault, an area's first", 'fault_c', 'fault_rust', 'first'),
           ('fault, later ones', 'fault_c', 'fault_rust', 'later'),
           ('SEND 64 B', 'send64_c', 'send64_rust', 'all'),
           ('SEND 4 KiB', 'send4k_c', 'send4k_rust', 'all'))


def count_rows(results):
    rows = []
    for hook, c, rust, which in COUNTED:
        ci = calls(results, c, 'instructions', which)
        ri = calls(results, rust, 'instructions', which)
        cs, rs = calls(results, c, 'steps', which), calls(results, rust, 'steps', which)
        if not ci or not ri:
            rows.append([hook, 'n/a', 'n/a', '', '', '', ''])
            continue
        rows.append([hook, count_text(ci), count_text(ri),
                     ratio(statistics.median(ri) / statistics.median(ci)),
                     count_text(cs), count_text(rs),
                     '%d, %d' % (len(ci), len(ri))])
    return rows


COUNT_HEADERS = ['hook', 'C', 'Rust', 'Rust/C', 'C steps', 'Rust steps', 'calls (C, Rust)']


def count_text(values):
    med = statistics.median(values)
    if min(values) == max(values):
        return '%d' % med
    return '%d (%d-%d)' % (med, min(values), max(values))


def demangle(names):
    """Rust v0 names made readable with llvm-cxxfilt when it is there; as they are otherwise."""
    tool = next((t for t in ('llvm-cxxfilt-22', 'llvm-cxxfilt') if shutil.which(t)), None)
    if not tool or not names:
        return names
    try:
        out = subprocess.run([tool], input='\n'.join(names), capture_output=True, text=True,
                             check=True).stdout.split('\n')
    except (OSError, subprocess.CalledProcessError):
        return names
    return out[:len(names)] if len(out) >= len(names) else names


def short(name):
    """A demangled name without the crate hashes and the module paths of its generic types."""
    name = re.sub(r'\[[0-9a-f]{16}\]', '', name)
    return re.sub(r'\b(?:kernel|mmap_prepare|rust_binder_pages|rust_secretmem)::(?:[a-z_0-9]+::)*',
                  '', name)


def profile_rows(results, c_case, rust_case):
    """Per function, the instructions of the first profiled call, C then Rust; the sum of the
    allocator's functions and of the rest."""
    cases = (results.get('counts') or {}).get('cases', {})
    sides = [cases.get(c_case, {}).get('profile'), cases.get(rust_case, {}).get('profile')]
    if not all(sides):
        return None
    rows = []
    sums = []
    for side, prof in zip(('C', 'Rust'), sides):
        names = [p[2] for p in prof]
        alloc = sum(p[0] for p in prof if ALLOCATOR.match(p[2]))
        sums.append((sum(p[0] for p in prof), alloc))
        for (insns, steps, _), name in zip(prof, demangle(names)):
            rows.append([side, str(insns), str(steps), short(name)])
    return rows, sums


def section(args, main, cpu, helpers, listings):
    begin, end = markers(args.section)
    out = [begin, '']
    title = '%s of %s' % ('%s figures' % args.section if args.section else 'Figures', args.stamp)
    out += [title, '-' * len(title), '']
    nboots = len(main.get('boots', []))
    meta = main.get('meta', {})
    out += ['Written by ``%s`` at commit ``%s``, from %d boots per configuration, each running '
            '%s rounds of about %s ms per measurement. The configurations, and the host during '
            'each boot (load averages over 1, 5 and 15 minutes; QEMU processes of other users '
            'running)::' % (args.command, args.stamp, nboots, meta.get('rounds', '?'),
                            meta.get('target_ms', '?')), '']
    lines = []
    for label, res in (('figures', main), ('CPU model', cpu), ('no inline helpers', helpers)):
        if not res:
            continue
        lines += ['%s: %s' % (label, line) for line in res.get('header', [])[:2]]
        for i, b in enumerate(res.get('boots', []), 1):
            h = b.get('host') or {}
            lines.append('%s, boot %d: load %s before, %s after; other QEMU: %s before, %s after'
                         % (label, i, h.get('load_before', '?'), h.get('load_after', '?'),
                            h.get('qemu_before', '?'), h.get('qemu_after', '?')))
        twins = sorted({b.get('twin') or 'not run' for b in res.get('boots', [])})
        lines.append("%s: the C twin ran the sample's userspace test first: %s" %
                     (label, '; '.join(twins)))
    out += literal(lines)

    out += ['Timings, ``-cpu max``: the median over all rounds of all boots, each boot\'s '
            'median and their spread (the largest over the smallest, minus one); then, against '
            'each anchor the variant has, the per-round ratio (its time over the anchor\'s in '
            'the same round): median, range over all rounds, and each boot\'s median. The '
            'adjacent case at n = %s of its n (``results.txt`` has all)::'
            % ', '.join(str(n) for n in ADJACENT_NS)]
    out += literal(table(TIMING_HEADERS, timing_rows(main)))

    out += ['Instructions of the hooks (median (min-max) over every call of every boot; steps '
            'count the iterations of ``rep`` instructions too)::']
    out += literal(table(COUNT_HEADERS, count_rows(main)))

    for hook, c_case, rust_case in (('mapped (1 MiB)', 'mapped_c', 'mapped_rust'),
                                    ('SEND 64 B', 'send64_c', 'send64_rust')):
        prof = profile_rows(main, c_case, rust_case)
        if not prof:
            continue
        rows, sums = prof
        out += ['Where the instructions of %s go: one call\'s instructions and steps per '
                'function, callees apart (``RMP_BENCH_PROFILE``). The kernel\'s allocator '
                'functions: %d of C\'s %d, %d of Rust\'s %d; the rest: %d and %d '
                '(%s times)::' % (hook, sums[0][1], sums[0][0], sums[1][1], sums[1][0],
                                  sums[0][0] - sums[0][1], sums[1][0] - sums[1][1],
                                  ratio((sums[1][0] - sums[1][1]) /
                                        max(sums[0][0] - sums[0][1], 1)))]
        out += literal(table(['side', 'insns', 'steps', 'function'], rows))

    for title_, path in listings:
        with open(path) as f:
            text = [line.rstrip() for line in f if line.strip()]
        out += ['%s::' % title_]
        out += literal(text)

    # The area's first fault against a later one, under each CPU model.
    rows = []
    for label, res in (('max', main), ('qemu64', cpu)):
        if not res:
            continue
        k = by_key(res)
        for (case, n, variant), r in sorted(k.items()):
            if case != 'first_fault':
                continue
            steady = k.get(('fault', 256, variant))
            rows.append([label, variant, fmt_time(r['median']),
                         fmt_time(steady['median']) if steady else 'n/a',
                         fmt_time(r['median'] - steady['median']) if steady else 'n/a'])
    if rows:
        out += ['The first write to a fresh area (``first_fault``) against a later fault '
                '(``fault``, per page), medians, under each CPU model; the difference is what '
                'an area\'s first fault costs beyond the next ones::']
        out += literal(table(['-cpu', 'variant', 'first fault', 'later fault', 'difference'],
                             rows))

    for label, res, what in (('qemu64', cpu, 'QEMU\'s default CPU model, ``-cpu qemu64``'),
                             ('no inline helpers', helpers,
                              'a bench kernel without ``RUST_INLINE_HELPERS``')):
        if not res:
            continue
        cases = case_order(res)
        out += ['The same cases under %s (%d boots), as above::' % (
            what, len(res.get('boots', [])))]
        out += literal(table(TIMING_HEADERS, timing_rows(res, cases)))
        k, m = by_key(res), by_key(main)
        rows = [[case, fmt_n(case, n), variant, fmt_time(m[(case, n, variant)]['median']),
                 fmt_time(r['median'])]
                for (case, n, variant), r in sorted(k.items(), key=lambda kv: (
                    cases.index(kv[0][0]) if kv[0][0] in cases else 99, kv[0][1]))
                if (case, n, variant) in m and (case != 'adjacent' or n in ADJACENT_NS)]
        out += ['Medians of those cases with the figures\' configuration and with %s (two '
                'configurations booted apart: read these side by side, not as a ratio)::' % what]
        out += literal(table(['case', 'n', 'variant', 'figures', label], rows))
        out += ['Instructions under %s::' % what]
        out += literal(table(COUNT_HEADERS, count_rows(res)))
    out += [end]
    return out


# The Binder drivers, in the order of their columns, and the ratios shown: (driver, anchor).
BINDER_DRIVERS = ('c', 'rust', 'ported')
BINDER_RATIOS = (('ported', 'rust'), ('rust', 'c'), ('ported', 'c'))


def binder_section(args, res):
    """The Binder section: make bench's Binder boots (--section binder --main FILE)."""
    begin, end = markers('binder')
    out = [begin, '']
    title = 'Binder figures of %s' % args.stamp
    out += [title, '-' * len(title), '']
    nboots = len(res.get('boots', []))
    meta = res.get('meta', {})
    out += ['Written by ``%s`` at commit ``%s``, from %d boots per driver (%d sets of one boot '
            'per driver, the order of the drivers rotated from set to set), each boot running '
            '%s rounds of about %s ms per measurement. The configuration, and the host during '
            'each set (load averages before its first boot and after its last; QEMU processes '
            'of other users running)::' % (args.command, args.stamp, nboots, nboots,
                                           meta.get('rounds', '?'), meta.get('target_ms', '?')),
            '']
    lines = list(res.get('header', []))
    for i, b in enumerate(res.get('boots', []), 1):
        h = b.get('host') or {}
        lines.append('set %d: load %s before, %s after; other QEMU: %s before, %s after'
                     % (i, h.get('load_before', '?'), h.get('load_after', '?'),
                        h.get('qemu_before', '?'), h.get('qemu_after', '?')))
    out += literal(lines)
    k = by_key(res)
    rows = []
    for case in case_order(res):
        for n in sorted({key[1] for key in k if key[0] == case}):
            row = [case, fmt_n(case, n)]
            for drv in BINDER_DRIVERS:
                r = k.get((case, n, drv))
                row.append(fmt_time(r['median']) if r else 'n/a')
            for drv, anchor in BINDER_RATIOS:
                r = k.get((case, n, drv))
                s = (r or {}).get('vs', {}).get(anchor)
                row.append('%s (%s-%s)' % (ratio(s['median']), ratio(s['min']),
                                           ratio(s['max'])) if s else 'n/a')
            rows.append(row)
    out += ['Per driver, the median time per round trip or message over all rounds of all '
            'boots; then the ratios, each the median (and range) of per-round ratios: round r '
            'of one driver\'s boot over round r of the other\'s boot in the same set (booted '
            'one after the other, not interleaved in one boot: the boot-to-boot drift is in '
            'these ratios)::']
    out += literal(table(['case', 'n', 'C', 'Rust', 'ported', 'ported/Rust', 'Rust/C',
                          'ported/C'], rows))
    out += ['Every figure by driver, as ``make bench`` prints it (a "boot" is a set)::']
    out += literal(table(TIMING_HEADERS, timing_rows(res)))
    out += [end]
    return out


def replace_section(text, lines, name=''):
    """text with its section NAME replaced by lines (which include both markers)."""
    begin, end = markers(name)
    src = text.split('\n')
    try:
        a = src.index(begin)
        b = src.index(end, a)
    except ValueError:
        raise SystemExit('figures.py: the document has no %r ... %r section' % (begin, end))
    return '\n'.join(src[:a] + lines + src[b + 1:])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--main', required=True)
    ap.add_argument('--cpu')
    ap.add_argument('--helpers')
    ap.add_argument('--listing', action='append', default=[], metavar='TITLE=FILE')
    ap.add_argument('--section', default='', help="another section's name (arm64)")
    ap.add_argument('--stamp', required=True)
    ap.add_argument('--command', required=True)
    ap.add_argument('--doc', required=True)
    args = ap.parse_args()

    def load(path):
        if not path:
            return None
        with open(path) as f:
            return json.load(f)

    listings = [tuple(x.split('=', 1)) for x in args.listing]
    if args.section == 'binder':
        lines = binder_section(args, load(args.main))
    else:
        lines = section(args, load(args.main), load(args.cpu), load(args.helpers), listings)
    with open(args.doc) as f:
        text = f.read()
    with open(args.doc, 'w') as f:
        f.write(replace_section(text, lines, args.section))
    print('figures.py: wrote %d lines into %s' % (len(lines), args.doc))
    return 0


if __name__ == '__main__':
    sys.exit(main())
