# SPDX-License-Identifier: GPL-2.0
# KERNEL=debian: Debian's own stock kernel, the one a user of the distribution runs, built by
# Debian with gcc-14 and trixie's rustc (the 7.3 kernel's minimum, 1.85). Sourced by
# scripts/rmp after lib.sh; cmd_* of scripts/rmp call these when RMP_KERNEL=debian.
#
# Debian's headers package carries no Rust metadata (.rmeta), so no Rust module can be built
# from it alone. What it lacks is made again from the same source with Debian's .config and
# Debian's toolchain, in a build root of its own (trixie, no backports):
#   root-debian-<key>/          trixie with gcc-14, rustc, rust-src, rust-clippy, bindgen,
#                               libclang, pahole (dwarves), QEMU, busybox
#   stock/<version>/            the stock kernel's packages, unpacked: linux-binary (vmlinuz,
#                               signed), linux-headers-<abi>-amd64 (.config, Module.symvers)
#   build/linux-<version>-debian-<key>/
#                               make O= modules_prepare of the source with Debian's .config:
#                               the Rust metadata of `kernel` and its dependencies, and
#                               Debian's Module.symvers beside it
# Rust symbol names carry a hash of the crate (StableCrateId: crate name, -Cmetadata, and the
# rustc version string): the same rustc and the same crate names give the same names, which
# rmp_debian_check_exports checks before any module of ours is built
# (Documentation/debian-kernel.rst).

RMP_DEBIAN_SUITE=trixie
# The packages of the stock kernel's toolchain, from trixie itself (never backports): gcc-14 is
# Debian's CC (.kernelvariables: x86_64-linux-gnu-gcc-14), rustc/rust-src/bindgen/libclang-dev
# are what linux's Build-Depends resolve to in trixie, dwarves is the pahole of
# CONFIG_PAHOLE_VERSION. Each version is read into the kernel's .config by olddefconfig, which
# must give Debian's .config back unchanged (rmp_debian_ensure_kernel).
RMP_DEBIAN_ROOT_PACKAGES="gcc-14 gcc libc6-dev make flex bison bc libelf-dev libssl-dev cpio kmod"
RMP_DEBIAN_ROOT_PACKAGES+=" python3 perl xz-utils ca-certificates dwarves"
RMP_DEBIAN_ROOT_PACKAGES+=" rustc rust-src rust-clippy bindgen libclang-dev"
RMP_DEBIAN_ROOT_PACKAGES+=" qemu-system-x86 busybox-static"
RMP_DEBIAN_ROOT_KEY=$(printf '%s\n' "$RMP_DEBIAN_SUITE" $RMP_DEBIAN_ROOT_PACKAGES debian-v1 | rmp_sha)
# The compiler Debian's kernel was built with (the headers' .kernelvariables say so).
RMP_DEBIAN_CC=x86_64-linux-gnu-gcc-14
# The flavour: Debian's generic amd64 kernel (not cloud-amd64 nor rt-amd64).
RMP_DEBIAN_FLAVOUR=amd64

# Sets RMP_ROOT (and RMP_LLVM, for LIBCLANG_PATH: trixie's bindgen loads libclang 19, the
# LLVM of trixie's rustc) to the Debian build root. Called by lib.sh for KERNEL=debian.
rmp_debian_select_root() {
	RMP_ROOT=$RMP_CACHE/root-debian-$RMP_DEBIAN_ROOT_KEY
	RMP_LLVM=19
}

