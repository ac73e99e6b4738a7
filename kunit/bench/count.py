#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Counts the instructions a hook executes, by single-stepping the guest through QEMU's gdbstub.

The guest's rmp_count (kunit/bench/userspace/rmp_count.c) talks to this script over the
guest's second serial port: it sends the kallsyms lines of the functions that may be counted,
then for each case "ready CASE K", waits for "go", makes the kernel call the case's function
K times and says "done CASE". Meanwhile this script holds a breakpoint on the function's
first instruction; at each hit it single-steps the CPU until the function returns to its
caller and counts. The return is where the call said it would be, with the stack pointer as
the caller had it: on x86-64 the return address on the stack at entry, the stack pointer back
above it; on arm64 the link register at entry (x30, before any pointer authentication signs
it), the stack pointer as it was. What is counted:

  instructions  every instruction executed from the function's first instruction to its
                final `ret`, both included, callees included (whatever they call: the page
                allocator, locks, copies). A `rep`-prefixed string instruction counts once,
                however many iterations it makes (QEMU steps each iteration: those are the
                steps that leave the instruction pointer where it was).
  steps         single steps, i.e. instructions plus the extra iterations of `rep` ones
                (arm64 has no such instruction: its steps are its instructions).

QEMU masks interrupts and timers while it single-steps (its default sstep flags), and the
guest runs with one CPU online, so nothing else executes in between: the counts are exact
for the state the guest was in. They still vary a little between calls when that state
varies (e.g. a per-CPU page list that must be refilled), hence K calls per case.

The gdbstub speaks the GDB remote serial protocol; this is a minimal client for it (no gdb
needed): packets $data#checksum, no-ack mode, registers by number (x86-64: rsp 7, rip 16;
arm64: x30 30, sp 31, pc 32).

Usage: count.py --gdb SOCKET --ctl SOCKET --out counts.json [--arch x86_64|arm64]
"""

import argparse
import bisect
import json
import re
import select
import socket
import sys
import time

# Which function each case breaks on: (module or None for the kernel, regex on the name).
# Rust symbols are v0-mangled: the trampoline the kernel calls, a method of the crate's
# generic MmapMiscDeviceVTable<T> or VmOpsTable<T>, shows T's name (with its length) and then
# the method's name (with its length), e.g.
# _RNvMs1_NtCs.._12mmap_prepare6deviceINtB5_20MmapMiscDeviceVTableNtCs.._14rust_secretmem9SecretMemE12mmap_prepareB1a_
# A method's own symbol starts with _RNv; generic functions instantiated for it (the cold
# paths of driver_warn!, _RINv...log9cold_path...) name it too, and are not it.
CASES = {
    'mmap_prepare_c': (None, r'^secretmem_mmap_prepare$'),
    'mmap_prepare_rust': ('rust_secretmem',
                          r'^_RNv.*MmapMiscDeviceVTable.*[^0-9]9SecretMemE12mmap_prepare'),
    'mapped_c': ('binder_pages_c', r'^rbpc_mapped$'),
    'mapped_rust': ('rust_binder_pages', r'^_RNv.*VmOpsTable.*[^0-9]8BinderVmE6mapped'),
    'fault_c': (None, r'^secretmem_fault$'),
    'fault_rust': ('rust_secretmem', r'^_RNv.*VmOpsTable.*[^0-9]8SecretVmE5fault'),
    'send64_c': ('binder_pages_c', r'^rbpc_ioctl$'),
    'send64_rust': ('rust_binder_pages',
                    r'^_RNv.*MmapMiscDeviceVTable.*[^0-9]11BinderPagesE5ioctl'),
    'send4k_c': ('binder_pages_c', r'^rbpc_ioctl$'),
    'send4k_rust': ('rust_binder_pages',
                    r'^_RNv.*MmapMiscDeviceVTable.*[^0-9]11BinderPagesE5ioctl'),
}

DEBUG = False
PROFILE = False
# The gdbstub's register numbers (QEMU's target descriptions): stack pointer, program counter,
# and on arm64 the link register.
REGS = {
    'x86_64': {'sp': 7, 'pc': 16},
    'arm64': {'sp': 31, 'pc': 32, 'lr': 30},
}
ARCH = 'x86_64'
MAX_STEPS = 5_000_000


class Gdb:
    """A GDB remote protocol client for QEMU's gdbstub, all-stop mode."""

    def __init__(self, path):
        self.sock = connect(path)
        self.buf = b''
        self.acks = True
        # Connecting stops the VM. Acknowledge anything pending; turn acks off if the stub
        # can (unacknowledged, a reply would make QEMU swallow the next ^C).
        self.sock.sendall(b'+')
        self.acks = self.command('QStartNoAckMode') != 'OK'
        self.command('?')

    def send(self, data):
        payload = data.encode()
        packet = b'$%s#%02x' % (payload, sum(payload) & 0xff)
        debug('->', packet)
        self.sock.sendall(packet)

    def _fill(self, timeout):
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            raise TimeoutError('no answer from the gdbstub')
        chunk = self.sock.recv(65536)
        debug('<-', chunk)
        if not chunk:
            raise EOFError('the gdbstub closed the connection')
        self.buf += chunk

    def _take(self):
        """The first complete packet's payload in the buffer, or None."""
        self.buf = self.buf.lstrip(b'+')
        start = self.buf.find(b'$')
        end = self.buf.find(b'#', start) if start >= 0 else -1
        if end < 0 or len(self.buf) < end + 3:
            return None
        data = self.buf[start + 1:end]
        self.buf = self.buf[end + 3:]
        if self.acks:
            self.sock.sendall(b'+')
        return decode_rle(data).decode()

    def packet(self, timeout=60):
        """The next packet's payload."""
        while True:
            data = self._take()
            if data is not None:
                return data
            self._fill(timeout)

    def poll(self):
        """A packet if one has arrived (a stop reply while the VM runs), else None."""
        if select.select([self.sock], [], [], 0)[0]:
            self._fill(0)
        return self._take()

    def command(self, data):
        self.send(data)
        return self.packet()

    def reg(self, n):
        return int.from_bytes(bytes.fromhex(self.command('p%x' % n)), 'little')

    def read_u64(self, addr):
        return int.from_bytes(bytes.fromhex(self.command('m%x,8' % addr)), 'little')

    def stop(self):
        """Stops the running VM."""
        debug('-> ^C')
        self.sock.sendall(b'\x03')
        return self.packet()

    def step(self):
        reply = self.command('s')
        if not reply.startswith('T') and not reply.startswith('S'):
            raise RuntimeError('step: unexpected reply %r' % reply)

    def resume(self):
        self.send('c')


