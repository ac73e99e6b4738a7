# SPDX-License-Identifier: GPL-2.0
# Shared helpers for the provisioning and test scripts. Sourced, not run.
#
# Everything big lives under $RMP_CACHE (default: ~/.cache/rust-mmap-prepare):
#   root-<key>/       Debian trixie build root (clang-22, rustc, bindgen, qemu, busybox)
#   src/linux-<ver>/  unpacked linux-source-7.3
#   build/<key>/      kunit.py build directory of the test kernel
# Each directory is published only once complete (a ".complete" marker written last),
# so an interrupted phase is redone, never taken for done.

set -euo pipefail

RMP_TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RMP_CACHE=${RMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-mmap-prepare}
RMP_SUITE=trixie
RMP_KERNEL_SERIES=7.3
# The LLVM version the kernel is built with; bindgen must load the same libclang.
# It is the LLVM that trixie-backports' rustc is built on, so that Kconfig sees
# RUSTC_CLANG_LLVM_COMPATIBLE and the C helpers can be inlined into Rust
# (RUST_INLINE_HELPERS: LLVM bitcode from clang and rustc, linked together).
RMP_LLVM=22

# The architecture of the test kernel and guest, from `make ... ARCH=`: x86_64 (the default)
# or arm64, which Binder ships on. The build root holds both toolchains and both QEMUs; each
# architecture has its own kernel, keyed like the other, and its own output directory.
case "${ARCH:-x86_64}" in
x86_64 | x86) RMP_ARCH=x86_64 ;;
arm64 | aarch64) RMP_ARCH=arm64 ;;
*) printf '[rmp] ERROR: ARCH=%s: the test guest is x86_64 or arm64\n' "$ARCH" >&2; exit 1 ;;
esac

_rmp_phase_name=
_rmp_phase_start=

rmp_log() { printf '[rmp] %s\n' "$*" >&2; }

