# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# The Binder battery (Documentation/binder.rst), sourced by scripts/rmp: the kernel's own Rust
# Binder built out of tree as rust_binder.ko, the same driver ported onto this project's crate
# as rust_binder_ported.ko, and one boot per Binder driver running
# kunit/binder/binder_battery.c against it. x86_64 test kernel only (kunit/binder.kunitconfig).
#
# rust_binder.ko: the provisioned source's drivers/android/binder/ is copied into a build
# directory in the cache, the project's patches (samples/rust_binder/patches/, in the order of
# their series file) are applied to the copy, samples/rust_binder/Kbuild replaces its Makefile,
# and the copy is built with make -C <test kernel> M=<copy>. Nothing of it lands in the
# checkout. The directory is keyed by the kernel and the patches: an unchanged series is not
# rebuilt. rust_binder_ported.ko: the same from patches/series.ported and Kbuild.ported, in a
# directory of its own, keyed by the crate too.

RMP_BINDER_DIR=$RMP_TOP/samples/rust_binder
# The drivers, one boot each: C Binder cannot be unloaded, and all register the "binder" file
# system. The name is the battery's argument and its suite's suffix (rmp_binder_<name>): c (C
# Binder), rust (the unmodified Rust Binder), ported (the Rust Binder on this project's crate).
RMP_BINDER_DRIVERS=(c rust ported)

# Does this run have the battery? The x86_64 test kernel, this project's run, all suites.
rmp_binder_enabled() {
	[ "$RMP_ARCH" = x86_64 ] && [ "$RMP_KERNEL" = test ] && [ -z "${RMP_CONSUMER:-}" ] &&
		[ -z "${RMP_SUITES:-}" ]
}

# The patch files of series file $1 (patches/series or patches/series.ported), in order ('#'
# starts a comment).
rmp_binder_series() {
	sed 's/#.*//' "$RMP_BINDER_DIR/patches/$1" | awk 'NF { print $1 }'
}

# The .ko of each Rust Binder build, by driver name (rust, ported), set by rmp_binder_build.
declare -A RMP_BINDER_KOS=()

# rmp_binder_build DRIVER: builds the Rust Binder of DRIVER (above) and records its .ko in
# RMP_BINDER_KOS. rust: rust_binder.ko, patches/series, Kbuild. ported: rust_binder_ported.ko,
# patches/series.ported, Kbuild.ported, against this checkout's crate, which cmd_build has built
# just before (rmp_kmake modules): RMP_DIR names the checkout, as for any driver that includes
# rust/consumer.mk, and the key hashes the crate's metadata and exported symbols, so that a
# changed crate rebuilds the driver. Each build has its own directory, rust_binder-<key> or
# rust_binder_ported-<key>; a build removes only its own older ones.
rmp_binder_build() {
	local drv=$1 src=$RMP_SRC/drivers/android/binder series kbuild name key dir p
	local kargs=()
	[ -d "$src" ] || rmp_die "no drivers/android/binder/ in $RMP_SRC" \
		"the kernel source has no Rust Binder: the battery needs 6.18 or later"
	case "$drv" in
	rust) series=series kbuild=Kbuild name=rust_binder ;;
	ported)
		series=series.ported kbuild=Kbuild.ported name=rust_binder_ported
		kargs=(RMP_DIR="$RMP_MTOP")
		# The port's series is the unmodified driver's plus the port: the two columns of the
		# table then differ by the port alone.
		[ "$(rmp_binder_series series)" = \
			"$(rmp_binder_series series.ported | head -n "$(rmp_binder_series series | wc -l)")" ] ||
			rmp_die "patches/series.ported does not start with the patches of patches/series" \
				"list every patch of series first, in its order, then the port's (Documentation/binder.rst)"
		{ [ -e "$RMP_MTOP/rust/libmmap_prepare.rmeta" ] && [ -e "$RMP_MTOP/Module.symvers" ]; } ||
			rmp_die "no rust/libmmap_prepare.rmeta or Module.symvers in $RMP_MTOP" \
				"internal error: the crate is built before the ported Rust Binder"
		;;
	*) rmp_die "rmp_binder_build: no Rust Binder named $drv" ;;
	esac
	key=$( {
		basename "$RMP_KDIR"
		cat "$RMP_BINDER_DIR/$kbuild" "$RMP_BINDER_DIR/patches/$series"
		for p in $(rmp_binder_series "$series"); do cat "$RMP_BINDER_DIR/patches/$p"; done
		if [ "$drv" = ported ]; then
			cat "$RMP_MTOP/rust/consumer.mk" "$RMP_MTOP/rust/libmmap_prepare.rmeta"
			awk '$3 == "rust_mmap_prepare"' "$RMP_MTOP/Module.symvers"
		fi
	} | rmp_sha)
	dir=$RMP_OUT/$name-$key
	RMP_BINDER_KOS[$drv]=$dir/$name.ko
	[ -e "$dir/.complete" ] && return 0
	# "$name-"*: rust_binder-* does not match rust_binder_ported-*, nor the other way round.
	rm -rf "$RMP_OUT/$name-"*
	mkdir -p "$dir"
	cp -r "$src"/. "$dir"/
	for p in $(rmp_binder_series "$series"); do
		# git format-patch paths: a/drivers/android/binder/<file>.
		patch -d "$dir" -p4 --fuzz=0 --no-backup-if-mismatch -s <"$RMP_BINDER_DIR/patches/$p" ||
			rmp_die "patch $p ($series) does not apply to $src" \
				"rebase the series onto this kernel (Documentation/binder.rst)"
	done
	cp "$RMP_BINDER_DIR/$kbuild" "$dir/Kbuild"
	rmp_in_root make -C "$RMP_KDIR" M="$dir" "${kargs[@]}" "${RMP_KMAKE_ARGS[@]}" -j"$(nproc)" \
		modules || rmp_die "building $name.ko failed (in $dir)" "fix the patches, then rerun"
	touch "$dir/.complete"
}

