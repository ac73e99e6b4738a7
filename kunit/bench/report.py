#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Turns the console logs of `make bench` boots into tables, a results file and a plot.

Reads, for each boot, the lines rmp_bench printed (see kunit/bench/userspace/rmp_bench.c), the
counts count.py wrote and what the host saw (host.json: the load around the boot). For each
case, n and variant:

  median        the median, over every round of every boot, of the time per unit;
  min-max       the range over those rounds;
  boot medians  the median of each boot's rounds, and the boot-to-boot spread (the largest
                over the smallest, minus one);
  ratio to A    for each anchor A of the variant, the variant's time divided by A's time in
                the same round of the same boot (the rounds interleave the variants, so a
                round's two figures were measured close together): the median and the range
                of those per-round ratios over all rounds of all boots, and the median of each
                boot's. A ratio is never made from two medians.

Usage: report.py --boot DIR [--boot DIR...] [--header FILE] --out DIR
A boot DIR holds console-bench.log, and counts.json and host.json if they were made.
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
    """The bench's lines of one boot's console log: meta, cases, measurements, VMA counts."""
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
                    anchors = [] if f['anchor'] == '-' else f['anchor'].split(',')
                    v = run.setdefault(f['variant'], {'anchors': anchors, 'rounds': {}})
                    v['rounds'][int(f['round'])] = int(f['ns']) / max(int(f['ops']), 1)
                except (KeyError, ValueError):
                    data['errors'].append('unparsable line %d: %s' % (lineno, line.strip()))
    return data


def merge(boots):
    """The runs of several boots: {(case, n): {variant: {'anchors', 'boots': [rounds...]}}}."""
    runs = {}
    for i, data in enumerate(boots):
        for key, run in data['runs'].items():
            merged = runs.setdefault(key, {})
            for name, v in run.items():
                m = merged.setdefault(name, {'anchors': v['anchors'],
                                             'boots': [{} for _ in boots]})
                m['boots'][i] = v['rounds']
    return runs


def spread(values):
    """The largest over the smallest, minus one (0 for fewer than two values)."""
    values = [v for v in values if v > 0]
    return max(values) / min(values) - 1 if len(values) > 1 else 0.0


def summarize(run):
    """Per variant: median, range and boot medians of its times; per anchor, its per-round
    ratios (median, range, boot medians). `run` is one entry of merge()."""
    rows = []
    for name, v in run.items():
        times = [t for rounds in v['boots'] for t in rounds.values()]
        if not times:
            continue
        boot_medians = [statistics.median(r.values()) for r in v['boots'] if r]
        row = {'variant': name, 'anchors': v['anchors'], 'median': statistics.median(times),
               'min': min(times), 'max': max(times), 'rounds': len(times),
               'boot_medians': boot_medians, 'boot_spread': spread(boot_medians), 'vs': {}}
        for anchor in v['anchors']:
            a = run.get(anchor)
            if not a:
                continue
            per_boot = []
            for mine, theirs in zip(v['boots'], a['boots']):
                per_boot.append([t / theirs[r] for r, t in sorted(mine.items())
                                 if theirs.get(r)])
            ratios = [x for b in per_boot for x in b]
            if not ratios:
                continue
            medians = [statistics.median(b) for b in per_boot if b]
            row['vs'][anchor] = {'median': statistics.median(ratios), 'min': min(ratios),
                                 'max': max(ratios), 'rounds': len(ratios),
                                 'boot_medians': medians, 'boot_spread': spread(medians)}
        rows.append(row)
    return rows


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


def fmt_boots(values, fmt):
    return ' / '.join(fmt(v) for v in values)


def fmt_ratio(r):
    return '%.2f' % r


def table(headers, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    lines = ['  '.join(str(x).ljust(w) for x, w in zip(headers, widths)).rstrip()]
    lines.append('  '.join('-' * w for w in widths))
    for row in rows:
        lines.append('  '.join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip())
    return lines


def case_rows(case, runs, vmas, nboots):
    """Text rows of one case: one per variant, one more per extra anchor."""
    ns = sorted(n for c, n in runs if c == case)
    show_n = len(ns) > 1 or (ns and ns[0] != 0)
    rows = []
    for n in ns:
        for r in summarize(runs[(case, n)]):
            lead = ([str(n)] if show_n else []) + [r['variant']]
            if case == 'adjacent':
                lead.append(str(vmas.get((case, n, r['variant']), '?')))
            times = [fmt_time(r['median']), fmt_range(r['min'], r['max'])]
            if nboots > 1:
                times += [fmt_boots(r['boot_medians'], fmt_time),
                          '%.0f%%' % (100 * r['boot_spread'])]
            tail = [fmt_time(r['median'] / n)] if case == 'adjacent' else []
            if not r['vs']:
                rows.append(lead + times + ['(anchor)', '', ''] +
                            ([''] if nboots > 1 else []) + tail)
            for i, (anchor, s) in enumerate(r['vs'].items()):
                cells = [anchor, fmt_ratio(s['median']),
                         '%s-%s' % (fmt_ratio(s['min']), fmt_ratio(s['max']))]
                if nboots > 1:
                    cells.append(fmt_boots(s['boot_medians'], fmt_ratio))
                if i == 0:
                    rows.append(lead + times + cells + tail)
                else:
                    rows.append([''] * (len(lead) + len(times)) + cells)
    return rows


def case_headers(case, runs, nboots):
    ns = sorted(n for c, n in runs if c == case)
    show_n = len(ns) > 1 or (ns and ns[0] != 0)
    return (['n'] if show_n else []) + ['variant'] + (['VMAs'] if case == 'adjacent' else []) + \
        ['median', 'min-max'] + (['boot medians', 'spread'] if nboots > 1 else []) + \
        ['vs', 'ratio', 'round ratios'] + (['boot ratios'] if nboots > 1 else []) + \
        (['per mapping'] if case == 'adjacent' else [])


def case_tables(cases, desc, per, runs, vmas, nboots):
    out = []
    for case in cases:
        if not any(c == case for c, _ in runs):
            continue
        out.append('')
        out.append('%s: %s; time per %s' % (case, desc[case], per[case]))
        out += table(case_headers(case, runs, nboots), case_rows(case, runs, vmas, nboots))
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


def merge_counts(counts):
    """The counts of several boots: per case, every call's figures, and each boot's."""
    cases = {}
    for boot in counts:
        for case, entry in boot.get('cases', {}).items():
            c = cases.setdefault(case, {'instructions': [], 'steps': [], 'boots': []})
            c['instructions'] += entry.get('instructions', [])
            c['steps'] += entry.get('steps', [])
            if entry.get('instructions'):
                c['boots'].append(statistics.median(entry['instructions']))
            if 'profile' in entry and 'profile' not in c:
                c['profile'] = entry['profile']
    return {'cases': cases, 'errors': [e for boot in counts for e in boot.get('errors', [])]}


def count_text(values):
    if not values:
        return 'n/a'
    med = statistics.median(values)
    if min(values) == max(values):
        return '%d' % med
    return '%d (%d-%d)' % (med, min(values), max(values))


def count_rows(counts):
    """[hook, C, Rust, Rust/C, C steps, Rust steps, calls, C boots, Rust boots] per hook."""
    rows = []
    for hook, c, rust, _ in COUNT_PAIRS:
        cc = counts['cases'].get(c, {})
        rc = counts['cases'].get(rust, {})
        ci, ri = cc.get('instructions', []), rc.get('instructions', [])
        ratio = '%.2f' % (statistics.median(ri) / statistics.median(ci)) if ci and ri else ''
        rows.append([hook, count_text(ci), count_text(ri), ratio,
                     count_text(cc.get('steps', [])), count_text(rc.get('steps', [])),
                     str(min(len(ci), len(ri))),
                     fmt_boots(cc.get('boots', []), lambda x: '%d' % x),
                     fmt_boots(rc.get('boots', []), lambda x: '%d' % x)])
    return rows


def count_tables(counts, nboots):
    out = ['', 'Instructions executed by each hook, entry to return, callees included: '
           'median (min-max) of the calls%s. QEMU gdbstub single-step; a rep string instruction '
           'counts once; "steps" counts its iterations too.' %
           (' of every boot' if nboots > 1 else '')]
    headers = ['hook', 'C', 'Rust', 'Rust/C', 'C steps', 'Rust steps', 'calls']
    rows = count_rows(counts)
    if nboots > 1:
        headers += ['C by boot', 'Rust by boot']
    else:
        rows = [r[:7] for r in rows]
    out += table(headers, rows)
    for hook, _, _, what in COUNT_PAIRS:
        out.append('  %s: %s' % (hook, what))
    for e in counts.get('errors', []):
        out.append('count error: %s' % e)
    return out


def svg_plot(runs, vmas, path):
    """Time per mapping against n for the adjacent case, log-log, one line per variant."""
    import math
    series = {}
    for (case, n), run in runs.items():
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
        nvmas = vmas.get(('adjacent', pts[-1][0], name))
        label = name if nvmas is None else '%s (%s)' % (
            name, '1 VMA' if nvmas == 1 else 'n VMAs' if nvmas == pts[-1][0] else
            '%d VMAs' % nvmas)
        el.append('<text x="%d" y="%d">%s</text>' % (w - right + 36, ly + 4, label))
    el.append('</svg>')
    with open(path, 'w') as f:
        f.write('\n'.join(el) + '\n')
    return True


def load_json(path):
    if path and os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return None


def host_text(host):
    """One line on the host during a boot: load averages before and after, other guests."""
    if not host:
        return 'host load not recorded'
    return 'load %s before, %s after; other QEMU processes: %s before, %s after' % (
        host.get('load_before', '?'), host.get('load_after', '?'),
        host.get('qemu_before', '?'), host.get('qemu_after', '?'))


def report(boot_dirs, header=None):
    """Reads the boots; returns (text lines, results dict, problems)."""
    boots, counts, hosts, problems = [], [], [], []
    for d in boot_dirs:
        data = parse_log(os.path.join(d, 'console-bench.log'))
        boots.append(data)
        hosts.append(load_json(os.path.join(d, 'host.json')))
        c = load_json(os.path.join(d, 'counts.json'))
        if c is not None:
            counts.append(c)
        tag = 'boot %d: ' % len(boots) if len(boot_dirs) > 1 else ''
        problems += [tag + e for e in data['errors']]
        problems += ['%ssplat at console line %s' % (tag, s) for s in data['splats']]
        if not data['complete']:
            problems.append(tag + 'the timings did not finish (no rmp-bench-end)')
        if not data['end']:
            problems.append(tag + "the guest's /init did not reach its end")
    nboots = len(boots)
    runs = merge(boots)
    cases, desc, per, vmas = [], {}, {}, {}
    for data in boots:
        for c in data['cases']:
            if c not in cases:
                cases.append(c)
        desc.update(data['desc'])
        per.update(data['per'])
        vmas.update(data['vmas'])
    merged_counts = merge_counts(counts) if counts else None

    lines = []
    if header:
        lines += header.rstrip('\n').split('\n')
    meta = boots[0]['meta'] if boots else {}
    lines.append('Boots: %d. Rounds per boot: %s, interleaved, order rotated each round; about '
                 '%s ms per measurement; clock read cost %s ns (taken out where read per '
                 'iteration).' % (nboots, meta.get('rounds', '?'), meta.get('target_ms', '?'),
                                  ' / '.join(b['meta'].get('timer_ns', '?') for b in boots)))
    for i, (data, host) in enumerate(zip(boots, hosts), 1):
        lines.append('Boot %d: %s. C twin, the sample\'s userspace test run on it: %s' % (
            i, host_text(host), data['twin'] or 'not run'))
    lines += case_tables(cases, desc, per, runs, vmas, nboots)
    if merged_counts:
        lines += count_tables(merged_counts, len(counts))

    results = {
        'header': header.rstrip('\n').split('\n') if header else [],
        'meta': meta,
        'boots': [{'meta': d['meta'], 'twin': d['twin'], 'host': h}
                  for d, h in zip(boots, hosts)],
        'cases': [{'case': c, 'desc': desc[c], 'per': per[c]} for c in cases],
        'results': [{'case': c, 'n': n, **r} for (c, n), run in sorted(runs.items())
                    for r in summarize(run)],
        'vmas': [{'case': c, 'n': n, 'variant': v, 'vmas': m}
                 for (c, n, v), m in sorted(vmas.items())],
        'counts': merged_counts,
        'counts_by_boot': counts,
    }
    return lines, results, problems, runs, vmas


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--boot', action='append', required=True,
                    help='a directory with console-bench.log [counts.json] [host.json]')
    ap.add_argument('--counts-expected', action='store_true',
                    help='a boot without counts.json is a problem')
    ap.add_argument('--header', help='a text file printed first (kernel config, versions)')
    ap.add_argument('--out', required=True)
    args = ap.parse_args()

    header = None
    if args.header:
        with open(args.header) as f:
            header = f.read()
    lines, results, problems, runs, vmas = report(args.boot, header)
    if args.counts_expected:
        problems += ['no instruction counts: %s is missing' % os.path.join(d, 'counts.json')
                     for d in args.boot if not os.path.exists(os.path.join(d, 'counts.json'))]
    os.makedirs(args.out, exist_ok=True)
    plotted = svg_plot(runs, vmas, os.path.join(args.out, 'adjacent.svg'))
    text = '\n'.join(lines) + '\n'
    with open(os.path.join(args.out, 'results.txt'), 'w') as f:
        f.write(text)
    with open(os.path.join(args.out, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    sys.stdout.write(text)
    print('\nResults: %s' % os.path.join(args.out, 'results.txt'))
    if plotted:
        print('Plot:    %s' % os.path.join(args.out, 'adjacent.svg'))
    for p in problems:
        print('report: %s' % p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
