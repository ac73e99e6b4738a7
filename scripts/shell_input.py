#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run the guest of `make shell` with input that is not a terminal: hold it until the shell runs.

    shell_input.py MARKER COMMAND...

COMMAND (QEMU, its serial port on stdio) runs with its output copied to ours. Our input is
passed on only once that output holds MARKER, which the guest prints just before it starts
its shell: until then the guest cannot take it. The UART's bytes are discarded while the
kernel sets the port up (the 8250 driver clears the FIFO and reads the receive register when
it registers the console, probes the port and when /init's console is first opened), so
input sent from the start loses its first bytes, or all of them. When our input ends, the
shell is sent "exit", so that the guest ends as a script's shell would. The exit status is
COMMAND's.
"""

import os
import subprocess
import sys
import threading

CHUNK = 4096


def relay_output(src, dst, marker, ready):
    """Copy SRC to DST until SRC ends; set READY once MARKER went by."""
    tail = b""
    while True:
        data = os.read(src, CHUNK)
        if not data:
            break
        dst.write(data)
        dst.flush()
        if not ready.is_set():
            tail = (tail + data)[-(len(marker) + CHUNK):]
            if marker in tail:
                ready.set()
    ready.set()


def relay_input(src, proc, ready):
    """Once READY, copy SRC to PROC's input, then "exit" the shell when SRC ends."""
    ready.wait()
    last = b"\n"
    try:
        while proc.poll() is None:
            data = os.read(src, CHUNK)
            if not data:
                break
            proc.stdin.write(data)
            proc.stdin.flush()
            last = data[-1:]
        # A last line without its newline is ended first, as a terminal's Enter would.
        proc.stdin.write((b"" if last == b"\n" else b"\n") + b"exit\n")
        proc.stdin.close()
    except (BrokenPipeError, ValueError):
        pass  # the guest is gone already (reboot -f, a crash)


def main(argv=None):
    """Run the script; return COMMAND's exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    marker, command = argv[0].encode(), argv[1:]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    ready = threading.Event()
    out = threading.Thread(target=relay_output,
                           args=(proc.stdout.fileno(), sys.stdout.buffer, marker, ready))
    # Daemon: it may be blocked reading an input that never ends after the guest is gone.
    inp = threading.Thread(target=relay_input, args=(sys.stdin.fileno(), proc, ready),
                           daemon=True)
    out.start()
    inp.start()
    status = proc.wait()
    out.join()
    return status


if __name__ == "__main__":
    sys.exit(main())
