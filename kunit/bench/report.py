#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the console log of a `make bench` boot into tables, a results file and a plot.

Reads the lines rmp_bench printed (see kunit/bench/userspace/rmp_bench.c) and the counts
count.py wrote. For each case and n, a variant's figure is the median over the rounds of
its time per unit; min-max is the range over the rounds; ratio is the variant's median over
its anchor's median; the round ratios are the range, over the rounds, of the variant's time
divided by its anchor's time in the same round (the rounds interleave the variants, so a
round's two figures were measured close together).

Usage: report.py --log LOG [--counts counts.json] [--header FILE] --out DIR
Writes DIR/results.txt (what it prints), DIR/results.json and DIR/adjacent.svg.
"""

import argparse
import json
import os
import re
import shlex
import statistics
import sys

SPLATS = re.compile(r'(WARNING:|BUG:|Oops|Call Trace:|general protection fault|'
                    r'Kernel panic|refcount_t:|rcu_sched detected stall|INFO: task)')


class BenchError(Exception):
    pass


def fields(text):
    out = {}
    for tok in shlex.split(text):
        key, _, value = tok.partition('=')
        out[key] = value
    return out


def parse_log(path):
    """The bench's lines of a console log: meta, cases, measurements, VMA counts."""
    data = {'meta': {}, 'cases': [], 'desc': {}, 'per': {}, 'runs': {}, 'vmas': {},
            'twin': None, 'errors': [], 'splats': [], 'end': False, 'complete': False}
    with open(path, errors='replace') as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.rstrip('\r\n')
            if SPLATS.search(line):
                data['splats'].append('%d: %s' % (lineno, line.strip()))
            m = re.match(r'.*?(rmp-bench[a-z-]*|rmp-harness: FAIL|rmp-harness: END)(:?)\s*(.*)$',
                         line)
            if not m:
                continue
            tag, rest = m.group(1), m.group(3)
            if tag == 'rmp-harness: FAIL':
                data['errors'].append(line.strip())
            elif tag == 'rmp-harness: END':
                data['end'] = True
            elif tag == 'rmp-bench-end':
                data['complete'] = True
            elif tag == 'rmp-bench-error':
                data['errors'].append(line.strip())
            elif tag == 'rmp-bench-twin':
                data['twin'] = rest
            elif tag == 'rmp-bench-meta':
                data['meta'].update(fields(rest))
            elif tag == 'rmp-bench-case':
                f = fields(rest)
                data['cases'].append(f['case'])
                data['desc'][f['case']] = f.get('desc', '')
                data['per'][f['case']] = f.get('per', 'op')
            elif tag == 'rmp-bench-vmas':
                f = fields(rest)
                data['vmas'][(f['case'], int(f['n']), f['variant'])] = int(f['vmas'])
            elif tag == 'rmp-bench':
                try:
                    f = fields(rest)
                    key = (f['case'], int(f['n']))
                    run = data['runs'].setdefault(key, {})
                    v = run.setdefault(f['variant'], {'anchor': f['anchor'], 'rounds': {}})
                    v['rounds'][int(f['round'])] = int(f['ns']) / max(int(f['ops']), 1)
                except (KeyError, ValueError):
                    data['errors'].append('unparsable line %d: %s' % (lineno, line.strip()))
    return data


def fmt_time(ns):
    if ns >= 1e6:
        return '%.2f ms' % (ns / 1e6)
    if ns >= 1e3:
        return '%.2f us' % (ns / 1e3)
    return '%.0f ns' % ns


def fmt_range(lo, hi):
    return '%s-%s' % (fmt_time(lo).split()[0], fmt_time(hi)) if \
        fmt_time(lo).split()[1] == fmt_time(hi).split()[1] else \
        '%s-%s' % (fmt_time(lo), fmt_time(hi))


