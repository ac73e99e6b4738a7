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
# Debian version, the derived kunitconfig and the toolchain's versions. RMP_BENCH_INLINE_HELPERS=0
# derives a kunitconfig without RUST_INLINE_HELPERS, hence a second bench kernel.

# Debug options: sanitizers, lock debugging, VM/list/atomic-sleep checks, slab debugging,
# KFENCE, kmemleak, fault injection, coverage, page poisoning and owner tracking, and the
# shrinker's debugfs files (SHRINKER_DEBUG, which needs DEBUG_FS). Also the namespaces only the
# binderfs selftest's unprivileged cases need (NAMESPACES, USER_NS): no benchmark uses them.
RMP_BENCH_DEBUG_RE='^(DEBUG_[A-Z0-9_]*|KASAN[A-Z0-9_]*|KMSAN[A-Z0-9_]*|KCSAN[A-Z0-9_]*|UBSAN[A-Z0-9_]*|KFENCE[A-Z0-9_]*|PROVE_[A-Z0-9_]*|LOCKDEP[A-Z0-9_]*|LOCK_STAT|SLUB_DEBUG[A-Z0-9_]*|[A-Z0-9_]*KMEMLEAK[A-Z0-9_]*|FAULT_INJECTION[A-Z0-9_]*|FAIL_[A-Z0-9_]*|FAILSLAB|PAGE_POISONING|PAGE_OWNER|PAGE_TABLE_CHECK[A-Z0-9_]*|KCOV[A-Z0-9_]*|GCOV[A-Z0-9_]*|SHRINKER_DEBUG|NAMESPACES|USER_NS)$'
RMP_BENCH_CONFIG_EXTRA=(CONFIG_TMPFS=y CONFIG_SECRETMEM=y)

# Whether the bench kernel inlines the C helpers into Rust (RUST_INLINE_HELPERS, as the test
# kernel does): RMP_BENCH_INLINE_HELPERS=0 measures a kernel without, as a distribution kernel
# built with GCC must be (the option needs clang and rustc on one LLVM).
rmp_bench_inline_helpers() { [ "${RMP_BENCH_INLINE_HELPERS:-1}" != 0 ]; }