# The battery, built static against the Binder UAPI headers of the test kernel's source, as
# make headers exports them (into <kernel>/usr/include; headers_install would need rsync,
# which the build root lacks); its other headers are the build root's.
rmp_binder_build_battery() {
	local hdr=$RMP_OUT/uapi prog
	rm -rf "$hdr" && mkdir -p "$hdr/linux"
	rmp_in_root make -C "$RMP_KDIR" "${RMP_KMAKE_ARGS[@]}" -s headers ||
		rmp_die "make headers failed"
	cp -r "$RMP_KDIR/usr/include/linux/android" "$hdr/linux/" ||
		rmp_die "no linux/android/ in $RMP_KDIR/usr/include after make headers"
	mkdir -p "$RMP_OUT/binder"
	for prog in binder_battery binder_fault_sweep; do
		rmp_in_root "$RMP_CC" -static -O2 -Wall -Wextra -Werror -I"$hdr" \
			-o "$RMP_OUT/binder/$prog" "$RMP_TOP/kunit/binder/$prog.c" ||
			rmp_die "compiling kunit/binder/$prog.c failed" "fix the error above and rerun"
	done
	rmp_binder_build_selftest "$hdr"
}

# The kernel's own binderfs selftest, from the provisioned source: a copy of binderfs_test.c
# with the project's kunit/binder/binderfs_test.patch applied (failed checks that upstream
# reports as skips, Documentation/binder.rst), built static with the source's kselftest_harness.h and the Binder
# UAPI headers in $1. Upstream code stays in the cache, never in the checkout.
RMP_BINDERFS_TEST=tools/testing/selftests/filesystems/binderfs/binderfs_test.c
rmp_binder_build_selftest() {
	local hdr=$1 dir=$RMP_OUT/binder/binderfs_selftest
	[ -e "$RMP_SRC/$RMP_BINDERFS_TEST" ] ||
		rmp_die "no $RMP_BINDERFS_TEST in $RMP_SRC" "the kernel source has no binderfs selftest"
	rm -rf "$dir" && mkdir -p "$dir"
	patch --fuzz=0 --no-backup-if-mismatch -s -o "$dir/binderfs_test.c" \
		"$RMP_SRC/$RMP_BINDERFS_TEST" <"$RMP_TOP/kunit/binder/binderfs_test.patch" ||
		rmp_die "kunit/binder/binderfs_test.patch does not apply to $RMP_SRC/$RMP_BINDERFS_TEST" \
			"rebase the patch onto this kernel's selftest (Documentation/binder.rst)"
	# Warnings off: the code is not ours to change, but through the patch.
	rmp_in_root "$RMP_CC" -static -O2 -pthread -I"$hdr" \
		-I"$RMP_SRC/tools/testing/selftests" -o "$RMP_OUT/binder/binderfs_test" \
		"$dir/binderfs_test.c" ||
		rmp_die "compiling the binderfs selftest ($dir/binderfs_test.c) failed"
}

rmp_binder_build_all() {
	rmp_binder_enabled || return 0
	rmp_phase_begin "Rust Binder out of tree (rust_binder.ko, rust_binder_ported.ko) and the Binder battery"
	# After the crate: cmd_build has built it (rmp_kmake modules) before it calls this.
	rmp_binder_build rust
	rmp_binder_build ported
	rmp_binder_build_battery
	rmp_phase_end
}

# The .ko of driver $1.
rmp_binder_module() {
	case "$1" in
	c) echo "$RMP_KDIR/drivers/android/binder_linux.ko" ;;
	rust | ported) echo "${RMP_BINDER_KOS[$1]}" ;;
	esac
}

