# SPDX-License-Identifier: GPL-2.0
# `make bench`: timings and instruction counts of the samples against their C anchors.
# Sourced by scripts/rmp (after lib.sh), which calls cmd_bench. Method and figures:
# Documentation/benchmarks.rst.
#
# The bench kernel is built beside the test kernel, from the same source with the same
# toolchain, by the same kunit.py build, from a kunitconfig derived from kunit/.kunitconfig:
#   - every line that sets an option whose name matches RMP_BENCH_DEBUG_RE is dropped, so a
#     debug option added to kunit/.kunitconfig later is left out of the bench kernel too;
#   - RMP_BENCH_CONFIG_EXTRA is added, for what the anchors need (memfd_create needs TMPFS).
# Its directory, build/linux-<version>-bench-<key>, is keyed like the test kernel's: the
# Debian version, the derived kunitconfig and the toolchain's versions.

# Debug options: sanitizers, lock debugging, VM/list/atomic-sleep checks, slab debugging,
# KFENCE, kmemleak, fault injection, coverage, page poisoning and owner tracking.
RMP_BENCH_DEBUG_RE='^(DEBUG_[A-Z0-9_]*|KASAN[A-Z0-9_]*|KMSAN[A-Z0-9_]*|KCSAN[A-Z0-9_]*|UBSAN[A-Z0-9_]*|KFENCE[A-Z0-9_]*|PROVE_[A-Z0-9_]*|LOCKDEP[A-Z0-9_]*|LOCK_STAT|SLUB_DEBUG[A-Z0-9_]*|[A-Z0-9_]*KMEMLEAK[A-Z0-9_]*|FAULT_INJECTION[A-Z0-9_]*|FAIL_[A-Z0-9_]*|FAILSLAB|PAGE_POISONING|PAGE_OWNER|PAGE_TABLE_CHECK[A-Z0-9_]*|KCOV[A-Z0-9_]*|GCOV[A-Z0-9_]*)$'
RMP_BENCH_CONFIG_EXTRA=(CONFIG_TMPFS=y CONFIG_SECRETMEM=y)

# The bench kernel's kunitconfig, on stdout.
rmp_bench_config() {
	local line name extra
	echo "# Bench kernel: kunit/.kunitconfig without its debug options (scripts/bench.sh)."
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line =~ ^CONFIG_([A-Za-z0-9_]+)= ]]; then
			name=${BASH_REMATCH[1]}
			[[ $name =~ $RMP_BENCH_DEBUG_RE ]] && continue
		elif [[ ! $line =~ ^#\ CONFIG_[A-Za-z0-9_]+\ is\ not\ set$ ]]; then
			continue # comments and blank lines
		fi
		printf '%s\n' "$line"
	done <"$RMP_TOP/kunit/.kunitconfig"
	echo "# Added for the anchors of make bench."
	for extra in "${RMP_BENCH_CONFIG_EXTRA[@]}"; do
		grep -qx "$extra" "$RMP_TOP/kunit/.kunitconfig" || printf '%s\n' "$extra"
	done
}

# The options of kunit/.kunitconfig the filter dropped, one per line.
rmp_bench_dropped() {
	sed -n 's/^CONFIG_\([A-Za-z0-9_]*\)=.*/\1/p' "$RMP_TOP/kunit/.kunitconfig" |
		grep -E "$RMP_BENCH_DEBUG_RE" || true
}

# Sets RMP_BENCH_KDIR to the bench kernel's build directory, building it if needed.
rmp_bench_ensure_kernel() {
	local ver key cfg
	ver=$(rmp_kernel_source_version)
	rmp_ensure_source "$ver"
	cfg=$(rmp_bench_config)
	# For another architecture than x86_64 (whose key is what it always was): its name and
	# fragment (kunit/arm64.kunitconfig), as for the test kernel.
	key=$( {
		echo "$ver"
		printf '%s\n' "$cfg"
		if [ "$RMP_ARCH" != x86_64 ]; then
			echo "ARCH=$RMP_ARCH"
			cat "${RMP_KUNITCONFIGS[@]:1}"
		fi
		rmp_toolchain_id
	} | rmp_sha)
	RMP_BENCH_KDIR=$RMP_CACHE/build/linux-$ver-bench-$key
	[ "$RMP_ARCH" = x86_64 ] || RMP_BENCH_KDIR=$RMP_CACHE/build/linux-$ver-$RMP_ARCH-bench-$key
	[ -e "$RMP_BENCH_KDIR/.complete" ] && return 0
	rmp_phase_begin "bench kernel $ver for $RMP_ARCH (kunit.py build, LLVM=-$RMP_LLVM, no debug options; ~6-15 min on 2 cores)"
	mkdir -p "$RMP_BENCH_KDIR"
	printf '%s\n' "$cfg" >"$RMP_BENCH_KDIR.kunitconfig"
	_rmp_bench_objects() { echo "$(find "$RMP_BENCH_KDIR" -name '*.o' | wc -l) objects built (~1200 in all)"; }
	RMP_PROGRESS=_rmp_bench_objects rmp_run_logged "$RMP_BENCH_KDIR.log" \
		rmp_kunit_build "$RMP_BENCH_KDIR" "$RMP_BENCH_KDIR.kunitconfig" "${RMP_KUNITCONFIGS[@]:1}" ||
		rmp_die "building the bench kernel failed (log: $RMP_BENCH_KDIR.log)" \
			"read the end of the log; after a fix 'make bench' resumes the build"
	touch "$RMP_BENCH_KDIR/.complete"
	rmp_phase_end
}

# The bench guest's machine: x86_64's QEMU default PC with the max CPU; arm64's as the test
# guest's (scripts/rmp boot()), whose virt board gives the second serial port the counting
# talks over (/dev/ttyAMA1) when QEMU is given two.
case "$RMP_ARCH" in
x86_64) RMP_BENCH_MACHINE=(-cpu max) ;;
arm64) RMP_BENCH_MACHINE=(-machine virt -cpu max,pauth-impdef=on) ;;
esac

