#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench's Binder boots, in the guest: /init runs this in mode bench, with the one Binder
# driver of the boot loaded (rmp.binder=c|rust|ported; the ported driver's boot loads the
# crate, rust_mmap_prepare, first). Settings come from the kernel command line
# (scripts/bench.sh): rmp.bench_rounds=R rmp.bench_ms=T. Output is buffered to a file and
# printed whole, as kunit/bench/guest.sh does.

dir=/usr/libexec/rmp/bench
rounds=7 ms=30 driver=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	rmp.bench_rounds=*) rounds=${arg#*=} ;;
	rmp.bench_ms=*) ms=${arg#*=} ;;
	rmp.binder=*) driver=${arg#*=} ;;
	esac
done
status=0
echo "rmp-bench-binder: driver $driver, modules: $(cut -d' ' -f1 /proc/modules | tr '\n' ' ')"
"$dir/binder_bench" -d "$driver" -r "$rounds" -t "$ms" >/tmp/bench 2>&1 || status=$?
cat /tmp/bench
exit $status