rmp_debian_ensure_root() {
	[ -e "$RMP_ROOT/.complete" ] && return 0
	rmp_need_root
	rmp_phase_begin "Debian kernel build root ($RMP_DEBIAN_SUITE, gcc-14, $RMP_DEBIAN_SUITE's rustc)"
	local tmp=$RMP_ROOT.partial
	# No backports: the stock kernel was built with trixie's own toolchain.
	rmp_debootstrap "$tmp" "$RMP_DEBIAN_SUITE" "$RMP_CACHE/logs/debootstrap-debian.log" updates
	local final=$RMP_ROOT RMP_ROOT=$tmp
	rmp_run_logged "$RMP_CACHE/logs/root-debian-apt.log" rmp_in_root bash -euc "
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y --no-install-recommends $RMP_DEBIAN_ROOT_PACKAGES
		apt-get clean" ||
		rmp_die "installing Debian's kernel toolchain failed (log: $RMP_CACHE/logs/root-debian-apt.log)" \
			"read the log; a package may have moved. Delete $tmp and retry"
	touch "$tmp/.complete"
	rm -rf "$final" && mv "$tmp" "$final"
	rmp_phase_end
}

# ---------------------------------------------------------------------------
# The stock kernel of the source's version: Debian builds linux-source-7.3 and the kernel
# packages from one source package, so the metapackages linux-headers-amd64 and
# linux-image-amd64 of the same Debian version name the ABI (e.g. 7.3.4+deb13). Sets
# RMP_STOCK (its directory: vmlinuz, headers/, release) and RMP_STOCK_RELEASE
# (e.g. 7.3.4+deb13-amd64, the uname -r of the stock kernel).
rmp_debian_ensure_stock() {
	local ver=$1 log=$RMP_CACHE/logs/stock-download.log
	RMP_STOCK=$RMP_CACHE/stock/debian-$ver
	if [ -e "$RMP_STOCK/.complete" ]; then
		RMP_STOCK_RELEASE=$(cat "$RMP_STOCK/release")
		return 0
	fi
	rmp_phase_begin "Debian's stock kernel $ver (image and headers)"
	local headers abi tmp=$RMP_STOCK.partial image= p deb
	headers=$(rmp_kernel_apt / apt-cache show "linux-headers-$RMP_DEBIAN_FLAVOUR=$ver" 2>/dev/null |
		sed -n 's/^Depends: //p' | tr ',' '\n' |
		sed -n "s/^ *\(linux-headers-[^ ]*-$RMP_DEBIAN_FLAVOUR\) .*/\1/p" | head -n 1)
	[ -n "$headers" ] ||
		rmp_die "no linux-headers-$RMP_DEBIAN_FLAVOUR $ver in Debian's archive: no stock kernel of the provisioned source" \
			"the source and the kernel packages may be mid-upload; retry later (the lists refresh daily: delete $RMP_APT/updated)"
	abi=${headers#linux-headers-}
	abi=${abi%-"$RMP_DEBIAN_FLAVOUR"}
	rm -rf "$tmp" && mkdir -p "$tmp/debs" "$tmp/x"
	# The image: linux-binary-<abi>-<flavour> holds the signed vmlinuz of linux-image-<abi>-<flavour>
	# (source linux-signed-amd64); older layouts ship it in linux-image-*-unsigned or
	# linux-image-* itself.
	for p in "linux-binary-$abi-$RMP_DEBIAN_FLAVOUR" "linux-image-$abi-$RMP_DEBIAN_FLAVOUR-unsigned" \
		"linux-image-$abi-$RMP_DEBIAN_FLAVOUR"; do
		if rmp_kernel_apt "$tmp/debs" apt-get download "$p=$ver" >>"$log" 2>&1 &&
			dpkg-deb -c "$tmp"/debs/"$p"_*.deb | grep '/vmlinuz' >/dev/null; then
			image=$p
			break
		fi
		rm -f "$tmp"/debs/"$p"_*.deb
	done
	[ -n "$image" ] || rmp_die "no image package with a vmlinuz for $abi-$RMP_DEBIAN_FLAVOUR $ver (log: $log)"
	rmp_kernel_apt "$tmp/debs" apt-get download "$headers=$ver" >>"$log" 2>&1 ||
		rmp_die "downloading $headers $ver failed (log: $log)"
	for deb in "$tmp"/debs/*.deb; do dpkg-deb -x "$deb" "$tmp/x"; done
	RMP_STOCK_RELEASE=$abi-$RMP_DEBIAN_FLAVOUR
	p=$(find "$tmp/x" -path "*/usr/lib/modules/$RMP_STOCK_RELEASE/vmlinuz" -o \
		-path "*/boot/vmlinuz-$RMP_STOCK_RELEASE" | head -n 1)
	[ -n "$p" ] || rmp_die "$image $ver has no vmlinuz for $RMP_STOCK_RELEASE"
	mv "$p" "$tmp/vmlinuz"
	mv "$tmp/x/usr/src/$headers" "$tmp/headers"
	for p in .config Module.symvers; do
		[ -e "$tmp/headers/$p" ] || rmp_die "$headers $ver has no $p"
	done
	echo "$RMP_STOCK_RELEASE" >"$tmp/release"
	printf '%s=%s\n' "$image" "$ver" "$headers" "$ver" >"$tmp/packages"
	rm -rf "$tmp/debs" "$tmp/x"
	rm -rf "$RMP_STOCK" && mv "$tmp" "$RMP_STOCK" && touch "$RMP_STOCK/.complete"
	rmp_log "stock kernel $RMP_STOCK_RELEASE: $(tr '\n' ' ' <"$RMP_STOCK/packages")"
	rmp_phase_end
}

# The toolchain as the .config records it, and the packages behind it.
rmp_debian_toolchain_id() {
	rmp_in_root bash -c "rustc --version; $RMP_DEBIAN_CC --version | head -n 1; bindgen --version
		pahole --version; dpkg-query -W rustc rust-src bindgen binutils dwarves 'libclang1-*' gcc-14"
}

# make in the Debian build root, as Debian's build runs it (the headers' .kernelvariables; the
# release goes into include/config/kernel.release, which M= builds read, and so into the
# modules' vermagic, which must be the stock kernel's).
rmp_debian_make() {
	rmp_in_root make CROSS_COMPILE=x86_64-linux-gnu- CC="$RMP_DEBIAN_CC" \
		KERNELRELEASE="$RMP_STOCK_RELEASE" "$@"
}

# The files of the headers package that make prepare generates from the .config and the
# toolchain: each must come out the same here (compile.h and utsversion.h hold build times).
RMP_DEBIAN_GENERATED="include/config/kernel.release include/generated/autoconf.h
 include/generated/rustc_cfg include/generated/utsrelease.h include/generated/asm-offsets.h
 include/generated/bounds.h include/generated/rq-offsets.h include/generated/timeconst.h"


# Sets RMP_KDIR to the build directory holding what the stock kernel's headers lack (the Rust
# metadata of `kernel` and its dependencies, made by make modules_prepare from the source with
# Debian's .config), with Debian's own Module.symvers. Also sets RMP_SRC, RMP_STOCK,
# RMP_STOCK_RELEASE.
rmp_debian_ensure_kernel() {
	local ver key
	ver=$(rmp_kernel_source_version)
	rmp_ensure_source "$ver"
	rmp_debian_ensure_stock "$ver"
	key=$( {
		echo "$ver"
		cat "$RMP_STOCK/packages"
		sha256sum <"$RMP_STOCK/headers/.config"
		rmp_debian_toolchain_id
		echo debian-v2
	} | rmp_sha)
	RMP_KDIR=$RMP_CACHE/build/linux-$ver-debian-$key
	[ -e "$RMP_KDIR/.complete" ] && return 0
	rmp_phase_begin "Rust metadata of Debian's $RMP_STOCK_RELEASE (make modules_prepare, gcc-14, $(rmp_in_root rustc --version | cut -d' ' -f1-2); 5-10 min on 2 cores)"
	mkdir -p "$RMP_KDIR"
	cp "$RMP_STOCK/headers/.config" "$RMP_KDIR/.config"
	local log=$RMP_KDIR.log
	rmp_debian_make -C "$RMP_SRC" O="$RMP_KDIR" olddefconfig >"$log" 2>&1 ||
		rmp_die "make olddefconfig with Debian's .config failed (log: $log)"
	# olddefconfig records the toolchain's versions in the .config (CONFIG_CC_VERSION_TEXT,
	# CONFIG_RUSTC_VERSION_TEXT, CONFIG_BINDGEN_VERSION_TEXT, CONFIG_PAHOLE_VERSION, ...) and
	# drops what it cannot build: an unchanged .config is Debian's toolchain, option for option.
	if ! diff -u "$RMP_STOCK/headers/.config" "$RMP_KDIR/.config" >"$RMP_KDIR.config-diff"; then
		sed -n '3,40p' "$RMP_KDIR.config-diff" >&2
		rmp_die "the source with Debian's .config and this toolchain gives another .config (diff: $RMP_KDIR.config-diff)" \
			"a toolchain version differs from Debian's build: compare the lines above with the build root's packages"
	fi
	_rmp_debian_objects() { echo "$(find "$RMP_KDIR" -name '*.o' | wc -l) objects, $(ls "$RMP_KDIR"/rust/*.rmeta 2>/dev/null | wc -l) crates' metadata"; }
	RMP_PROGRESS=_rmp_debian_objects rmp_run_logged "$log.prepare" \
		rmp_debian_make -C "$RMP_KDIR" -j"$(nproc)" modules_prepare ||
		rmp_die "make modules_prepare with Debian's .config failed (log: $log.prepare)" \
			"read the end of the log; after a fix the build resumes"
	local f
	for f in $RMP_DEBIAN_GENERATED; do
		[ -e "$RMP_STOCK/headers/$f" ] || continue
		cmp -s "$RMP_STOCK/headers/$f" "$RMP_KDIR/$f" ||
			rmp_die "$f differs from the stock kernel's headers (diff $RMP_STOCK/headers/$f $RMP_KDIR/$f)" \
				"the .config or a toolchain version differs from Debian's build"
	done
	rmp_log "$(echo $RMP_DEBIAN_GENERATED | wc -w) generated headers equal the stock kernel's (autoconf.h, rustc_cfg, asm-offsets.h, ...)"
	# What modpost resolves our modules against, and what the headers package ships for the
	# modules' BTF (a vmlinux holding .BTF only).
	cp "$RMP_STOCK/headers/Module.symvers" "$RMP_KDIR/Module.symvers"
	[ ! -e "$RMP_STOCK/headers/vmlinux" ] || cp "$RMP_STOCK/headers/vmlinux" "$RMP_KDIR/vmlinux"
	mkdir -p "$RMP_KDIR/usr"
	rmp_in_root gcc -O2 -o "$RMP_KDIR/usr/gen_init_cpio" "$RMP_SRC/usr/gen_init_cpio.c" ||
		rmp_die "building gen_init_cpio failed"
	rmp_debian_check_exports || rmp_die "the Rust symbols made here are not the stock kernel's: see above" \
		"Documentation/debian-kernel.rst says what decides a symbol's name"
	touch "$RMP_KDIR/.complete"
	rmp_phase_end
}

# The Rust symbols of the metadata made here against the stock kernel's Module.symvers: every
# one the rebuilt `kernel`, `core`, ... export must be exported by the stock kernel under the
# same name, and the crate hashes in the names must be the stock kernel's
# (scripts/symvers_check.py says which differ and how).
rmp_debian_check_exports() {
	rmp_in_root python3 "$RMP_TOP/scripts/symvers_check.py" exports \
		--symvers "$RMP_STOCK/headers/Module.symvers" --kdir "$RMP_KDIR"
}

# The modules for the stock kernel are built in a copy of the checkout (RMP_MTOP), kept up to
# date here, so that the checkout's objects stay those of the test kernel. Sets RMP_BOOT_IMAGE.
rmp_debian_provision_tree() {
	RMP_BOOT_IMAGE=$RMP_STOCK/vmlinuz
	RMP_MTOP=$RMP_CACHE/out/$(basename "$RMP_KDIR")-$(printf '%s' "$RMP_TOP" | rmp_sha)/src
	rmp_sync_tree "$RMP_MTOP"
}

# ---------------------------------------------------------------------------
# The test run on the stock kernel: kunit/not_run.debian lists what cannot run there.
RMP_DEBIAN_NOT_RUN=$RMP_TOP/kunit/not_run.debian

# Checks kunit/not_run.debian against kunit/expected_suites and the stock kernel's .config,
# prints it, and writes the suites the run must see to $1.
rmp_debian_expected_suites() {
	local out=$1 expected not_run suite prog opt why err=0
	expected=$(sed 's/#.*//' "$RMP_TOP/kunit/expected_suites" | awk 'NF { print $1 }')
	not_run=$(sed 's/#.*//' "$RMP_DEBIAN_NOT_RUN" | awk 'NF { print $1 }')
	rmp_log "not run on the stock kernel ($RMP_STOCK_RELEASE), from kunit/not_run.debian:"
	while read -r suite prog opt why; do
		printf '[rmp]   %-27s CONFIG_%s is not set: %s\n' "$suite" "$opt" "$why" >&2
		if ! grep -qx "$suite" <<<"$expected"; then
			rmp_log "ERROR: kunit/not_run.debian: $suite is not a suite of kunit/expected_suites"
			err=1
		fi
		if grep -q "^CONFIG_$opt=[ym]" "$RMP_STOCK/headers/.config"; then
			rmp_log "ERROR: kunit/not_run.debian: the stock kernel sets CONFIG_$opt: run $suite"
			err=1
		fi
	done < <(sed 's/#.*//' "$RMP_DEBIAN_NOT_RUN" | awk 'NF')
	grep -vxF -f <(printf '%s\n' "$not_run") <<<"$expected" >"$out" || true
	[ $err -eq 0 ] || rmp_die "kunit/not_run.debian is stale: see above"
	rmp_log "the run must see $(wc -l <"$out") suites: $(tr '\n' ' ' <"$out")"
}

# True if kunit/not_run.debian keeps userspace program $1 out of the guest.
rmp_debian_not_run_program() {
	sed 's/#.*//' "$RMP_DEBIAN_NOT_RUN" | awk -v p="$1" '$2 == p { found = 1 } END { exit !found }'
}

# Every symbol our modules import must be exported by the stock kernel (its Module.symvers) or
# by our library: checked before anything is booted or installed.
rmp_debian_check_imports() {
	local kos=() m
	for m in $(sed -n 's#\.o$#.ko#p' "$RMP_MTOP/modules.order"); do kos+=("$RMP_MTOP/$m"); done
	rmp_in_root python3 "$RMP_TOP/scripts/symvers_check.py" imports \
		--symvers "$RMP_KDIR/Module.symvers" --symvers "$RMP_MTOP/Module.symvers" "${kos[@]}" ||
		rmp_die "our modules import symbols the stock kernel $RMP_STOCK_RELEASE does not export: see above" \
			"Documentation/debian-kernel.rst says what decides a Rust symbol's name"
}

# ---------------------------------------------------------------------------
# KERNEL=debian: this file's root and kernel replace the test kernel's for every command.
if [ "$RMP_KERNEL" = debian ]; then
	rmp_debian_select_root
	rmp_ensure_root() { rmp_debian_ensure_root; }
	rmp_ensure_kernel() { rmp_debian_ensure_kernel; }
	# RMP_TEST_MODULES: the test-only modules that need no KUnit (Kbuild). KBUILD_MODPOST_WARN:
	# an unresolved symbol is reported by rmp_debian_check_imports, naming its crate's hash.
	RMP_KMAKE_ARGS=(CROSS_COMPILE=x86_64-linux-gnu- CC="$RMP_DEBIAN_CC" RMP_TEST_MODULES=y
		KBUILD_MODPOST_WARN=1)
fi