# The initramfs of driver $1's boot, at $2: busybox, /init, the driver, the battery, the
# binderfs selftest, the fault sweep, the leak canary's module; for the
# ported driver, the crate's rust_mmap_prepare.ko, this checkout's, which /init loads first.
rmp_binder_initramfs() {
	local drv=$1 img=$2 list=$RMP_OUT/binder/initramfs-$1.list f
	: >"$RMP_OUT/binder/no-modules"
	{
		echo "dir /bin 755 0 0"
		echo "dir /etc 755 0 0"
		echo "dir /etc/rmp 755 0 0"
		echo "dir /lib 755 0 0"
		echo "dir /lib/modules 755 0 0"
		echo "dir /usr 755 0 0"
		echo "dir /usr/libexec 755 0 0"
		echo "dir /usr/libexec/rmp 755 0 0"
		echo "nod /dev/console 600 0 0 c 5 1"
		echo "file /bin/busybox $RMP_BUSYBOX 755 0 0"
		echo "file /init $RMP_TOP/kunit/init.sh 755 0 0"
		echo "file /usr/libexec/rmp/kmemleak $RMP_TOP/kunit/kmemleak.sh 755 0 0"
		echo "file /etc/rmp/modules $RMP_OUT/binder/no-modules 644 0 0"
		echo "file /lib/modules/binder-$drv.ko $(rmp_binder_module "$drv") 644 0 0"
		echo "file /usr/libexec/rmp/binder_battery $RMP_OUT/binder/binder_battery 755 0 0"
		echo "file /usr/libexec/rmp/binderfs_test $RMP_OUT/binder/binderfs_test 755 0 0"
		echo "file /usr/libexec/rmp/binder_fault_sweep $RMP_OUT/binder/binder_fault_sweep 755 0 0"
		# kunit/kmemleak.sh plants its canaries with it, as in the test boot.
		f=$(module_file rmp_kmemleak_canary)
		[ ! -e "$f" ] || echo "file /usr/libexec/rmp/kmemleak_canary.ko $f 644 0 0"
		[ "$drv" != ported ] ||
			echo "file /lib/modules/rust_mmap_prepare.ko $(module_file rust_mmap_prepare) 644 0 0"
	} >"$list"
	rmp_in_root bash -c '"$1/usr/gen_init_cpio" "$2" >"$3"' bash "$RMP_KDIR" "$list" "$img" ||
		rmp_die "gen_init_cpio failed on $list"
}

# A Binder boot's time limit (seconds): the battery takes about 30 s under TCG, the selftest,
# the fault sweep and the leak scan after it about 60 s more with the machine's two cores busy.
RMP_BINDER_TIMEOUT=${RMP_BINDER_TIMEOUT:-360}

# A Binder boot's guest memory (MiB): with the test boot's 2048 a leak scan took 22 to 27 s
# under TCG (kmemleak scans x86's KASAN shadow, an eighth of the memory, and the struct page
# of every page in use); with 512 about half, and more than 300 MiB stay free for the
# battery's 4 MiB mappings and stress. /init fails the boot if page reclaim ran (it would scan
# the drivers' shrinkers on its own, beside the battery's scans). Documentation/binder.rst.
RMP_BINDER_MB=${RMP_BINDER_MB:-512}

# One boot per driver, each appended to the test's console log $1 (whose checks then cover
# them: splats, harness failures, the suites of kunit/expected_suites.binder). A boot that
# never reaches /init is made once more by boot() (_rmp_boot_watched in scripts/rmp), and its
# log says so.
rmp_binder_boots() {
	local main=$1 drv log start secs total=0
	rmp_binder_enabled || return 0
	for drv in "${RMP_BINDER_DRIVERS[@]}"; do
		log=$RMP_OUT/console-binder-$drv.log
		rmp_binder_initramfs "$drv" "$RMP_OUT/binder/initramfs-$drv.cpio"
		rmp_phase_begin "Binder battery on the $drv driver (console log: $log)"
		start=$(date +%s)
		RMP_INITRD=$RMP_OUT/binder/initramfs-$drv.cpio RMP_TIMEOUT=$RMP_BINDER_TIMEOUT \
			RMP_GUEST_MB=$RMP_BINDER_MB \
			RMP_KERNEL_ARGS="kunit.enable=0 rmp.binder=$drv" \
			boot binder "$log" "$RMP_ACCEL" || rmp_log "QEMU exited with status $? (timeout is 124)"
		secs=$(( $(date +%s) - start ))
		total=$((total + secs))
		rmp_phase_end
		{
			echo "rmp-harness: Binder battery boot, driver $drv, ${secs}s"
			cat "$log"
			grep -q 'rmp-harness: END (mode binder)' "$log" ||
				echo "rmp-harness: FAIL: the Binder battery boot of the $drv driver did not finish (log: $log)"
		} >>"$main"
	done
	echo "rmp-harness: Binder battery boots: ${total}s in all" >>"$main"
}

# The table: one row per case, one column per driver, from the boots' logs.
rmp_binder_table() {
	local drv logs=()
	rmp_binder_enabled || return 0
	for drv in "${RMP_BINDER_DRIVERS[@]}"; do
		logs+=("$drv=$RMP_OUT/console-binder-$drv.log")
	done
	python3 "$RMP_TOP/kunit/binder_table.py" "${logs[@]}" || true
	sed -n -e 's/^rmp-harness: \(Binder battery boots: .*\)/\1/p' "$RMP_OUT/console-test.log"
}