# ---------------------------------------------------------------------------
# make bench. Settings (environment): RMP_BENCH_ROUNDS (7), RMP_BENCH_MS (target duration of
# one measurement, 30), RMP_BENCH_CASES (comma-separated case names, or all),
# RMP_BENCH_CALLS (calls counted per hook, 7; 0 skips the counts), RMP_TIMEOUT (1800 s),
# RMP_BENCH_DEBUG=1 (log the gdbstub protocol in console-bench.log.count).

# Copies the checkout's files (tracked and untracked, not ignored) into $1, keeping their
# times, so that make there rebuilds only what changed. The modules are built in that copy:
# objects for the bench kernel never overwrite the test kernel's in the checkout. (Everything
# else is taken from the checkout itself.)
_rmp_bench_sync() {
	rmp_sync_tree "$1"
}

# The initramfs of the bench guest: busybox, /init, the modules, the guest programs.
_rmp_bench_initramfs() {
	local src=$1 bin=$2 out=$3 list=$3/initramfs.list m f
	{
		printf 'dir %s 755 0 0\n' /bin /etc /etc/rmp /lib /lib/modules /usr /usr/libexec \
			/usr/libexec/rmp /usr/libexec/rmp/bench
		echo "nod /dev/console 600 0 0 c 5 1"
		echo "file /bin/busybox $RMP_BUSYBOX 755 0 0"
		echo "file /init $RMP_TOP/kunit/init.sh 755 0 0"
		echo "file /etc/rmp/modules $out/modules 644 0 0"
		for m in $(cat "$out/modules"); do
			f=$(sed -n "s#^\(.*/\)\?$m\.o\$#\1$m.ko#p" "$src/modules.order")
			echo "file /lib/modules/$m.ko $src/${f:-$m.ko} 644 0 0"
		done
		echo "file /usr/libexec/rmp/bench/run $RMP_TOP/kunit/bench/guest.sh 755 0 0"
		for f in "$bin"/*; do
			echo "file /usr/libexec/rmp/bench/$(basename "$f") $f 755 0 0"
		done
	} >"$list"
	rmp_in_root bash -c '"$1/usr/gen_init_cpio" "$2" >"$3"' bash "$RMP_BENCH_KDIR" "$list" \
		"$out/initramfs.cpio" || rmp_die "gen_init_cpio failed on $list"
}

# What the results file says first: the kernel, its configuration, the machine model.
_rmp_bench_header() {
	local out=$1 dropped still
	dropped=$(rmp_bench_dropped | tr '\n' ' ')
	still=$(for o in $(rmp_bench_dropped); do grep -x "CONFIG_$o=y" "$RMP_BENCH_KDIR/.config" || true; done |
		sed 's/^CONFIG_//; s/=y$//' | tr '\n' ' ')
	{
		echo "make bench, $(date -u '+%Y-%m-%d %H:%M UTC'); checkout $(git -C "$RMP_TOP" describe --always --dirty 2>/dev/null || echo '?')"
		echo "Kernel: Linux $(sed -n 's/^# Linux\/[a-z0-9_]* \(.*\) Kernel Configuration$/\1/p' "$RMP_BENCH_KDIR/.config") ($RMP_ARCH), $(basename "$RMP_BENCH_KDIR"), LLVM=-$RMP_LLVM; booted once under QEMU TCG $(rmp_in_root "$RMP_QEMU" --version | sed -n '1s/^QEMU emulator version \([^ ]*\).*/\1/p') (${RMP_BENCH_MACHINE[*]} -smp 2 -m 2048)."
		echo "Config: kunit/.kunitconfig without its debug options (${dropped% }), plus ${RMP_BENCH_CONFIG_EXTRA[*]}:"
		echo "  $(grep '^CONFIG_' "$RMP_BENCH_KDIR.kunitconfig" | tr '\n' ' ')"
		[ -z "$still" ] || echo "Left on by Kconfig defaults: ${still% } (SLUB_DEBUG cannot be unset without CONFIG_EXPERT; it stays inactive without slab_debug=)."
	} >"$out/header.txt"
}

