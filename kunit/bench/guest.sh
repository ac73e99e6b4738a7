#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# make bench, in the guest: /init runs this in mode bench, with the library, the samples and
# the C twin loaded. Settings come from the kernel command line (scripts/bench.sh):
#   rmp.bench_rounds=R rmp.bench_ms=T rmp.bench_cases=a,b|all rmp.bench_calls=K (0: no counts)
# Output is buffered to a file and printed whole, so that printk lines cannot split it and
# the serial console does not run while the clock does.

dir=/usr/libexec/rmp/bench
rounds=7 ms=30 cases=all calls=7
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	rmp.bench_rounds=*) rounds=${arg#*=} ;;
	rmp.bench_ms=*) ms=${arg#*=} ;;
	rmp.bench_cases=*) cases=${arg#*=} ;;
	rmp.bench_calls=*) calls=${arg#*=} ;;
	esac
done
status=0

# The C twin must behave as the Rust sample does: the sample's own userspace test, on it.
"$dir/binder_pages_c_user" >/tmp/twin 2>&1 || status=$?
echo "rmp-bench-twin: $(tail -n 1 /tmp/twin)"
[ $status -eq 0 ] || { cat /tmp/twin; exit $status; }

"$dir/rmp_bench" -r "$rounds" -t "$ms" -c "$cases" >/tmp/bench 2>&1 || status=$?
cat /tmp/bench
[ $status -eq 0 ] || exit $status

if [ "$calls" -gt 0 ]; then
	# One CPU online: nothing runs beside the CPU the host single-steps.
	for cpu in /sys/devices/system/cpu/cpu[1-9]*/online; do
		[ -e "$cpu" ] && echo 0 >"$cpu"
	done
	"$dir/rmp_count" -k "$calls" >/tmp/count 2>&1 || status=$?
	cat /tmp/count
fi
exit $status