def summarize(run):
    """Per variant: median, min, max, ratio to its anchor, per-round ratio range."""
    rows = []
    for name, v in run.items():
        times = list(v['rounds'].values())
        row = {'variant': name, 'anchor': v['anchor'], 'median': statistics.median(times),
               'min': min(times), 'max': max(times), 'rounds': len(times)}
        anchor = run.get(v['anchor'])
        if anchor:
            row['ratio'] = row['median'] / statistics.median(anchor['rounds'].values())
            per_round = [t / anchor['rounds'][r] for r, t in v['rounds'].items()
                         if anchor['rounds'].get(r)]
            if per_round:
                row['round_ratio'] = (min(per_round), max(per_round))
        rows.append(row)
    return rows


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ['  '.join(str(x).ljust(w) for x, w in zip(headers, widths)).rstrip()]
    lines.append('  '.join('-' * w for w in widths))
    for row in rows:
        lines.append('  '.join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return lines


def case_tables(data):
    out = []
    for case in data['cases']:
        ns = sorted(n for c, n in data['runs'] if c == case)
        if not ns:
            continue
        per = data['per'][case]
        out.append('')
        out.append('%s: %s; time per %s' % (case, data['desc'][case], per))
        headers = (['n'] if len(ns) > 1 or ns[0] else []) + \
            ['variant'] + (['VMAs'] if case == 'adjacent' else []) + \
            ['median', 'min-max', 'vs', 'ratio', 'round ratios'] + \
            (['per mapping'] if case == 'adjacent' else [])
        rows = []
        for n in ns:
            for r in summarize(data['runs'][(case, n)]):
                row = ([str(n)] if len(ns) > 1 or ns[0] else []) + [r['variant']]
                if case == 'adjacent':
                    row.append(str(data['vmas'].get((case, n, r['variant']), '?')))
                row += [fmt_time(r['median']), fmt_range(r['min'], r['max']),
                        r['anchor'] if r['anchor'] != '-' else '(anchor)',
                        '%.2f' % r['ratio'] if 'ratio' in r else '',
                        '%.2f-%.2f' % r['round_ratio'] if 'round_ratio' in r else '']
                if case == 'adjacent':
                    row.append(fmt_time(r['median'] / n))
                rows.append(row)
        out += table(headers, rows)
    return out


# Instruction counts: (hook, C case, Rust case, what each side is).
COUNT_PAIRS = [
    ('mmap_prepare', 'mmap_prepare_c', 'mmap_prepare_rust',
     'memfd_secret: secretmem_mmap_prepare / rust_secretmem: f_op->mmap_prepare'),
    ('mapped (1 MiB)', 'mapped_c', 'mapped_rust',
     'binder_pages_c: rbpc_mapped / rust_binder_pages: vm_ops->mapped'),
    ('fault', 'fault_c', 'fault_rust',
     'memfd_secret: secretmem_fault / rust_secretmem: vm_ops->fault'),
    ('SEND 64 B', 'send64_c', 'send64_rust',
     'binder_pages_c: rbpc_ioctl / rust_binder_pages: unlocked_ioctl'),
    ('SEND 4 KiB', 'send4k_c', 'send4k_rust',
     'binder_pages_c: rbpc_ioctl / rust_binder_pages: unlocked_ioctl'),
]


def count_text(values):
    if not values:
        return 'n/a'
    med = statistics.median(values)
    if min(values) == max(values):
        return '%d' % med
    return '%d (%d-%d)' % (med, min(values), max(values))


def count_tables(counts):
    out = ['', 'Instructions executed by each hook, entry to return, callees included: '
           'median (min-max) of the calls. QEMU gdbstub single-step; a rep string instruction '
           'counts once; "steps" counts its iterations too.']
    rows = []
    for hook, c, rust, _ in COUNT_PAIRS:
        cc = counts['cases'].get(c, {})
        rc = counts['cases'].get(rust, {})
        ci, ri = cc.get('instructions', []), rc.get('instructions', [])
        ratio = '%.2f' % (statistics.median(ri) / statistics.median(ci)) if ci and ri else ''
        rows.append([hook, count_text(ci), count_text(ri), ratio,
                     count_text(cc.get('steps', [])), count_text(rc.get('steps', [])),
                     str(min(len(ci), len(ri)))])
    out += table(['hook', 'C', 'Rust', 'Rust/C', 'C steps', 'Rust steps', 'calls'], rows)
    for hook, _, _, what in COUNT_PAIRS:
        out.append('  %s: %s' % (hook, what))
    for e in counts.get('errors', []):
        out.append('count error: %s' % e)
    return out


def svg_plot(data, path):
    """Time per mapping against n for the adjacent case, log-log, one line per variant."""
    import math
    series = {}
    for (case, n), run in data['runs'].items():
        if case != 'adjacent':
            continue
        for r in summarize(run):
            series.setdefault(r['variant'], []).append((n, r['median'] / n / 1e3))
    if not series:
        return False
    w, h, left, right, top, bottom = 820, 460, 70, 250, 40, 50
    xs = [n for pts in series.values() for n, _ in pts]
    ys = [y for pts in series.values() for _, y in pts]
    x0, x1 = math.log2(min(xs)), math.log2(max(xs))
    # Log y axis, bounded and ticked at 1-2-5 steps around the data.
    steps = [m * 10.0 ** e for e in range(-3, 7) for m in (1, 2, 5)]
    lo = max([t for t in steps if t <= min(ys)] or [steps[0]])
    hi = min([t for t in steps if t >= max(ys)] or [steps[-1]])
    if hi <= lo:
        hi = lo * 2
    ticks = [t for t in steps if lo <= t <= hi]
    y0, y1 = math.log10(lo), math.log10(hi)

    def px(n):
        return left + (math.log2(n) - x0) / max(x1 - x0, 1) * (w - left - right)

    def py(y):
        return top + (y1 - math.log10(y)) / (y1 - y0) * (h - top - bottom)

    colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf']
    el = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
          'font-family="sans-serif" font-size="12">' % (w, h),
          '<rect width="100%" height="100%" fill="white"/>',
          '<text x="%d" y="22" font-size="14">n adjacent one-page mappings '
          '(n mmap + 1 munmap): time per mapping</text>' % left]
    for t in ticks:
        y = py(t)
        el.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' %
                  (left, w - right, y, y))
        el.append('<text x="%d" y="%.1f" text-anchor="end">%g us</text>' % (left - 6, y + 4, t))
    for n in sorted(set(xs)):
        x = px(n)
        el.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#eee"/>' %
                  (x, x, top, h - bottom))
        el.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x, h - bottom + 16, n))
    el.append('<text x="%d" y="%d" text-anchor="middle">n (log scale); time per mapping '
              '(log scale), median of the rounds</text>' % ((left + w - right) // 2, h - 10))
    el.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="black"/>' %
              (left, top, w - left - right, h - top - bottom))
    for i, (name, pts) in enumerate(sorted(series.items())):
        pts.sort()
        color = colors[i % len(colors)]
        el.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' % (
            color, ' '.join('%.1f,%.1f' % (px(n), py(y)) for n, y in pts)))
        for n, y in pts:
            el.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (px(n), py(y), color))
        ly = top + 10 + i * 20
        el.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>' %
                  (w - right + 10, w - right + 30, ly, ly, color))
        vmas = data['vmas'].get(('adjacent', pts[-1][0], name))
        label = name if vmas is None else '%s (%s)' % (
            name, '1 VMA' if vmas == 1 else 'n VMAs' if vmas == pts[-1][0] else '%d VMAs' % vmas)
        el.append('<text x="%d" y="%d">%s</text>' % (w - right + 36, ly + 4, label))
    el.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(el) + '\n')
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--log', required=True)
    ap.add_argument('--counts')
    ap.add_argument('--header', help='a text file printed first (kernel config, versions)')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    data = parse_log(args.log)
    counts = None
    if args.counts and os.path.exists(args.counts):
        with open(args.counts) as f:
            counts = json.load(f)
    lines = []
    if args.header:
        with open(args.header) as f:
            lines += f.read().rstrip('\n').split('\n')
    meta = data['meta']
    lines.append('Rounds: %s, interleaved, order rotated each round; about %s ms per '
                 'measurement; clock read cost %s ns (taken out where read per iteration).' %
                 (meta.get('rounds', '?'), meta.get('target_ms', '?'), meta.get('timer_ns', '?')))
    if data['twin']:
        lines.append("C twin, the sample's userspace test run on it: %s" % data['twin'])
    lines += case_tables(data)
    if counts:
        lines += count_tables(counts)
    os.makedirs(args.out, exist_ok=True)
    plotted = svg_plot(data, os.path.join(args.out, 'adjacent.svg'))
    text = '\n'.join(lines) + '\n'
    with open(os.path.join(args.out, 'results.txt'), 'w') as f:
        f.write(text)
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump({'meta': meta, 'twin': data['twin'],
                   'results': [{'case': c, 'n': n, **r} for (c, n), run in
                               sorted(data['runs'].items()) for r in summarize(run)],
                   'vmas': [{'case': c, 'n': n, 'variant': v, 'vmas': m}
                            for (c, n, v), m in sorted(data['vmas'].items())],
                   'counts': counts}, f, indent=1)
    sys.stdout.write(text)
    print('\nResults: %s' % os.path.join(args.out, 'results.txt'))
    if plotted:
        print('Plot:    %s' % os.path.join(args.out, 'adjacent.svg'))

    problems = data['errors'] + ['splat at console line %s' % s for s in data['splats']]
    if not data['complete']:
        problems.append('the timings did not finish (no rmp-bench-end)')
    if not data['end']:
        problems.append("the guest's /init did not reach its end")
    if args.counts and counts is None:
        problems.append('no instruction counts: %s is missing' % args.counts)
    for p in problems:
        print('report: %s' % p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