cmd_bench() {
	rmp_ensure_root
	rmp_bench_ensure_kernel
	local out src bin log counts c rc=0
	out=$RMP_CACHE/out/$(basename "$RMP_BENCH_KDIR")-$(printf '%s' "$RMP_TOP" | rmp_sha)
	src=$out/src bin=$out/bin log=$out/console-bench.log counts=$out/counts.json
	mkdir -p "$out"
	rmp_phase_begin "modules and guest programs for the bench kernel (in a copy: $src)"
	_rmp_bench_sync "$src"
	# shellcheck disable=SC2086 # empty for x86_64
	rmp_in_root make -C "$RMP_BENCH_KDIR" M="$src" LLVM=-"$RMP_LLVM" $RMP_KMAKE_ARCH -j"$(nproc)" modules \
		>"$out/modules.log" 2>&1 ||
		{ tail -n 30 "$out/modules.log"; rmp_die "building the modules for the bench kernel failed (log: $out/modules.log)"; }
	rm -rf "$bin" && mkdir -p "$bin"
	for c in "$RMP_TOP"/kunit/bench/userspace/*.c; do
		rmp_in_root "$RMP_CC" -static -O2 -Wall -Wextra -Werror -I"$RMP_TOP/samples/uapi" \
			-o "$bin/$(basename "${c%.c}")" "$c" || rmp_die "compiling $c failed"
	done
	# The sample's userspace test, pointed at the C twin: the guest runs it first.
	rmp_in_root "$RMP_CC" -static -O2 -Wall -Wextra -Werror -I"$RMP_TOP/samples/uapi" \
		-DDEV='"/dev/rust_binder_pages_c"' -DREFCNT='"/sys/module/binder_pages_c/refcnt"' \
		-o "$bin/binder_pages_c_user" "$RMP_TOP/kunit/userspace/binder_pages_user.c" ||
		rmp_die "compiling the C twin's test failed"
	# The library first; no KUnit module.
	{
		echo rust_mmap_prepare
		sed -n 's#^\(.*/\)\?\([^/]*\)\.o$#\2#p' "$src/modules.order" |
			grep -vx -e rust_mmap_prepare -e rust_mmap_prepare_kunit
	} >"$out/modules"
	_rmp_bench_initramfs "$src" "$bin" "$out"
	rmp_phase_end

	local calls=${RMP_BENCH_CALLS:-7}
	rmp_phase_begin "boot the bench kernel once: timings, then instruction counts (console log: $log)"
	rm -f "$counts" "$log.count"
	rmp_in_root timeout --foreground "${RMP_TIMEOUT:-1800}" bash -c '
		log=$1 counts=$2 count_py=$3 debug=$4; shift 4
		"$@" </dev/null >"$log" 2>&1 &
		qemu=$!
		python3 "$count_py" --gdb /tmp/gdb.sock --ctl /tmp/ctl.sock --out "$counts" $debug \
			2>"$log.count" || echo "count.py exited with status $?" >>"$log.count"
		wait $qemu' bash "$log" "$counts" "$RMP_TOP/kunit/bench/count.py" \
		"--arch $RMP_ARCH $([ -z "${RMP_BENCH_DEBUG:-}" ] || echo --debug) $([ -z "${RMP_BENCH_PROFILE:-}" ] || echo --profile)" \
		"$RMP_QEMU" -nodefaults -no-reboot -m 2048 -smp 2 -accel tcg "${RMP_BENCH_MACHINE[@]}" \
		-kernel "$RMP_BENCH_KDIR/$RMP_KIMAGE" -initrd "$out/initramfs.cpio" \
		-append "console=$RMP_CONSOLE kunit_shutdown=none panic=-1 rmp.mode=bench rmp.bench_rounds=${RMP_BENCH_ROUNDS:-7} rmp.bench_ms=${RMP_BENCH_MS:-30} rmp.bench_cases=${RMP_BENCH_CASES:-all} rmp.bench_calls=$calls${RMP_BENCH_PROFILE:+ rmp.bench_profile=1}" \
		-display none -monitor none -serial stdio \
		-serial unix:/tmp/ctl.sock,server=on,wait=off -gdb unix:/tmp/gdb.sock,server=on,wait=off ||
		rmp_log "QEMU exited with status $? (timeout is 124)"
	rmp_phase_end

	_rmp_bench_header "$out"
	local args=(--log "$log" --header "$out/header.txt" --out "$out/results")
	[ "$calls" -eq 0 ] || args+=(--counts "$counts")
	rmp_in_root python3 "$RMP_TOP/kunit/bench/report.py" "${args[@]}" || rc=1
	[ $rc -eq 0 ] || rmp_die "make bench: see the problems above; console log: $log, counting log: $log.count"
}