# Print a failure in one or two lines that say what to do, and exit.
rmp_die() {
	printf '[rmp] ERROR: %s\n' "$1" >&2
	[ $# -lt 2 ] || printf '[rmp]        %s\n' "$2" >&2
	exit 1
}

rmp_phase_begin() {
	_rmp_phase_name=$1
	_rmp_phase_start=$(date +%s)
	rmp_log "==> $1"
}

rmp_phase_end() {
	local secs=$(( $(date +%s) - _rmp_phase_start ))
	rmp_log "<== $_rmp_phase_name: done in $((secs / 60))m$((secs % 60))s"
}

# Run a long command, keeping its full output in a log and showing a heartbeat
# (the last line of the log every 30 s) so the user sees progress.
rmp_run_logged() {
	local log=$1; shift
	mkdir -p "$(dirname "$log")"
	"$@" >"$log" 2>&1 &
	local pid=$! start
	start=$(date +%s)
	while kill -0 "$pid" 2>/dev/null; do
		sleep 5
		if (( ($(date +%s) - start) % 30 < 5 )) && kill -0 "$pid" 2>/dev/null; then
			rmp_log "    ... $(( $(date +%s) - start ))s: $(${RMP_PROGRESS:-_rmp_log_tail} "$log" | cut -c1-100)"
		fi
	done
	wait "$pid"
}

_rmp_log_tail() { tail -n 1 "$1"; }

# The Debian mirror this machine already uses, from its apt configuration.
# Never hard-coded: the repository names no mirror host.
rmp_debian_mirror() {
	local uri
	uri=$(
		{
			grep -hs '^URIs:' /etc/apt/sources.list.d/*.sources |
				awk '{ for (i = 2; i <= NF; i++) print $i }'
			grep -hs '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list |
				sed -E 's/^deb (\[[^]]*\] )?//' | awk '{ print $1 }'
		} | grep -v -e security -e '^cdrom:' | head -n 1
	)
	[ -n "$uri" ] || rmp_die "no Debian mirror found in /etc/apt/sources.list{,.d}" \
		"configure apt with a Debian mirror (a 'deb' line or a .sources file) and retry"
	printf '%s\n' "${uri%/}"
}

rmp_need_root() {
	[ "$(id -u)" -eq 0 ] || rmp_die "this step needs root (debootstrap, chroot, mounts)" \
		"run it as root, e.g. 'sudo make test'"
}

# Install host packages from the host's own suite, only if missing.
rmp_host_packages() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	rmp_log "installing host packages: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || rmp_die "apt-get update failed" "check the machine's apt configuration and network"
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
		rmp_die "apt-get install ${missing[*]} failed" "install them by hand and retry"
}

rmp_sha() { sha256sum | cut -c1-12; }

# ---------------------------------------------------------------------------
# The build root: Debian trixie with LLVM $RMP_LLVM and trixie-backports' Rust.
# clang-22 comes from trixie main (a stable update), Rust from trixie-backports;
# installing with -t trixie-backports still takes what only main has.
# bookworm's clang is too old for 7.3's bindgen (>= 17) and Rust + KASAN needs a
# clang-built kernel, so the whole kernel toolchain lives in this root and the
# host only needs debootstrap.
RMP_ROOT_PACKAGES="clang-$RMP_LLVM lld-$RMP_LLVM llvm-$RMP_LLVM rustc rust-src rustfmt rust-clippy"
RMP_ROOT_PACKAGES+=" make gcc libc6-dev flex bison bc libelf-dev libssl-dev cpio kmod"
RMP_ROOT_PACKAGES+=" python3 perl xz-utils ca-certificates qemu-system-x86 busybox-static"
# ARCH=arm64: QEMU's aarch64 system emulator and a C cross compiler for the static userspace
# programs (the kernel itself is cross-compiled by clang). The guest's busybox is
# busybox-static:arm64, unpacked beside the root's own (RMP_ROOT_FOREIGN below).
RMP_ROOT_PACKAGES+=" qemu-system-arm gcc-aarch64-linux-gnu libc6-dev-arm64-cross"
# Packages of another architecture, unpacked (not installed) under /usr/lib/rmp/<arch>/.
RMP_ROOT_FOREIGN="busybox-static:arm64"
# bindgen is not in the list: with libclang >= 22, bindgen < 0.72.1 drops the
# fields of many structs (rust-bindgen PR 3278; the kernel's rust_is_available.sh
# warns), and trixie has 0.71.1. rmp_install_bindgen takes a newer Debian one.
RMP_BINDGEN_MIN=0.72.1
RMP_ROOT_KEY=$(printf '%s\n' "$RMP_SUITE" $RMP_ROOT_PACKAGES "bindgen>=$RMP_BINDGEN_MIN" \
	$RMP_ROOT_FOREIGN v1 | rmp_sha)
RMP_ROOT=$RMP_CACHE/root-$RMP_ROOT_KEY

# The host directories rmp_in_root binds into the root at their own paths, one a line.
rmp_root_binds() {
	printf '%s\n' "$RMP_CACHE" "$RMP_TOP" ${RMP_EXTRA_BINDS:-}
}

# Run a command inside the build root. The cache and the project checkout are
# bind-mounted at their own paths, so paths mean the same inside and out. The
# mounts live in a private mount namespace and the processes in a private PID
# namespace: when the command ends, or is killed, nothing is left behind.
rmp_in_root() {
	local binds
	mapfile -t binds < <(rmp_root_binds)
	unshare --mount --pid --fork --propagation private -- \
		bash -euc '
		root=$1; shift; nb=$1; shift
		mount -t proc proc "$root/proc"
		mount --rbind /dev "$root/dev"
		mount -t tmpfs tmpfs "$root/tmp"
		for ((i = 0; i < nb; i++)); do
			mkdir -p "$root$1"; mount --bind "$1" "$root$1"; shift
		done
		exec chroot "$root" /usr/bin/env -i \
			PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root LANG=C.UTF-8 TERM="${TERM:-dumb}" \
			LIBCLANG_PATH=/usr/lib/llvm-'"$RMP_LLVM"'/lib \
			"$@"
		' bash "$RMP_ROOT" "${#binds[@]}" "${binds[@]}" "$@"
}

# rmp_debootstrap DIR SUITE LOG [SUFFIX...]: a minimal Debian SUITE in DIR (made anew), from the
# mirror of this machine's apt configuration, whose sources.list names SUITE and SUITE-SUFFIX
# for each SUFFIX (updates, backports). Both build roots start here.
rmp_debootstrap() {
	local dir=$1 suite=$2 log=$3 mirror suffix
	shift 3
	rmp_host_packages debootstrap
	mirror=$(rmp_debian_mirror)
	rm -rf "$dir"
	mkdir -p "$RMP_CACHE"
	rmp_run_logged "$log" debootstrap --variant=minbase "$suite" "$dir" "$mirror" ||
		rmp_die "debootstrap of $suite failed (log: $log)" \
			"check the network and the mirror in the apt configuration, then retry"
	{
		echo "deb $mirror $suite main"
		for suffix in "$@"; do echo "deb $mirror $suite-$suffix main"; done
	} >"$dir/etc/apt/sources.list"
	rm -f "$dir/etc/apt/sources.list.d/"*
}

rmp_ensure_root() {
	[ -e "$RMP_ROOT/.complete" ] && return 0
	rmp_need_root
	rmp_phase_begin "build root (Debian $RMP_SUITE, clang-$RMP_LLVM, Rust from $RMP_SUITE-backports)"
	local tmp=$RMP_ROOT.partial
	rmp_debootstrap "$tmp" "$RMP_SUITE" "$RMP_CACHE/logs/debootstrap.log" updates backports
	local final=$RMP_ROOT RMP_ROOT=$tmp
	rmp_run_logged "$RMP_CACHE/logs/root-apt.log" rmp_in_root bash -euc "
		export DEBIAN_FRONTEND=noninteractive
		apt-get update
		apt-get install -y --no-install-recommends -t $RMP_SUITE-backports $RMP_ROOT_PACKAGES
		apt-get clean" ||
		rmp_die "installing the toolchain in the build root failed (log: $RMP_CACHE/logs/root-apt.log)" \
			"read the log; a package may have moved suites. Delete $tmp and retry"
	rmp_install_bindgen "$tmp"
	rmp_unpack_foreign "$tmp"
	touch "$tmp/.complete"
	rm -rf "$final" && mv "$tmp" "$final"
	rmp_phase_end
}

# ---------------------------------------------------------------------------
# Kernel source: the newest linux-source-7.3 Debian offers in trixie-backports,
# sid or experimental. Fetched with private apt state inside the build root, so
# nothing from another suite touches the host or the root's own package set.
RMP_APT=$RMP_CACHE/apt-kernel-source

# The machine's mirror may be a dated snapshot whose sid/experimental Release
# files have expired: signatures are still checked, their expiry date is not.
RMP_KERNEL_APT_OPTS="-o Dir::Etc::sourcelist=$RMP_APT/sources.list -o Dir::Etc::sourceparts=-
 -o Dir::State::Lists=$RMP_APT/lists -o Dir::Cache=$RMP_APT/cache -o Debug::NoLocking=1
 -o Acquire::Check-Valid-Until=false -o APT::Sandbox::User=root"

# rmp_kernel_apt DIR apt-get|apt-cache ARGS...: run with the private state, in DIR.
rmp_kernel_apt() {
	local dir=$1 tool=$2; shift 2
	# shellcheck disable=SC2086 # the options are split on purpose
	rmp_in_root bash -c 'cd "$1" && shift && exec "$@"' bash "$dir" "$tool" -q $RMP_KERNEL_APT_OPTS "$@"
}

# Refreshes the private package lists of trixie-backports, sid and experimental
# at most once a day.
rmp_kernel_apt_update() {
	local stamp=$RMP_APT/updated mirror
	mkdir -p "$RMP_CACHE/logs" "$RMP_APT/lists/partial" "$RMP_APT/cache/archives/partial"
	[ -z "$(find "$stamp" -mmin -1440 2>/dev/null)" ] || return 0
	mirror=$(rmp_debian_mirror)
	printf 'deb %s %s main\n' "$mirror" "$RMP_SUITE-backports" "$mirror" sid \
		"$mirror" experimental >"$RMP_APT/sources.list"
	if rmp_kernel_apt / apt-get update >"$RMP_CACHE/logs/kernel-apt.log" 2>&1; then
		touch "$stamp"
	else
		rmp_log "warning: cannot refresh Debian's package lists; using what is cached"
	fi
}

# Prints the Debian version of the newest linux-source-7.3 offered, or of the
# newest one already unpacked when the archive cannot be reached.
rmp_kernel_source_version() {
	local pkg=linux-source-$RMP_KERNEL_SERIES versions best= v
	rmp_kernel_apt_update
	versions=$(rmp_kernel_apt / apt-cache madison "$pkg" 2>/dev/null | awk -F'|' '{ gsub(/ /, "", $2); print $2 }')
	[ -n "$versions" ] || versions=$(ls "$RMP_CACHE/src" 2>/dev/null | sed -n 's/^linux-source-\(.*\)\.complete$/\1/p')
	for v in $versions; do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done
	[ -n "$best" ] || rmp_die "no $pkg package in $RMP_SUITE-backports, sid or experimental" \
		"Debian may have moved on from $RMP_KERNEL_SERIES; pass KDIR=<your 7.3+ build> instead"
	printf '%s\n' "$best"
}

# rmp_install_bindgen ROOT: install into the (partial) build root the newest
# bindgen >= $RMP_BINDGEN_MIN that trixie-backports or sid offer (experimental
# is for what is not ready). It is one program that loads the root's libclang
# at run time ($LIBCLANG_PATH), so sid's build runs on trixie. apt installs the
# .deb, so the root's package database tells which bindgen it has.
rmp_install_bindgen() {
	local RMP_ROOT=$1 log=$RMP_CACHE/logs/root-bindgen.log dir=$1/var/tmp/rmp-bindgen best= v
	rmp_kernel_apt_update
	for v in $(rmp_kernel_apt / apt-cache madison bindgen 2>/dev/null |
		awk -F'|' '$3 !~ / experimental\// { gsub(/ /, "", $2); print $2 }'); do
		if [ -z "$best" ] || dpkg --compare-versions "$v" gt "$best"; then best=$v; fi
	done
	{ [ -n "$best" ] && dpkg --compare-versions "$best" ge "$RMP_BINDGEN_MIN"; } ||
		rmp_die "no bindgen >= $RMP_BINDGEN_MIN in $RMP_SUITE-backports or sid (newest: ${best:-none})" \
			"install one in $1 by hand (e.g. 'cargo install --locked bindgen-cli'), or use LLVM 19 (RMP_LLVM)"
	rm -rf "$dir" && mkdir -p "$dir"
	{
		rmp_kernel_apt "$dir" apt-get download "bindgen=$best" &&
			rmp_in_root bash -euc 'DEBIAN_FRONTEND=noninteractive apt-get install -y \
				--no-install-recommends "$1"/bindgen_*.deb && apt-get clean' bash "${dir#"$1"}"
	} >"$log" 2>&1 || rmp_die "installing bindgen $best in the build root failed (log: $log)" \
		"delete $1 and retry"
	rm -rf "$dir"
	rmp_log "bindgen $best installed in the build root"
}

# rmp_unpack_foreign ROOT: each package of $RMP_ROOT_FOREIGN (name:arch) downloaded from the
# root's own suites and unpacked under ROOT/usr/lib/rmp/<arch>/, e.g. the arm64 guest's busybox
# at /usr/lib/rmp/arm64/usr/bin/busybox. Unpacked, not installed: it would replace the root's
# own busybox, and the root never runs it.
rmp_unpack_foreign() {
	local RMP_ROOT=$1 log=$RMP_CACHE/logs/root-foreign.log p arch
	for p in $RMP_ROOT_FOREIGN; do
		arch=${p#*:}
		rmp_in_root bash -euc '
			export DEBIAN_FRONTEND=noninteractive
			dpkg --print-foreign-architectures | grep -qx "$2" || {
				dpkg --add-architecture "$2"; apt-get update; }
			rm -rf /var/tmp/rmp-foreign && mkdir -p /var/tmp/rmp-foreign /usr/lib/rmp/"$2"
			cd /var/tmp/rmp-foreign && apt-get download "$1"
			dpkg-deb -x ./*.deb /usr/lib/rmp/"$2"
			rm -rf /var/tmp/rmp-foreign' bash "$p" "$arch" >>"$log" 2>&1 ||
			rmp_die "unpacking $p in the build root failed (log: $log)" "delete $1 and retry"
	done
}

# Copies the checkout's files (tracked and untracked, not ignored) into $1, keeping their
# times, so that make there rebuilds only what changed: a tree of sources whose build outputs
# never land in the checkout (make bench; the modules of another architecture or kernel).
rmp_sync_tree() {
	local dst=$1
	mkdir -p "$dst"
	(cd "$RMP_TOP" && git ls-files -z --cached --others --exclude-standard |
		tar --null --ignore-failed-read -T - -cf - 2>/dev/null) | tar -xf - -C "$dst"
}

# Sets RMP_SRC to the unpacked source of Debian version $1.
rmp_ensure_source() {
	local ver=$1 pkg=linux-source-$RMP_KERNEL_SERIES
	RMP_SRC=$RMP_CACHE/src/linux-source-$ver
	[ -e "$RMP_SRC.complete" ] && return 0
	rmp_phase_begin "kernel source $pkg $ver"
	local tmp=$RMP_SRC.partial deb
	rm -rf "$tmp" && mkdir -p "$tmp"
	rmp_kernel_apt "$tmp" apt-get download "$pkg=$ver" >"$RMP_CACHE/logs/kernel-download.log" 2>&1 ||
		rmp_die "downloading $pkg $ver failed (log: $RMP_CACHE/logs/kernel-download.log)" \
			"retry later; if Debian replaced it, delete $RMP_APT/updated to refresh the lists"
	deb=$(ls "$tmp"/*.deb)
	rmp_in_root bash -euc 'dpkg-deb --fsys-tarfile "$1" | tar -xO "./usr/src/$2.tar.xz" | tar -xJ -C "$3" --strip-components=1' \
		bash "$deb" "$pkg" "$tmp" || rmp_die "unpacking $deb failed" "delete $tmp and retry"
	rm -f "$deb"
	rm -rf "$RMP_SRC" && mv "$tmp" "$RMP_SRC" && touch "$RMP_SRC.complete"
	rmp_phase_end
}

# ---------------------------------------------------------------------------
# The test kernel, built by kunit.py from kunit/.kunitconfig with LLVM. Its
# directory is keyed by the source version, the kunitconfig and the toolchain.
rmp_toolchain_id() {
	rmp_in_root bash -c "rustc --version; clang-$RMP_LLVM --version | head -n 1; bindgen --version; dpkg-query -W rust-src"
}

# What differs per architecture: the kunit.py arch, its kunitconfig fragments, the kernel image,
# QEMU, the console, the C compiler of the userspace programs, the guest's busybox (a path in
# the build root).
case "$RMP_ARCH" in
x86_64)
	RMP_KUNITCONFIGS=("$RMP_TOP/kunit")
	# The Binder battery's options (C Binder as a module, binderfs, SHRINKER_DEBUG), for the
	# x86_64 test kernel only for now: the arm64 and bench kernels stay as they are.
	RMP_TEST_FRAGMENTS=("$RMP_TOP/kunit/binder.kunitconfig")
	RMP_KIMAGE=arch/x86/boot/bzImage
	RMP_QEMU=qemu-system-x86_64
	RMP_CONSOLE=ttyS0
	RMP_CC=gcc
	RMP_BUSYBOX=/usr/bin/busybox
	;;
arm64)
	# kunit/arm64.kunitconfig: what the virt machine needs beyond kunit/.kunitconfig.
	RMP_KUNITCONFIGS=("$RMP_TOP/kunit" "$RMP_TOP/kunit/arm64.kunitconfig")
	RMP_TEST_FRAGMENTS=()
	RMP_KIMAGE=arch/arm64/boot/Image
	RMP_QEMU=qemu-system-aarch64
	RMP_CONSOLE=ttyAMA0
	RMP_CC=aarch64-linux-gnu-gcc
	RMP_BUSYBOX=/usr/lib/rmp/arm64/usr/bin/busybox
	;;
esac

# The kernel's key: the Debian version, the kunitconfig (and for another architecture than
# x86_64, its name and fragment), the test kernel's own fragments and the toolchain.
rmp_kernel_key() {
	local ver=$1 cfg
	{
		echo "$ver"
		cat "$RMP_TOP/kunit/.kunitconfig"
		if [ "$RMP_ARCH" != x86_64 ]; then
			echo "ARCH=$RMP_ARCH"
			for cfg in "${RMP_KUNITCONFIGS[@]:1}"; do cat "$cfg"; done
		fi
		for cfg in "${RMP_TEST_FRAGMENTS[@]}"; do cat "$cfg"; done
		rmp_toolchain_id
	} | rmp_sha
}

# kunit.py build of the kernel at $1 (build directory) from the kunitconfigs that follow.
rmp_kunit_build() {
	local kdir=$1; shift
	local cfgs=() c
	for c in "$@"; do cfgs+=("--kunitconfig=$c"); done
	rmp_in_root bash -euc 'cd "$1" && arch=$2 kdir=$3 && shift 3 && python3 tools/testing/kunit/kunit.py build \
		--arch="$arch" "$@" --build_dir="$kdir" --make_options=LLVM=-'"$RMP_LLVM"' --jobs="$(nproc)"' \
		bash "$RMP_SRC" "$RMP_ARCH" "$kdir" "${cfgs[@]}"
}

rmp_ensure_kernel() {
	local ver
	ver=$(rmp_kernel_source_version)
	rmp_ensure_source "$ver"
	local key
	key=$(rmp_kernel_key "$ver")
	RMP_KDIR=$RMP_CACHE/build/linux-$ver-$key
	[ "$RMP_ARCH" = x86_64 ] || RMP_KDIR=$RMP_CACHE/build/linux-$ver-$RMP_ARCH-$key
	[ -e "$RMP_KDIR/.complete" ] && return 0
	# Kconfig turns RUST_INLINE_HELPERS off without a word when the two LLVMs
	# differ (kunit.py would then only say the option was dropped): say why.
	local rustc_llvm
	rustc_llvm=$(rmp_in_root rustc -vV | sed -n 's/^LLVM version: \([0-9]*\).*/\1/p')
	[ "$rustc_llvm" = "$RMP_LLVM" ] ||
		rmp_die "rustc is built on LLVM ${rustc_llvm:-?}, the kernel is built with LLVM $RMP_LLVM" \
			"RUST_INLINE_HELPERS needs one LLVM: set RMP_LLVM=$rustc_llvm in scripts/lib.sh"
	rmp_phase_begin "test kernel $ver for $RMP_ARCH (kunit.py build, LLVM=-$RMP_LLVM, KASAN; 6-20 min on 2 cores)"
	mkdir -p "$RMP_KDIR"
	# Resumes an interrupted build; only a finished one gets the marker.
	_rmp_objects() { echo "$(find "$RMP_KDIR" -name '*.o' | wc -l) objects built (~1300 in all)"; }
	RMP_PROGRESS=_rmp_objects rmp_run_logged "$RMP_KDIR.log" \
		rmp_kunit_build "$RMP_KDIR" "${RMP_KUNITCONFIGS[@]}" "${RMP_TEST_FRAGMENTS[@]}" ||
		rmp_die "building the test kernel failed (log: $RMP_KDIR.log)" \
			"read the end of the log; after a fix 'make test' resumes the build"
	touch "$RMP_KDIR/.complete"
	rmp_phase_end
}

# ---------------------------------------------------------------------------
# The kernel the modules are built for and booted: the project's test kernel (above, the
# default) or Debian's stock kernel (make ... KERNEL=debian): scripts/debian.sh then replaces
# the build root, rmp_ensure_root, rmp_ensure_kernel and the make arguments.
# The make arguments of every build against $RMP_KDIR (M= builds).
RMP_KMAKE_ARGS=(LLVM=-"$RMP_LLVM")
# The kernel's make needs ARCH for an arm64 build directory; x86_64 is the host's default.
[ "$RMP_ARCH" = x86_64 ] || RMP_KMAKE_ARGS+=(ARCH="$RMP_ARCH")
# Where the modules are built (M=): the checkout itself for the x86_64 test kernel; for another
# kernel or architecture a copy of it in the cache (rmp_sync_tree, from cmd_provision), so
# that switching never rebuilds the checkout's objects (nor do two builds clash in it).
RMP_MTOP=$RMP_TOP
case "${RMP_KERNEL:=test}" in
test | debian) ;;
*) rmp_die "KERNEL=$RMP_KERNEL: the kernels are the project's test kernel (the default) and debian" ;;
esac
[ "$RMP_KERNEL" = test ] || [ "$RMP_ARCH" = x86_64 ] ||
	rmp_die "KERNEL=$RMP_KERNEL with ARCH=$RMP_ARCH: Debian's stock kernel here is its amd64 image" \
		"drop ARCH=$RMP_ARCH, or KERNEL=$RMP_KERNEL"
# shellcheck source=debian.sh source-path=SCRIPTDIR
source "$RMP_TOP/scripts/debian.sh"