# The bench kernel's kunitconfig, on stdout.
rmp_bench_config() {
	local line name extra frag
	echo "# Bench kernel: kunit/.kunitconfig without its debug options (scripts/bench.sh)."
	while IFS= read -r line || [ -n "$line" ]; do
		if [[ $line =~ ^CONFIG_([A-Za-z0-9_]+)= ]]; then
			name=${BASH_REMATCH[1]}
			[[ $name =~ $RMP_BENCH_DEBUG_RE ]] && continue
			[ "$name" != RUST_INLINE_HELPERS ] || rmp_bench_inline_helpers || continue
		elif [[ ! $line =~ ^#\ CONFIG_[A-Za-z0-9_]+\ is\ not\ set$ ]]; then
			continue # comments and blank lines
		fi
		printf '%s\n' "$line"
	done <"$RMP_TOP/kunit/.kunitconfig"
	# The test kernel's own fragments (x86_64: kunit/binder.kunitconfig), through the same
	# filter: the Binder benchmarks need C Binder as a module and binderfs.
	for frag in "${RMP_TEST_FRAGMENTS[@]}"; do
		echo "# From $(basename "$frag"), without its debug options."
		while IFS= read -r line || [ -n "$line" ]; do
			[[ $line =~ ^CONFIG_([A-Za-z0-9_]+)= ]] || continue
			[[ ${BASH_REMATCH[1]} =~ $RMP_BENCH_DEBUG_RE ]] && continue
			grep -qx "$line" "$RMP_TOP/kunit/.kunitconfig" || printf '%s\n' "$line"
		done <"$frag"
	done
	echo "# Added for the anchors of make bench."
	for extra in "${RMP_BENCH_CONFIG_EXTRA[@]}"; do
		grep -qx "$extra" "$RMP_TOP/kunit/.kunitconfig" || printf '%s\n' "$extra"
	done
	rmp_bench_inline_helpers || echo "# CONFIG_RUST_INLINE_HELPERS is not set"
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
	rmp_phase_begin "bench kernel $ver for $RMP_ARCH (kunit.py build, LLVM=-$RMP_LLVM, no debug options$(rmp_bench_inline_helpers || echo ', no RUST_INLINE_HELPERS'); 6-16 min on 2 cores)"
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
# Set by cmd_bench, once the CPU model (RMP_BENCH_CPU) is known.
RMP_BENCH_MACHINE=()

# ---------------------------------------------------------------------------
# make bench. Settings (environment):
#   RMP_BENCH_BOOTS (2)          boots of the bench kernel, each running every case
#   RMP_BENCH_ROUNDS (7)         rounds per case and boot
#   RMP_BENCH_MS (30)            target duration of one measurement, in milliseconds
#   RMP_BENCH_CASES (all)        comma-separated case names; "binder" (or binder_rtt,
#                                binder_oneway) selects the Binder boots (x86_64), which
#                                "all" includes
#   RMP_BENCH_CALLS (7)          calls counted per hook and boot; 0 skips the counts
#   RMP_BENCH_CPU (max)          QEMU's -cpu model of the guest
#   RMP_BENCH_INLINE_HELPERS (1) 0: the bench kernel without RUST_INLINE_HELPERS
#   RMP_BENCH_PROFILE=1          the counts' first call per function (count.py --profile)
#   RMP_BENCH_DEBUG=1            log the gdbstub protocol in console-bench.log.count
#   RMP_TIMEOUT (1800)           guest time limit of one boot, in seconds
# make bench-doc runs make bench three times (the figures, -cpu qemu64, no inline helpers) and
# writes the figures section of Documentation/benchmarks.rst from the results.

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

# The host around a boot, as JSON on stdout: its load averages and the other guests running.
_rmp_bench_host() {
	local when=$1
	printf '"load_%s": "%s", "qemu_%s": %s' "$when" "$(cut -d' ' -f1-3 /proc/loadavg)" \
		"$when" "$(pgrep -c qemu-system || true)"
}

# What the results file says first: the kernel, its configuration, the machine model.
_rmp_bench_header() {
	local out=$1 dropped still
	dropped=$(rmp_bench_dropped | tr '\n' ' ')
	still=$(for o in $(rmp_bench_dropped); do grep -x "CONFIG_$o=y" "$RMP_BENCH_KDIR/.config" || true; done |
		sed 's/^CONFIG_//; s/=y$//' | tr '\n' ' ')
	{
		echo "make bench, $(date -u '+%Y-%m-%d %H:%M UTC'); checkout $(git -C "$RMP_TOP" describe --always --dirty 2>/dev/null || echo '?')"
		echo "Kernel: Linux $(sed -n 's/^# Linux\/[a-z0-9_]* \(.*\) Kernel Configuration$/\1/p' "$RMP_BENCH_KDIR/.config") ($RMP_ARCH), $(basename "$RMP_BENCH_KDIR"), LLVM=-$RMP_LLVM; booted $RMP_BENCH_NBOOTS times under QEMU TCG $(rmp_in_root "$RMP_QEMU" --version | sed -n '1s/^QEMU emulator version \([^ ]*\).*/\1/p') (${RMP_BENCH_MACHINE[*]} -smp 2 -m 2048)."
		echo "Config: kunit/.kunitconfig without its debug options (${dropped% })$(rmp_bench_inline_helpers || echo ' and without RUST_INLINE_HELPERS'), plus ${RMP_BENCH_CONFIG_EXTRA[*]}:"
		echo "  $(grep '^CONFIG_' "$RMP_BENCH_KDIR.kunitconfig" | tr '\n' ' ')"
		[ -z "$still" ] || echo "Left on by Kconfig defaults: ${still% } (SLUB_DEBUG cannot be unset without CONFIG_EXPERT; it stays inactive without slab_debug=)."
	} >"$out/header.txt"
}

# ---------------------------------------------------------------------------
# The Binder boots of make bench (x86_64: the bench kernel has kunit/binder.kunitconfig's
# options). Each driver needs a boot of its own (C Binder cannot be unloaded, and all three
# register the binder file system): C Binder (binder_linux.ko), the unmodified Rust Binder
# (rust_binder.ko) and the Rust Binder ported onto the crate (rust_binder_ported.ko, the
# crate's rust_mmap_prepare.ko loaded first), built against the bench kernel as
# scripts/binder.sh builds them against the test kernel. kunit/bench/binder/binder_bench.c
# runs the same rounds in every boot; the boots go by sets of one per driver, the drivers'
# order rotated from set to set, and report.py reads set i as one boot: a Rust driver's
# ratio to its anchor is made round by round, round r of its boot over round r of the
# anchor's boot of the same set (booted minutes apart, not interleaved within a boot).
RMP_BENCH_BINDER_CASES=(binder_rtt binder_oneway)

# Whether RMP_BENCH_CASES selects the Binder cases ("all", or "binder" or a Binder case named).
rmp_bench_binder_selected() {
	local c
	[ "$RMP_ARCH" = x86_64 ] || return 1
	[ "${RMP_BENCH_CASES:-all}" = all ] && return 0
	for c in ${RMP_BENCH_CASES//,/ }; do
		[[ " binder ${RMP_BENCH_BINDER_CASES[*]} " == *" $c "* ]] && return 0
	done
	return 1
}

# RMP_BENCH_CASES without the Binder cases, for rmp_bench ("all" stays "all"; empty: none).
rmp_bench_main_cases() {
	local c out=()
	[ "${RMP_BENCH_CASES:-all}" = all ] && { echo all; return; }
	for c in ${RMP_BENCH_CASES//,/ }; do
		[[ " binder ${RMP_BENCH_BINDER_CASES[*]} " == *" $c "* ]] || out+=("$c")
	done
	local IFS=,
	echo "${out[*]}"
}

# _rmp_bench_binder OUT SRC RUN: the Binder boots and their report, into RUN/binder.
_rmp_bench_binder() {
	local out=$1 src=$2 run=$3 drv i j dir log hdr list img rc=0 boots=() order
	# rmp_binder_build's globals, pointed at the bench kernel and its copy of the checkout
	# (where the crate was just built for it).
	local RMP_KDIR=$RMP_BENCH_KDIR RMP_MTOP=$src RMP_OUT=$out
	local bdir=$run/binder
	rmp_phase_begin "Binder drivers and binder_bench for the bench kernel"
	rmp_binder_build rust >"$out/binder-rust.log" 2>&1 ||
		{ tail -n 30 "$out/binder-rust.log"; rmp_die "building rust_binder.ko for the bench kernel failed (log: $out/binder-rust.log)"; }
	rmp_binder_build ported >"$out/binder-ported.log" 2>&1 ||
		{ tail -n 30 "$out/binder-ported.log"; rmp_die "building rust_binder_ported.ko for the bench kernel failed (log: $out/binder-ported.log)"; }
	hdr=$out/uapi
	rm -rf "$hdr" && mkdir -p "$hdr/linux"
	rmp_in_root make -C "$RMP_KDIR" "${RMP_KMAKE_ARGS[@]}" -s headers ||
		rmp_die "make headers in the bench kernel failed"
	cp -r "$RMP_KDIR/usr/include/linux/android" "$hdr/linux/" ||
		rmp_die "no linux/android/ in $RMP_KDIR/usr/include after make headers"
	mkdir -p "$out/binder-bin"
	rmp_in_root "$RMP_CC" -static -O2 -Wall -Wextra -Werror -I"$hdr" \
		-o "$out/binder-bin/binder_bench" "$RMP_TOP/kunit/bench/binder/binder_bench.c" ||
		rmp_die "compiling kunit/bench/binder/binder_bench.c failed"
	for drv in "${RMP_BINDER_DRIVERS[@]}"; do
		list=$out/binder-$drv.list img=$out/binder-$drv.cpio
		if [ "$drv" = ported ]; then
			printf '%s\n' rust_mmap_prepare binder-ported
		else
			echo "binder-$drv"
		fi >"$out/binder-$drv.modules"
		{
			printf 'dir %s 755 0 0\n' /bin /etc /etc/rmp /lib /lib/modules /usr /usr/libexec \
				/usr/libexec/rmp /usr/libexec/rmp/bench
			echo "nod /dev/console 600 0 0 c 5 1"
			echo "file /bin/busybox $RMP_BUSYBOX 755 0 0"
			echo "file /init $RMP_TOP/kunit/init.sh 755 0 0"
			echo "file /etc/rmp/modules $out/binder-$drv.modules 644 0 0"
			echo "file /lib/modules/binder-$drv.ko $(rmp_binder_module "$drv") 644 0 0"
			[ "$drv" != ported ] || echo "file /lib/modules/rust_mmap_prepare.ko $src/rust_mmap_prepare.ko 644 0 0"
			echo "file /usr/libexec/rmp/bench/run $RMP_TOP/kunit/bench/binder_guest.sh 755 0 0"
			echo "file /usr/libexec/rmp/bench/binder_bench $out/binder-bin/binder_bench 755 0 0"
		} >"$list"
		rmp_in_root bash -c '"$1/usr/gen_init_cpio" "$2" >"$3"' bash "$RMP_KDIR" "$list" "$img" ||
			rmp_die "gen_init_cpio failed on $list"
	done
	rmp_phase_end

	rm -rf "$bdir" && mkdir -p "$bdir"
	local n=${#RMP_BINDER_DRIVERS[@]}
	for ((i = 1; i <= RMP_BENCH_NBOOTS; i++)); do
		dir=$bdir/boot-$i
		mkdir -p "$dir"
		boots+=(--boot "$dir")
		echo "{$(_rmp_bench_host before)" >"$dir/host.json.part"
		order=()
		for ((j = 0; j < n; j++)); do order+=("${RMP_BINDER_DRIVERS[(j + i - 1) % n]}"); done
		for drv in "${order[@]}"; do
			log=$dir/console-$drv.log
			rmp_phase_begin "Binder boot set $i of $RMP_BENCH_NBOOTS, driver $drv (-cpu $RMP_BENCH_QEMU_CPU; load $(cut -d' ' -f1 /proc/loadavg); console log: $log)"
			rmp_in_root timeout --foreground "${RMP_TIMEOUT:-1800}" "$RMP_QEMU" -nodefaults \
				-no-reboot -m 2048 -smp 2 -accel tcg "${RMP_BENCH_MACHINE[@]}" \
				-kernel "$RMP_KDIR/$RMP_KIMAGE" -initrd "$out/binder-$drv.cpio" \
				-append "console=$RMP_CONSOLE kunit_shutdown=none kunit.enable=0 panic=-1 rmp.mode=bench rmp.binder=$drv rmp.bench_rounds=${RMP_BENCH_ROUNDS:-7} rmp.bench_ms=${RMP_BENCH_MS:-30}" \
				-display none -monitor none -serial stdio </dev/null >"$log" 2>&1 ||
				rmp_log "QEMU exited with status $? (timeout is 124)"
			rmp_phase_end
			# report.py sees a set as one boot: a driver's boot that did not finish is said
			# here, as the set's other boots would hide it.
			grep -q '^rmp-bench-end' "$log" && grep -q 'rmp-harness: END (mode bench)' "$log" || {
				rc=1; rmp_log "the $drv Binder boot of set $i did not finish its timings (log: $log)"; }
		done
		echo ", $(_rmp_bench_host after)}" >>"$dir/host.json.part"
		tr -d '\n' <"$dir/host.json.part" >"$dir/host.json" && rm -f "$dir/host.json.part"
		for drv in "${order[@]}"; do cat "$dir/console-$drv.log"; done >"$dir/console-bench.log"
	done
	{
		cat "$run/header.txt"
		echo "Binder: one boot per driver and set (${RMP_BINDER_DRIVERS[*]}: C Binder binder_linux.ko, the unmodified Rust Binder rust_binder.ko, the Rust Binder ported onto the crate rust_binder_ported.ko with rust_mmap_prepare.ko), the drivers' order rotated from set to set; a \"boot\" below is one such set, and a ratio compares round r of two boots of one set. No instruction counts."
	} >"$bdir/header.txt"
	rmp_in_root python3 "$RMP_TOP/kunit/bench/report.py" "${boots[@]}" --header "$bdir/header.txt" \
		--out "$bdir/results" || rc=1
	return $rc
}

# Runs make bench with the settings of the environment; RMP_BENCH_RESULTS is then the results'
# directory.
RMP_BENCH_RESULTS=
RMP_BENCH_BINDER_RESULTS=
cmd_bench() {
	[ "$RMP_KERNEL" = test ] ||
		rmp_die "make bench KERNEL=$RMP_KERNEL: the bench kernel is built from the test kernel's source and toolchain" \
			"drop KERNEL=$RMP_KERNEL"
	rmp_ensure_root
	rmp_bench_ensure_kernel
	local out src bin run c i rc=0
	RMP_BENCH_QEMU_CPU=${RMP_BENCH_CPU:-max}
	RMP_BENCH_NBOOTS=${RMP_BENCH_BOOTS:-2}
	case "$RMP_ARCH" in
	x86_64) RMP_BENCH_MACHINE=(-cpu "$RMP_BENCH_QEMU_CPU") ;;
	arm64) RMP_BENCH_MACHINE=(-machine virt -cpu "$RMP_BENCH_QEMU_CPU",pauth-impdef=on) ;;
	esac
	[[ $RMP_BENCH_NBOOTS =~ ^[1-9][0-9]*$ ]] || rmp_die "RMP_BENCH_BOOTS must be a number of boots, 1 or more"
	out=$RMP_CACHE/out/$(basename "$RMP_BENCH_KDIR")-$(printf '%s' "$RMP_TOP" | rmp_sha)
	# One directory per CPU model: boot-1, boot-2, ... and results.
	run=$out/cpu-${RMP_BENCH_QEMU_CPU//[^A-Za-z0-9]/_}
	src=$out/src bin=$out/bin
	mkdir -p "$out"
	rmp_phase_begin "modules and guest programs for the bench kernel (in a copy: $src)"
	_rmp_bench_sync "$src"
	# The test kernel's make arguments (LLVM, ARCH): the bench kernel is built the same way.
	rmp_in_root make -C "$RMP_BENCH_KDIR" M="$src" "${RMP_KMAKE_ARGS[@]}" -j"$(nproc)" modules \
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

	local calls=${RMP_BENCH_CALLS:-7} boots=() dir log main_cases nmain
	main_cases=$(rmp_bench_main_cases)
	# Only Binder cases selected (RMP_BENCH_CASES=binder): no boot of the samples.
	nmain=$RMP_BENCH_NBOOTS
	[ -n "$main_cases" ] || nmain=0
	rm -rf "$run" && mkdir -p "$run"
	for ((i = 1; i <= nmain; i++)); do
		dir=$run/boot-$i log=$run/boot-$i/console-bench.log
		mkdir -p "$dir"
		boots+=(--boot "$dir")
		rmp_phase_begin "boot $i of $RMP_BENCH_NBOOTS of the bench kernel (-cpu $RMP_BENCH_QEMU_CPU): timings, then instruction counts (load $(cut -d' ' -f1 /proc/loadavg); console log: $log)"
		echo "{$(_rmp_bench_host before)" >"$dir/host.json.part"
		rmp_in_root timeout --foreground "${RMP_TIMEOUT:-1800}" bash -c '
			log=$1 counts=$2 count_py=$3 debug=$4; shift 4
			"$@" </dev/null >"$log" 2>&1 &
			qemu=$!
			python3 "$count_py" --gdb /tmp/gdb.sock --ctl /tmp/ctl.sock --out "$counts" $debug \
				2>"$log.count" || echo "count.py exited with status $?" >>"$log.count"
			wait $qemu' bash "$log" "$dir/counts.json" "$RMP_TOP/kunit/bench/count.py" \
			"--arch $RMP_ARCH $([ -z "${RMP_BENCH_DEBUG:-}" ] || echo --debug) $([ -z "${RMP_BENCH_PROFILE:-}" ] || echo --profile)" \
			"$RMP_QEMU" -nodefaults -no-reboot -m 2048 -smp 2 -accel tcg "${RMP_BENCH_MACHINE[@]}" \
			-kernel "$RMP_BENCH_KDIR/$RMP_KIMAGE" -initrd "$out/initramfs.cpio" \
			-append "console=$RMP_CONSOLE kunit_shutdown=none panic=-1 rmp.mode=bench rmp.bench_rounds=${RMP_BENCH_ROUNDS:-7} rmp.bench_ms=${RMP_BENCH_MS:-30} rmp.bench_cases=$main_cases rmp.bench_calls=$calls${RMP_BENCH_PROFILE:+ rmp.bench_profile=1}" \
			-display none -monitor none -serial stdio \
			-serial unix:/tmp/ctl.sock,server=on,wait=off -gdb unix:/tmp/gdb.sock,server=on,wait=off ||
			rmp_log "QEMU exited with status $? (timeout is 124)"
		echo ", $(_rmp_bench_host after)}" >>"$dir/host.json.part"
		tr -d '\n' <"$dir/host.json.part" >"$dir/host.json" && rm -f "$dir/host.json.part"
		[ "$calls" -ne 0 ] || rm -f "$dir/counts.json"
		rmp_phase_end
	done

	_rmp_bench_header "$run"
	RMP_BENCH_RESULTS=$run/results
	if [ "$nmain" -gt 0 ]; then
		local args=("${boots[@]}" --header "$run/header.txt" --out "$run/results")
		[ "$calls" -eq 0 ] || args+=(--counts-expected)
		rmp_in_root python3 "$RMP_TOP/kunit/bench/report.py" "${args[@]}" || rc=1
	fi
	# The Binder boots, after the samples' (their tables print last): RMP_BENCH_BINDER_RESULTS.
	RMP_BENCH_BINDER_RESULTS=
	if rmp_bench_binder_selected; then
		_rmp_bench_binder "$out" "$src" "$run" || rc=1
		RMP_BENCH_BINDER_RESULTS=$run/binder/results
	fi
	[ $rc -eq 0 ] || rmp_die "make bench: see the problems above; console logs: $run/boot-*/console-bench.log, counting logs beside them (.count), Binder boots' $run/binder/boot-*/console-*.log"
}

# ---------------------------------------------------------------------------
# make bench-doc: the figures section of Documentation/benchmarks.rst, from three runs of
# make bench on this checkout, each of RMP_BENCH_BOOTS boots:
#   1. the figures: every case, the counts with their per-function profile, -cpu max;
#   2. the cases that move or zero much memory, under QEMU's default CPU model (qemu64,
#      without ERMS and FSRM, so that copies are not single rep movsb/stosb instructions);
#   3. the Rust hooks' cases on a bench kernel without RUST_INLINE_HELPERS (built on the first
#      run, like the first bench kernel).
# kunit/bench/figures.py then replaces the section between its BEGIN and END lines, naming the
# commit (git describe) and this command; the rest of the file is not touched.
# The first run's Binder boots (x86_64) go into their own section, bench-figures-binder;
# RMP_BENCH_DOC=binder makes only those boots and writes only that section.
# With ARCH=arm64 only the first run is made (qemu64 is an x86 CPU model; a second arm64 bench
# kernel without inline helpers is not worth its build), into the section bench-figures-arm64.
RMP_BENCH_DOC_CPU=qemu64
RMP_BENCH_DOC_CPU_CASES=fault,first_fault,lifecycle,send,binder_life
RMP_BENCH_DOC_HELPERS_CASES=mmap_munmap,create_close,fault,send,free,binder_life

# The disassembly of symbol $2 in the object $1, demangled, into $3.
_rmp_bench_listing() {
	rmp_in_root bash -c 'llvm-objdump-'"$RMP_LLVM"' -d -r --no-show-raw-insn --disassemble-symbols="$1" "$2" |
		sed -n "/^[0-9a-f]* </,\$p" | llvm-cxxfilt-'"$RMP_LLVM" bash "$2" "$1" >"$3" ||
		rmp_die "cannot disassemble $2 in $1"
}

# _rmp_bench_doc_binder RESULTS STAMP COMMAND: the Binder section of benchmarks.rst.
_rmp_bench_doc_binder() {
	rmp_in_root python3 "$RMP_TOP/kunit/bench/figures.py" --main "$1/results.json" \
		--section binder --stamp "$2" --command "$3" \
		--doc "$RMP_TOP/Documentation/benchmarks.rst" ||
		rmp_die "writing the Binder figures into Documentation/benchmarks.rst failed"
	rmp_log "Documentation/benchmarks.rst: Binder figures of $2 written; results: $1"
}

cmd_bench-doc() {
	local stamp cmd v main cpu helpers sym
	stamp=$(git -C "$RMP_TOP" describe --always --dirty)
	[[ $stamp != *-dirty ]] ||
		rmp_log "warning: uncommitted changes: the figures will name $stamp, which no one can check out"
	cmd="make bench-doc"
	[ "$RMP_ARCH" = x86_64 ] || cmd="$cmd ARCH=$RMP_ARCH"
	for v in RMP_BENCH_BOOTS RMP_BENCH_ROUNDS RMP_BENCH_MS RMP_BENCH_CALLS; do
		[ -z "${!v:-}" ] || cmd="$v=${!v} $cmd"
	done
	if [ "${RMP_BENCH_DOC:-}" = binder ]; then
		# The Binder boots alone, into their own section.
		cmd="RMP_BENCH_DOC=binder $cmd"
		RMP_BENCH_CPU=max RMP_BENCH_INLINE_HELPERS=1 RMP_BENCH_CASES=binder RMP_BENCH_PROFILE= \
			cmd_bench
		_rmp_bench_doc_binder "$RMP_BENCH_BINDER_RESULTS" "$stamp" "$cmd"
		return 0
	fi
	RMP_BENCH_CPU=max RMP_BENCH_INLINE_HELPERS=1 RMP_BENCH_CASES=all RMP_BENCH_PROFILE=1 cmd_bench
	main=$RMP_BENCH_RESULTS
	# The Binder boots ran with the first configuration (x86_64): their section now.
	[ -z "$RMP_BENCH_BINDER_RESULTS" ] || _rmp_bench_doc_binder "$RMP_BENCH_BINDER_RESULTS" "$stamp" "$cmd"
	# The Rust mmap_prepare the counts broke on, and memfd_secret's, as compiled.
	sym=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["cases"]["mmap_prepare_rust"]["symbol"])' \
		"$main/../boot-1/counts.json") || rmp_die "no counted symbol of mmap_prepare_rust in $main/../boot-1/counts.json"
	_rmp_bench_listing "$main/../../src/samples/rust_secretmem.ko" "$sym" "$main/listing-rust.txt"
	_rmp_bench_listing "$RMP_BENCH_KDIR/vmlinux" secretmem_mmap_prepare "$main/listing-c.txt"
	if [ "$RMP_ARCH" != x86_64 ]; then
		rmp_in_root python3 "$RMP_TOP/kunit/bench/figures.py" --main "$main/results.json" \
			--listing "rust_secretmem's mmap_prepare on $RMP_ARCH, as the counts ran it=$main/listing-rust.txt" \
			--listing "memfd_secret's secretmem_mmap_prepare on $RMP_ARCH=$main/listing-c.txt" \
			--section "$RMP_ARCH" --stamp "$stamp" --command "$cmd" \
			--doc "$RMP_TOP/Documentation/benchmarks.rst" ||
			rmp_die "writing the $RMP_ARCH figures into Documentation/benchmarks.rst failed"
		rmp_log "Documentation/benchmarks.rst: $RMP_ARCH figures of $stamp written; results: $main"
		return 0
	fi
	RMP_BENCH_CPU=$RMP_BENCH_DOC_CPU RMP_BENCH_INLINE_HELPERS=1 RMP_BENCH_CASES=$RMP_BENCH_DOC_CPU_CASES \
		RMP_BENCH_PROFILE= cmd_bench
	cpu=$RMP_BENCH_RESULTS
	RMP_BENCH_CPU=max RMP_BENCH_INLINE_HELPERS=0 RMP_BENCH_CASES=$RMP_BENCH_DOC_HELPERS_CASES \
		RMP_BENCH_PROFILE= cmd_bench
	helpers=$RMP_BENCH_RESULTS
	rmp_in_root python3 "$RMP_TOP/kunit/bench/figures.py" --main "$main/results.json" \
		--cpu "$cpu/results.json" --helpers "$helpers/results.json" \
		--listing "rust_secretmem's mmap_prepare, as the counts ran it (the trampoline, with the sample's hook inlined)=$main/listing-rust.txt" \
		--listing "memfd_secret's secretmem_mmap_prepare=$main/listing-c.txt" \
		--stamp "$stamp" --command "$cmd" --doc "$RMP_TOP/Documentation/benchmarks.rst" ||
		rmp_die "writing the figures into Documentation/benchmarks.rst failed"
	rmp_log "Documentation/benchmarks.rst: figures of $stamp written; results: $main, $cpu, $helpers"
}