def debug(*what):
    if DEBUG:
        print('count.py:', *what, file=sys.stderr, flush=True)


def decode_rle(data):
    """Undoes the protocol's run-length encoding (x*n: n - 29 more copies of x)."""
    if b'*' not in data:
        return data
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i:i + 1] == b'*':
            out += out[-1:] * (data[i + 1] - 29)
            i += 2
        else:
            out.append(data[i])
            i += 1
    return bytes(out)


def connect(path, seconds=60):
    deadline = time.time() + seconds
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if time.time() > deadline:
                raise
            time.sleep(0.2)


class Lines:
    """Lines from the guest's serial port."""

    def __init__(self, path):
        self.sock = connect(path)
        self.buf = b''

    def ready(self):
        return b'\n' in self.buf

    def line(self, timeout=None):
        while b'\n' not in self.buf:
            ready, _, _ = select.select([self.sock], [], [], timeout)
            if not ready:
                raise TimeoutError('no line from the guest')
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError('the guest serial port closed')
            self.buf += chunk
        line, self.buf = self.buf.split(b'\n', 1)
        return line.decode(errors='replace').strip('\r')

    def say(self, text):
        self.sock.sendall(text.encode() + b'\n')


def return_point(gdb):
    """Where the function stopped at its entry returns to: (address, stack pointer there)."""
    regs = REGS[ARCH]
    sp0 = gdb.reg(regs['sp'])
    if ARCH == 'arm64':
        return gdb.reg(regs['lr']), sp0
    return gdb.read_u64(sp0), sp0 + 8


def count_call(gdb, entry, trace=None):
    """Steps from a breakpoint hit at entry until the function returns; (instructions, steps).
    With trace (a list), appends the address of every step (a rep iteration is a step)."""
    ret, ret_sp = return_point(gdb)
    reg_pc, reg_sp = REGS[ARCH]['pc'], REGS[ARCH]['sp']
    insns = steps = 0
    rip = prev = entry
    if trace is not None:
        trace.append(entry)
    while True:
        gdb.step()
        steps += 1
        rip = gdb.reg(reg_pc)
        if rip != prev:
            insns += 1
        if trace is not None:
            trace.append(rip)
        prev = rip
        if rip == ret and gdb.reg(reg_sp) == ret_sp:
            return insns, steps
        if steps > MAX_STEPS:
            raise RuntimeError('no return after %d steps' % steps)


