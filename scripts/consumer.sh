# SPDX-License-Identifier: GPL-2.0
# Consumers: drivers outside this tree that use the crate. Sourced by scripts/rmp.
#
# A consumer is a directory (RMP_CONSUMER, from `make ... M=<dir>`, made absolute by the
# Makefile) holding one or more modules, whose Kbuild includes this project's
# rust/consumer.mk, and optionally:
#   tests/*.c          userspace tests, built static and run in the guest; each prints one KTAP
#                      document (`#include "ktap.h"` gives kunit/userspace/ktap.h's helpers)
#   expected_suites    the suites a `make test M=<dir>` must see, one per line ('#' comments);
#                      every `#[kunit_tests(NAME)]` in the consumer's Rust files is expected too
#
#   rmp driver        build the library (this project), then the consumer's modules, against
#                     the test kernel with the build root's toolchain
#   rmp test, shell   the test guest with only the library and the consumer's modules loaded
#   rmp rust-analyzer rust-project.json in the consumer's directory
#   rmp new-driver    write a minimal consumer into an empty or new directory, from
#                     scripts/template/

RMP_TEMPLATE=$RMP_TOP/scripts/template

# The consumer's directory, checked; binds it into the build root if it is elsewhere.
consumer_dir() {
	local dir=$RMP_CONSUMER inc
	case "$dir" in
	/*) ;;
	*) rmp_die "M=$dir: internal error, the Makefile passes an absolute path" ;;
	esac
	[[ $dir =~ ^[A-Za-z0-9_./+@%=,:-]+$ ]] ||
		rmp_die "M=$dir: the path has characters Kbuild cannot handle (spaces, quotes, ...)" \
			"move the driver to a plain path"
	[ -d "$dir" ] || rmp_die "M=$dir: no such directory" \
		"create a driver there with 'make -C $RMP_TOP new-driver M=$dir'"
	[ -e "$dir/Kbuild" ] || [ -e "$dir/Makefile" ] ||
		rmp_die "M=$dir: no Kbuild (or Makefile) there" \
			"add one with 'include \$(RMP_DIR)/rust/consumer.mk' and 'obj-m += <module>.o'"
	# A Kbuild that includes another checkout's consumer.mk would link against that library.
	# A path made of variables, $(RMP_DIR)'s, is checked by consumer.mk itself once make
	# has expanded it; a literal one is checked here, before anything is built.
	inc=$(cat "$dir/Kbuild" "$dir/Makefile" 2>/dev/null |
		sed -n 's/^[[:space:]]*-\{0,1\}include[[:space:]]\{1,\}\([^[:space:]]*rust\/consumer\.mk\).*/\1/p' |
		head -n 1) || true
	if [ -n "$inc" ] && [[ $inc != *'$'* ]] &&
		[ "$(realpath -m "$inc")" != "$(realpath -m "$RMP_TOP/rust/consumer.mk")" ]; then
		rmp_die "M=$dir includes $inc, not this project's $RMP_TOP/rust/consumer.mk" \
			"include \$(RMP_DIR)/rust/consumer.mk, or run make -C with the checkout it names"
	fi
	case "$dir/" in
	"$RMP_TOP"/* | "$RMP_CACHE"/*) ;;
	*) RMP_EXTRA_BINDS="${RMP_EXTRA_BINDS:-} $dir" ;;
	esac
}

# RMP_DIR is this checkout, for the consumer's Kbuild: include $(RMP_DIR)/rust/consumer.mk
consumer_kmake() {
	rmp_in_root make -C "$RMP_KDIR" M="$RMP_CONSUMER" RMP_DIR="$RMP_TOP" LLVM=-"$RMP_LLVM" \
		-j"$(nproc)" "$@"
}

# Builds the library and the consumer's modules and tests; sets RMP_OUT.
consumer_build() {
	consumer_dir
	cmd_provision
	rmp_phase_begin "library (make -C <test kernel> M=$RMP_MTOP)"
	rmp_kmake modules >"$RMP_CACHE/logs/library-build.log" 2>&1 || {
		cat "$RMP_CACHE/logs/library-build.log" >&2
		rmp_die "building this project's modules failed" "fix the error above and rerun"
	}
	rmp_phase_end
	rmp_phase_begin "driver (make -C <test kernel> M=$RMP_CONSUMER)"
	consumer_kmake modules || rmp_die "building the modules in $RMP_CONSUMER failed" \
		"fix the error above and rerun"
	[ -s "$RMP_CONSUMER/modules.order" ] ||
		rmp_die "$RMP_CONSUMER built no module" "name one in its Kbuild: obj-m += <module>.o"
	# Outputs of drivers whose directory is gone (CI makes one per run) are dropped.
	local o
	for o in "$RMP_CACHE"/out/*-driver-*/; do
		[ ! -e "$o/driver" ] || [ -d "$(cat "$o/driver")" ] || rm -rf "$o"
	done
	RMP_OUT=$RMP_CACHE/out/$(basename "$RMP_KDIR")-driver-$(printf '%s %s' "$RMP_TOP" "$RMP_CONSUMER" | rmp_sha)
	rm -rf "$RMP_OUT/tests" "$RMP_OUT/demos"
	mkdir -p "$RMP_OUT/tests" "$RMP_OUT/demos"
	printf '%s\n' "$RMP_CONSUMER" >"$RMP_OUT/driver"
	local c
	for c in "$RMP_CONSUMER"/tests/*.c; do
		[ -e "$c" ] || continue
		rmp_in_root "$RMP_CC" -static -O2 -Wall -Wextra -Werror -I"$RMP_TOP/kunit/userspace" \
			-o "$RMP_OUT/tests/$(basename "${c%.c}")" "$c" ||
			rmp_die "compiling $c failed" "fix the error above and rerun"
	done
	rmp_phase_end
	local m
	for m in $(consumer_modules); do
		rmp_log "built $(module_file "$m")"
	done
}

consumer_modules() {
	sed -n 's#^\(.*/\)\{0,1\}\([^/]*\)\.o$#\2#p' "$RMP_CONSUMER/modules.order"
}

