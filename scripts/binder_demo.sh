# SPDX-License-Identifier: GPL-2.0
# shellcheck shell=bash
# make run's Binder ping-pong (Documentation/binder.rst), sourced by scripts/rmp: the Rust
# Binder ported onto the crate, rust_binder_ported.ko (scripts/binder.sh builds it), goes into
# the run guest's initramfs with kunit/binder/binder_pingpong.c, and a demo script loads it
# after the crate (the guest loads rust_mmap_prepare.ko first) and runs the ping-pong through
# it. x86_64 test kernel only, as the Binder battery (rmp_binder_enabled).

# rmp_binder_demo_prepare: after prepare_guest (cmd_build has built the driver and exported
# the Binder UAPI headers into $RMP_OUT/uapi); adds the demo to the initramfs and remakes it.
rmp_binder_demo_prepare() {
	rmp_binder_enabled || return 0
	local ko=${RMP_BINDER_KOS[ported]:-} dir=$RMP_OUT/binder-demo
	[ -n "$ko" ] && [ -e "$ko" ] || rmp_die "no rust_binder_ported.ko for the Binder demo" \
		"internal error: cmd_build builds it (scripts/binder.sh)"
	rm -rf "$dir" && mkdir -p "$dir"
	rmp_in_root "$RMP_CC" -static -O2 -Wall -Wextra -Werror -I"$RMP_OUT/uapi" \
		-o "$dir/binder_pingpong" "$RMP_TOP/kunit/binder/binder_pingpong.c" ||
		rmp_die "compiling kunit/binder/binder_pingpong.c failed" "fix the error above and rerun"
	# The demos run in name order: after the samples'.
	cat >"$RMP_OUT/demos/zz_binder_pingpong" <<'SCRIPT'
#!/bin/busybox sh
# The Rust Binder ported onto the crate: loaded after rust_mmap_prepare, which it uses.
insmod /lib/modules/rust_binder_ported.ko || exit 1
echo "loaded rust_binder_ported.ko; /proc/modules:"
awk '$1 == "rust_mmap_prepare" || $1 == "rust_binder_ported" {
	print "  " $1 ", used by: " ($4 == "-" ? "-" : $4) }' /proc/modules
/usr/libexec/rmp/binder_pingpong 3
SCRIPT
	chmod 755 "$RMP_OUT/demos/zz_binder_pingpong"
	{
		echo "file /lib/modules/rust_binder_ported.ko $ko 644 0 0"
		echo "file /usr/libexec/rmp/binder_pingpong $dir/binder_pingpong 755 0 0"
	} >"$dir/initramfs.extra"
	RMP_INITRAMFS_EXTRA=$dir/initramfs.extra make_initramfs "$RMP_OUT/initramfs.cpio"
}
