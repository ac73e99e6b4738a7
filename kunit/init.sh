#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the test initramfs (busybox sh). The mode comes from the kernel
# command line, rmp.mode=test|run|shell|bench|probe:
#   test   load every module (their KUnit suites run at load), run the userspace
#          tests, unload the modules, run the tests that load them themselves
#          (/usr/libexec/rmp/after), scan for leaks (kmemleak), reboot (QEMU exits)
#   run    load the modules and run the sample demonstrations
#   shell  load the modules and start a shell on the console; leaving it ends the guest
#   bench  load the modules and run make bench's guest side (kunit/bench/guest.sh)
#   probe  reboot at once (the harness checks that the kernel boots)
#   binder load the Binder driver rmp.binder=c|rust|ported names (/lib/modules/binder-<name>.ko)
#          and run the Binder battery, the kernel's binderfs selftest and the Binder fault
#          sweep against it (scripts/binder.sh), then scan for leaks; the ported driver's
#          initramfs has the crate, /lib/modules/rust_mmap_prepare.ko, loaded first
# Lines starting "rmp-harness: FAIL:" make the host side fail the run.

# First, so that the host knows the kernel's early boot is over (scripts/rmp, _rmp_boot_watched).
echo "rmp-harness: reached /init"
/bin/busybox mkdir -p /proc /sys /dev /tmp /bin /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null

mode=test
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	rmp.mode=*) mode=${arg#rmp.mode=} ;;
	rmp.binder=*) binder=${arg#rmp.binder=} ;;
	esac
done

fail() { echo "rmp-harness: FAIL: $*"; }

finish() {
	echo "rmp-harness: END (mode $mode)"
	sync
	# With QEMU's -no-reboot a reboot ends QEMU (poweroff -f would too, through ACPI).
	reboot -f
}

[ "$mode" = probe ] && finish

# Leaks are scanned for once, at the end; the canaries that prove the scan sees one are
# planted first, so that the whole run overwrites stale pointers to them.
if [ "$mode" = test ]; then
	/usr/libexec/rmp/kmemleak quiet
	/usr/libexec/rmp/kmemleak plant
fi

# Output is buffered to a file first, so printk lines cannot split it.
run_test() {
	"$@" >/tmp/ktap 2>&1 || fail "userspace test $(basename "$1") exited with $?"
	cat /tmp/ktap
}

# A kselftest program (TAP 13, one result per test) as a KTAP suite named $1: its lines
# nested under the suite, its result failed if any test failed or was skipped, or it exited
# with another status than 0.
run_kselftest() {
	suite=$1
	shift
	"$@" >/tmp/kselftest 2>&1
	rc=$?
	echo "KTAP version 1"
	echo "1..1"
	echo "    KTAP version 1"
	echo "    # Subtest: $suite"
	grep -v '^TAP version' /tmp/kselftest | sed 's/^/    /'
	# Every test must run: the Binder boots' kernel has binderfs and user namespaces, so a
	# skip (KSFT_SKIP, 4) means something is missing, and fails the suite too.
	if grep -q '^not ok' /tmp/kselftest || grep -q '^ok [0-9]* [^ ]* # SKIP' /tmp/kselftest ||
		[ $rc -ne 0 ]; then
		echo "    # $(basename "$1") exited with status $rc (a failed or skipped test fails this suite)"
		echo "not ok 1 $suite"
	else
		echo "ok 1 $suite"
	fi
}

# Load in the order the harness wrote (the library before its users).
for m in $(cat /etc/rmp/modules); do
	insmod "/lib/modules/$m.ko" || fail "insmod $m failed"
done
# Where each module landed: the leak report, made once they are gone, shows bare addresses.
[ "$mode" = test ] && awk '{ for (i = 3; i <= NF; i++) if ($i ~ /^0x/)
	print "rmp-harness: module " $1 " size " $2 " at " $i }' /proc/modules

case "$mode" in
test)
	for t in /usr/libexec/rmp/tests/*; do
		[ -x "$t" ] && run_test "$t"
	done
	for m in $(sed '1!G;h;$!d' /etc/rmp/modules); do
		rmmod "$m" || fail "rmmod $m failed"
	done
	for t in /usr/libexec/rmp/after/*; do
		[ -x "$t" ] && run_test "$t"
	done
	/usr/libexec/rmp/kmemleak report
	;;
run)
	status=0
	for d in /usr/libexec/rmp/demos/*; do
		[ -x "$d" ] || continue
		echo "===== $(basename "$d") ====="
		"$d" || { status=$?; fail "demo $(basename "$d") exited with $status"; }
	done
	echo "rmp-harness: demos exit status $status"
	;;
binder)
	up=$(cut -d. -f1 /proc/uptime)
	# Periodic leak scans off: one could catch an object of a transaction in flight. The
	# scan is made once, at the end, as in test mode, after the canaries are planted.
	/usr/libexec/rmp/kmemleak quiet
	/usr/libexec/rmp/kmemleak plant
	# The crate the ported driver uses, before it (only that boot's initramfs has it).
	lib=/lib/modules/rust_mmap_prepare.ko
	if [ -e $lib ] && ! insmod $lib; then
		fail "insmod rust_mmap_prepare failed: the $binder Binder driver needs it"
	elif insmod "/lib/modules/binder-$binder.ko"; then
		# Where the modules landed, for the leak report (as in test mode).
		awk '{ for (i = 3; i <= NF; i++) if ($i ~ /^0x/)
			print "rmp-harness: module " $1 " size " $2 " at " $i }' /proc/modules
		t0=$(date +%s)
		run_test /usr/libexec/rmp/binder_battery "$binder"
		t1=$(date +%s)
		run_kselftest "rmp_binderfs_selftest_$binder" /usr/libexec/rmp/binderfs_test
		t2=$(date +%s)
		run_test /usr/libexec/rmp/binder_fault_sweep "$binder"
		t3=$(date +%s)
		# The boot's guest is small (RMP_BINDER_MB, scripts/binder.sh): page reclaim would
		# scan the drivers' shrinkers on its own, beside the battery's deterministic scans.
		scanned=$(awk '/^pgscan_(kswapd|direct|khugepaged) / { n += $2 } END { print n + 0 }' \
			/proc/vmstat)
		[ "$scanned" = 0 ] || fail "page reclaim ran in the $binder Binder boot ($scanned pages" \
			"scanned): its memory is too small for the shrinker cases (RMP_BINDER_MB)"
	else
		fail "insmod of the $binder Binder driver failed"
	fi
	# The drivers cannot be unloaded: what they hold is still referenced, and not reported.
	/usr/libexec/rmp/kmemleak report "rmp_kmemleak_binder_$binder" "Binder boot, driver $binder"
	[ -z "${t3:-}" ] || echo "rmp-harness: Binder boot of driver $binder, guest seconds:" \
		"kernel boot $up, battery $((t1 - t0)), binderfs selftest $((t2 - t1))," \
		"fault sweep $((t3 - t2)), leak scan $(($(date +%s) - t3))"
	;;
bench)
	/usr/libexec/rmp/bench/run || fail "bench exited with status $?"
	;;
shell)
	echo "Modules loaded: $(cat /etc/rmp/modules | tr '\n' ' ')"
	echo "Leave with 'exit' or 'reboot -f' (or Ctrl-a x)."
	# scripts/rmp holds input that is not a terminal until this line.
	echo "rmp-harness: shell ready"
	setsid cttyhack sh
	;;
esac
finish