def profile(symbols, trace):
    """Where the steps of trace went: [[instructions, steps, function], ...], most
    instructions first. Step i executed the instruction at trace[i - 1] (trace[0] is the
    entry); it completed that instruction unless it left the instruction pointer where it was
    (an iteration of a rep string instruction). Each is charged to the function holding that
    instruction, callees apart (exclusive counts)."""
    ordered = sorted(symbols)
    starts = [addr for addr, _, _ in ordered]
    per = {}
    for prev, rip in zip(trace, trace[1:]):
        i = bisect.bisect_right(starts, prev) - 1
        name = '%s [%s]' % (ordered[i][1], ordered[i][2] or 'kernel') if i >= 0 else '?'
        counts = per.setdefault(name, [0, 0])
        counts[0] += rip != prev
        counts[1] += 1
    return sorted(([i, s, name] for name, (i, s) in per.items()),
                  key=lambda x: (-x[0], -x[1], x[2]))


def resolve(symbols, case):
    module, pattern = CASES[case]
    found = [(addr, name) for addr, name, mod in symbols
             if mod == module and re.search(pattern, name) and not name.startswith('__pfx_')]
    if len(found) != 1:
        raise LookupError('%s: %d symbols match %s in %s: %s' % (
            case, len(found), pattern, module or 'the kernel', [n for _, n in found][:4]))
    return found[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--gdb', required=True)
    ap.add_argument('--ctl', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--debug', action='store_true', help='log the protocol on stderr')
    ap.add_argument('--profile', action='store_true',
                    help="the first call's instructions and steps per function, on stderr and "
                    "in --out")
    ap.add_argument('--arch', choices=sorted(REGS), default='x86_64',
                    help="the guest's architecture (default x86_64)")
    args = ap.parse_args()
    global DEBUG, PROFILE, ARCH
    DEBUG = args.debug
    PROFILE = args.profile
    ARCH = args.arch

    ctl = Lines(args.ctl)
    result = {'cases': {}, 'errors': []}
    symbols = []
    gdb = None
    try:
        while True:
            line = ctl.line()
            if line.startswith('sym '):
                # sym ADDR TYPE NAME [MODULE]
                f = line.split()
                if len(f) >= 4 and f[2] in 'tT':
                    mod = f[4].strip('[]') if len(f) > 4 else None
                    symbols.append((int(f[1], 16), f[3], mod))
                continue
            if line == 'syms-end':
                continue
            if line == 'end':
                break
            m = re.fullmatch(r'ready (\S+) (\d+)', line)
            if not m:
                continue
            case, k = m.group(1), int(m.group(2))
            if gdb is None:
                gdb = Gdb(args.gdb)   # connecting stops the VM
            else:
                gdb.stop()
            entry = {'calls': k, 'instructions': [], 'steps': []}
            result['cases'][case] = entry
            try:
                addr, name = resolve(symbols, case)
                entry['symbol'] = name
                if gdb.command('Z0,%x,1' % addr) != 'OK':
                    raise RuntimeError('cannot set a breakpoint at %#x' % addr)
            except (LookupError, RuntimeError) as e:
                entry['error'] = str(e)
                result['errors'].append(str(e))
                addr = None
            started = time.time()
            gdb.resume()
            ctl.say('go')
            while True:
                if gdb.poll() is not None:   # a stop: our breakpoint, we hope
                    if gdb.reg(REGS[ARCH]['pc']) == addr:
                        # The first call's steps, per function (RMP_BENCH_PROFILE).
                        trace = [] if PROFILE and not entry['instructions'] else None
                        insns, steps = count_call(gdb, addr, trace)
                        entry['instructions'].append(insns)
                        entry['steps'].append(steps)
                        if trace is not None:
                            entry['profile'] = profile(symbols, trace)
                    gdb.resume()
                    continue
                if ctl.ready() or select.select([ctl.sock], [], [], 0)[0]:
                    if ctl.line() == 'done %s' % case:
                        break
                    continue
                if not select.select([gdb.sock, ctl.sock], [], [], 600)[0]:
                    raise TimeoutError('%s: neither a hit nor "done" in 600 s' % case)
            gdb.stop()
            if addr is not None:
                gdb.command('z0,%x,1' % addr)
            gdb.resume()
            entry['seconds'] = round(time.time() - started, 1)
            if addr is not None and len(entry['instructions']) != k:
                msg = '%s: %d hits, %d calls expected' % (case, len(entry['instructions']), k)
                result['errors'].append(msg)
            print('count: %s: %s' % (case, entry['instructions'] or entry.get('error')),
                  file=sys.stderr, flush=True)
            for insns, steps, name in entry.get('profile', []):
                print('count: %s:   %6d %6d %s' % (case, insns, steps, name), file=sys.stderr,
                      flush=True)
            ctl.say('ok')
    except (EOFError, TimeoutError, OSError, RuntimeError) as e:
        result['errors'].append('counting stopped: %s' % e)
    finally:
        if gdb is not None:
            try:
                gdb.stop()
                gdb.send('D')
            except (EOFError, TimeoutError, OSError):
                pass
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == '__main__':
    sys.exit(main())