# The suites a test run must see: the consumer's expected_suites and its #[kunit_tests].
consumer_expected_suites() {
	{
		[ ! -e "$RMP_CONSUMER/expected_suites" ] || sed 's/#.*//' "$RMP_CONSUMER/expected_suites"
		find "$RMP_CONSUMER" -name '*.rs' -not -path '*/.*' -exec \
			sed -n 's/^[[:space:]]*#\[kunit_tests(\([A-Za-z0-9_]*\))\].*/\1/p' {} +
	} | awk 'NF { print $1 }' | sort -u
}

# prepare_guest for a consumer: the library, then the consumer's modules in Kbuild order.
consumer_prepare_guest() {
	consumer_build
	{ echo rust_mmap_prepare; consumer_modules; } >"$RMP_OUT/modules"
	consumer_expected_suites >"$RMP_OUT/expected_suites"
	RMP_EXPECT_FILE=$RMP_OUT/expected_suites
	[ -s "$RMP_EXPECT_FILE" ] || rmp_log "warning: no expected suites (add $RMP_CONSUMER/expected_suites)"
	make_initramfs "$RMP_OUT/initramfs.cpio"
	probe_kvm
}

cmd_driver() {
	consumer_build
}

consumer_rust_analyzer() {
	consumer_dir
	cmd_provision
	consumer_kmake rust-analyzer
	rust_project_json "$RMP_CONSUMER"
}

# new-driver: the template's files, with @NAME@ (the directory's name, as a crate name) and
# @RMP_TOP@ (this checkout) replaced; tests/user.c becomes tests/<name>_user.c, driver.rs
# <name>.rs.
cmd_new-driver() {
	local dir=$RMP_CONSUMER name f dest
	[ ! -e "$dir" ] || [ -d "$dir" ] || rmp_die "M=$dir exists and is not a directory"
	if [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
		rmp_die "M=$dir is not empty: new-driver writes only into a new or empty directory" \
			"pick another directory, or empty this one"
	fi
	name=$(basename "$dir" | tr 'A-Z-' 'a-z_')
	[[ $name =~ ^[a-z][a-z0-9_]*$ ]] ||
		rmp_die "M=$dir: its name must make a module name ([a-z][a-z0-9_]*, '-' becomes '_')" \
			"pick a directory named like my_driver"
	mkdir -p "$dir/tests"
	(cd "$RMP_TEMPLATE" && find . -type f) | while read -r f; do
		dest=${f#./}
		case "$dest" in
		driver.rs) dest=$name.rs ;;
		tests/user.c) dest=tests/${name}_user.c ;;
		esac
		sed -e "s|@NAME@|$name|g" -e "s|@RMP_TOP@|$RMP_TOP|g" "$RMP_TEMPLATE/$f" >"$dir/$dest"
	done
	rmp_log "wrote a driver, $name, into $dir:"
	(cd "$dir" && find . -type f | sort | sed 's|^\./|[rmp]   |' >&2)
	rmp_log "next: make -C $RMP_TOP test M=$dir"
}
