#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# kmemleak in the test guest; kunit/init.sh runs it in test mode.
#   kmemleak quiet   stop the automatic scans (a scan takes seconds under TCG, and may
#                    catch objects of a test in flight): the harness scans at the end only
#   kmemleak plant   leak the canaries: load and unload kmemleak_canary.ko, which leaks one
#                    object at each load, CANARIES times, before any module under test
#   kmemleak report [SUITE [LABEL]]
#                    after every module is unloaded: scan twice (the first scan of an object
#                    only records its checksum; the second reports it if nothing refers to
#                    it and it did not change, and if it is older than 5 s when the scan
#                    starts; each scan confirms with a second pass), the second at least 6 s
#                    after the call (the first scan's time counts towards it), print
#                    the report between markers and a KTAP suite, SUITE (rmp_kmemleak). A
#                    Binder boot (kunit/init.sh) names its own, rmp_kmemleak_binder_<driver>,
#                    and its report, LABEL, which the begin marker carries.
#                    kunit/console_to_ktap.py fails the run on any object in the report but
#                    the canary, naming it (Documentation/test-rig.rst says why any).
# The canaries: objects leaked on purpose (their bytes start "RMP-CANARY-LEAK!"), by
# kunit/kmemleak_canary.c in every test run, a driver's too, and in the project's run also by
# kunit/userspace/after/modules_reload.c through the test device. If they were planted, at
# least one must be reported, or the scan could not have reported a real leak either. Several
# are planted, each by a process of its own, first thing: a pointer to one left on a kernel
# stack or in a register hides it from the scan (a single canary was missed so once), and
# the later loads and the whole run overwrite such leftovers.

k=/sys/kernel/debug/kmemleak
canary=RMP-CANARY-LEAK!
canary_ko=/usr/libexec/rmp/kmemleak_canary.ko
CANARIES=8
[ -e $k ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null

case "$1" in
quiet)
	[ -e $k ] && echo scan=off >$k
	;;
plant)
	[ -e $k ] && [ -e $canary_ko ] || exit 0
	planted=0
	for i in $(seq $CANARIES); do
		insmod $canary_ko || break
		planted=$((planted + 1))
		rmmod rmp_kmemleak_canary || break
	done
	[ $planted -eq $CANARIES ] ||
		echo "rmp-harness: FAIL: kmemleak_canary.ko planted $planted of $CANARIES canaries"
	if [ $planted -gt 0 ]; then
		touch /tmp/rmp-kmemleak-canary
		echo "rmp-harness: kmemleak canary planted: $planted by kmemleak_canary.ko"
	fi
	;;
report)
	suite=${2:-rmp_kmemleak}
	label=${3:+ ($3)}
	if [ -e $k ]; then
		# The wait before the second scan counts from before the first, which takes 3 to
		# 12 s: 7 s by the clock's whole seconds is more than 6 s.
		t0=$(date +%s)
		echo scan >$k
		t1=$(date +%s)
		[ $((t1 - t0)) -ge 7 ] || sleep $((7 - (t1 - t0)))
		t2=$(date +%s)
		echo scan >$k
		t3=$(date +%s)
		echo "rmp-harness: kmemleak: first scan $((t1 - t0)) s, wait $((t2 - t1)) s," \
			"second scan $((t3 - t2)) s"
		cat $k >/tmp/kmemleak
		total=$(grep -c '^unreferenced object' /tmp/kmemleak)
		found=$(grep -c "$canary" /tmp/kmemleak)
		echo "rmp-harness: kmemleak report begin$label"
		cat /tmp/kmemleak
		echo "rmp-harness: kmemleak report end: $total unreferenced objects, $found canaries"
	fi
	echo "KTAP version 1"
	echo "1..1"
	echo "    KTAP version 1"
	echo "    # Subtest: $suite"
	echo "    1..2"
	if [ ! -e $k ]; then
		echo "    ok 1 canary_reported # SKIP no kmemleak in this kernel"
		echo "    ok 2 no_unreferenced_object # SKIP no kmemleak in this kernel"
		echo "ok 1 $suite # SKIP no kmemleak in this kernel"
		exit 0
	fi
	ok=ok
	if [ ! -e /tmp/rmp-kmemleak-canary ]; then
		echo "    ok 1 canary_reported # SKIP no canary planted (no kmemleak_canary.ko)"
	elif [ "$found" -ge 1 ]; then
		echo "    ok 1 canary_reported"
	else
		echo "    # canary_reported: the planted leak is not in the report: the scan missed it"
		echo "    not ok 1 canary_reported"
		ok="not ok"
	fi
	if [ $((total - found)) -eq 0 ]; then
		echo "    ok 2 no_unreferenced_object"
	else
		echo "    # no_unreferenced_object: $((total - found)) objects, in the report above"
		echo "    not ok 2 no_unreferenced_object"
		ok="not ok"
	fi
	echo "$ok 1 $suite"
	;;
esac
