#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Compile-fail tests of the `mmap_prepare` API: each kunit/compile_fail/*.rs is a small module
# crate that uses the crate as a driver outside this tree would (through rust/consumer.mk),
# built alone with `make -C <test kernel> M=<its own directory>`.
#
#   //! Must not compile: <reason>   the snippet must fail to build, every `// expect: <text>`
#                                    line must be found in the compiler's output, and every
#                                    rustc error must contain one of them (so that a typo or an
#                                    API change cannot pass for the expected failure);
#   //! Must compile: <reason>       a control that must build, warning-free: it proves that
#                                    the harness can build a consumer at all.
#   // expect(<version>): <text>     an expect line for one rustc only, where the compiler words
#   // expect(<version>+): <text>    the same refusal differently: <version> is major.minor
#                                    (1.85: rustc 1.85.x only; 1.86+: 1.86 and later). The
#                                    project builds with two: the stock kernel's (make check
#                                    KERNEL=debian, rustc 1.85, the 7.3 kernel's minimum) and the
#                                    newest (make check). A rustc no line covers has only the
#                                    plain `// expect:` lines: record its text when it differs.
#
# A snippet holds only what it is about. What every snippet would repeat is in
# kunit/compile_fail/prelude.rs.in (not a snippet: only *.rs files are), as rustdoc hides the
# common lines of its examples: the `use` lines (the kernel's prelude, `File`, `Arc`,
# `ArcBorrow`, and every name at the root of `mmap_prepare`), the `module!` block (`@NAME@`
# becomes the snippet's name) with an empty module type, and `Dev`, a file data holding two
# `KernelPages` (`Dev::new()` makes one in an `Arc`). The file built is the snippet followed by
# the prelude, after a `// ---- prelude ... ----` marker line: a crate's `//!` lines must come
# before its items, and the compiler's line numbers stay the snippet's own (the first lines of
# the build log say where the prelude starts). So a snippet must not `use` a name the prelude
# imports (E0252), nor define `Dev` or `Snippet`. A snippet that needs its own module type says
# so:
#
#   //! Prelude: none                a complete module crate, built as it is.
#
# Sourced by scripts/rmp (`rmp_compile_fail`, a phase of `make check`), or run on its own:
#   scripts/compile_fail.sh [NAME...]     NAME: a snippet's file name without `.rs`
# RMP_COMPILE_FAIL_DIR overrides the snippets' directory (to test the harness itself).
# The library must have been built in the checkout first (`make`): the snippets link against
# rust/libmmap_prepare.rmeta and Module.symvers, and nothing here rebuilds them. Each snippet
# is built in $RMP_CACHE/compile-fail/<name>/, where its build log stays; RMP_COMPILE_FAIL_OUT
# replaces $RMP_CACHE/compile-fail (it must lie under $RMP_CACHE, which the build root binds),
# so that two checkouts (git worktrees) can run their snippets at the same time.

# Where the snippets are built: RMP_COMPILE_FAIL_OUT, or compile-fail/ in the cache
# (compile-fail-debian/ for KERNEL=debian).
_rmp_cf_out() {
	local def=$RMP_CACHE/compile-fail
	[ "$RMP_KERNEL" = test ] || def=$def-$RMP_KERNEL
	echo "${RMP_COMPILE_FAIL_OUT:-$def}"
}

# The major.minor of the build root's rustc (e.g. 1.85), for the per-version expect lines.
_RMP_CF_RUSTC=

# _rmp_cf_expects FILE: the expect texts of snippet FILE that apply to rustc $_RMP_CF_RUSTC, one
# a line: every `// expect:`, and each `// expect(<version>[+]):` whose version matches. Returns
# 1, with a message, on a malformed version.
_rmp_cf_expects() {
	local line spec text
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
		"// expect: "*) printf '%s\n' "${line#"// expect: "}" ;;
		"// expect("*"): "*)
			spec=${line#"// expect("}
			spec=${spec%%"): "*}
			text=${line#*"): "}
			if ! [[ $spec =~ ^[0-9]+\.[0-9]+\+?$ ]]; then
				rmp_log "FAIL $(basename "$1" .rs): '// expect($spec):' is not a rustc version (1.85, or 1.86+ for 1.86 and later)"
				return 1
			fi
			case "$spec" in
			*+) [ "$(printf '%s\n' "${spec%+}" "$_RMP_CF_RUSTC" | sort -V | head -n 1)" != "${spec%+}" ] ||
				printf '%s\n' "$text" ;;
			*) [ "$spec" != "$_RMP_CF_RUSTC" ] || printf '%s\n' "$text" ;;
			esac
			;;
		esac
	done <"$1"
}

# _rmp_cf_field FILE PREFIX [first]: the text after PREFIX on each line of FILE that starts
# with it (only the first such line with `first`).
_rmp_cf_field() {
	local file=$1 prefix=$2 first=${3:-} line
	while IFS= read -r line || [ -n "$line" ]; do
		case "$line" in
		"$prefix"*)
			printf '%s\n' "${line#"$prefix"}"
			[ -z "$first" ] || return 0
			;;
		esac
	done <"$file"
}

# The rustc diagnostics of a build log that are errors, one headline each.
_rmp_cf_errors() {
	grep -E '^error(\[E[0-9]{4}\])?: ' "$1" | grep -vE '^error: aborting due to ' || true
}

# _rmp_cf_source SRC NAME OUT LOG: write the crate to build for snippet SRC as OUT: the snippet,
# then the prelude of its directory unless it says `//! Prelude: none`. Starts LOG with lines
# (`compile_fail.sh: ...`) that map OUT's lines back to the files. Returns 1, with a message, if
# the snippet names an unknown prelude or the prelude is missing.
_rmp_cf_source() {
	local src=$1 name=$2 out=$3 log=$4 prelude lines
	prelude=$(_rmp_cf_field "$src" '//! Prelude: ' first)
	case "$prelude" in
	none)
		cp "$src" "$out"
		printf 'compile_fail.sh: %s is %s, built as it is (//! Prelude: none)\n' \
			"$out" "$src" >"$log"
		return 0
		;;
	"") prelude=$(dirname "$src")/prelude.rs.in ;;
	*)
		rmp_log "FAIL $name: unknown '//! Prelude: $prelude' (only 'none' is known)"
		return 1
		;;
	esac
	if [ ! -e "$prelude" ]; then
		rmp_log "FAIL $name: no prelude $prelude (or say '//! Prelude: none')"
		return 1
	fi
	lines=$(wc -l <"$src")
	# A snippet without a final newline gets one, so that the marker starts a line.
	[ -z "$(tail -c 1 "$src")" ] || lines=$((lines + 1))
	{
		cat "$src"
		[ -z "$(tail -c 1 "$src")" ] || echo
		printf '// ---- prelude %s, after snippet %s (lines 1-%s) ----\n' \
			"${prelude#"$RMP_TOP"/}" "$name" "$lines"
		sed "s/@NAME@/$name/g" "$prelude"
	} >"$out"
	{
		printf 'compile_fail.sh: lines 1-%s of %s are the snippet %s\n' "$lines" "$out" "$src"
		printf 'compile_fail.sh: from line %s on, the prelude %s\n' "$((lines + 2))" "$prelude"
	} >"$log"
}

# _rmp_cf_one FILE: build one snippet and judge the result. Prints a verdict; returns 1 if the
# snippet did not behave as it says it must.
_rmp_cf_one() {
	local src=$1 name reason mode dir log rc=0 e line matched
	name=$(basename "$src" .rs)
	local -a expects=() errors=()
	reason=$(_rmp_cf_field "$src" '//! Must not compile: ' first)
	mode=fail
	if [ -z "$reason" ]; then
		reason=$(_rmp_cf_field "$src" '//! Must compile: ' first)
		mode=pass
	fi
	if [ -z "$reason" ]; then
		rmp_log "FAIL $name: no '//! Must not compile: <reason>' or '//! Must compile: <reason>' line"
		return 1
	fi
	if ! [[ $name =~ ^[a-z][a-z0-9_]*$ ]]; then
		rmp_log "FAIL $name: the file name must be a crate name ([a-z][a-z0-9_]*)"
		return 1
	fi
	_rmp_cf_expects "$src" >/dev/null || return 1
	mapfile -t expects < <(_rmp_cf_expects "$src")
	if [ "$mode" = fail ] && [ ${#expects[@]} -eq 0 ]; then
		rmp_log "FAIL $name: no '// expect: <part of the compiler error>' line for rustc $_RMP_CF_RUSTC"
		return 1
	fi

	dir=$(_rmp_cf_out)/$name
	log=$dir/build.log
	rm -rf "$dir"
	mkdir -p "$dir"
	_rmp_cf_source "$src" "$name" "$dir/$name.rs" "$log" || return 1
	printf 'include %s/rust/consumer.mk\nobj-m += %s.o\n' "$RMP_MTOP" "$name" >"$dir/Kbuild"
	# $dir is under $RMP_CACHE, which rmp_in_root binds already.
	rmp_in_root make -C "$RMP_KDIR" M="$dir" "${RMP_KMAKE_ARGS[@]}" modules >>"$log" 2>&1 || rc=$?
	mapfile -t errors < <(_rmp_cf_errors "$log")

	if [ "$mode" = pass ]; then
		if [ $rc -ne 0 ]; then
			rmp_log "FAIL $name: must compile: $reason"
			rmp_log "       but the build failed (status $rc): ${errors[0]:-see the log}"
			rmp_log "       log: $log"
			return 1
		fi
		if grep -qE '^warning(\[|:)' "$log"; then
			rmp_log "FAIL $name: must compile: $reason"
			rmp_log "       it compiled, with warnings: $(grep -m1 -E '^warning(\[|:)' "$log")"
			rmp_log "       log: $log"
			return 1
		fi
		rmp_log "PASS $name: must compile: $reason"
		rmp_log "       compiled: $name.ko"
		return 0
	fi

	if [ $rc -eq 0 ]; then
		rmp_log "FAIL $name: must not compile: $reason"
		rmp_log "       but it COMPILED: the API allows what it must forbid (a soundness hole)"
		rmp_log "       snippet: $src; log: $log"
		return 1
	fi
	if [ ${#errors[@]} -eq 0 ]; then
		rmp_log "FAIL $name: must not compile: $reason"
		rmp_log "       the build failed (status $rc) without a rustc error: $(tail -n 1 "$log")"
		rmp_log "       log: $log"
		return 1
	fi
	for e in "${expects[@]}"; do
		# Only the build's output: not the lines this script wrote first.
		if ! grep -v '^compile_fail\.sh: ' "$log" | grep -qF -- "$e"; then
			rmp_log "FAIL $name: must not compile: $reason"
			rmp_log "       it failed, but not with the expected '$e': ${errors[0]}"
			rmp_log "       log: $log"
			return 1
		fi
	done
	for line in "${errors[@]}"; do
		matched=
		for e in "${expects[@]}"; do
			case "$line" in *"$e"*) matched=1 ;; esac
		done
		if [ -z "$matched" ]; then
			rmp_log "FAIL $name: must not compile: $reason"
			rmp_log "       it failed as expected, and also for an unrelated reason: $line"
			rmp_log "       log: $log"
			return 1
		fi
	done
	rmp_log "PASS $name: must not compile: $reason"
	rmp_log "       failed as expected: ${errors[0]}"
	[ ${#errors[@]} -eq 1 ] || rmp_log "       (and $(( ${#errors[@]} - 1 )) more error(s), each matching an expect line)"
	return 0
}

# rmp_compile_fail [NAME...]: run every snippet (or the named ones). Needs RMP_KDIR, i.e.
# rmp_ensure_kernel first. Returns non-zero, naming each snippet that did not behave as
# expected; never exits, so that `make check` can run its other phases.
rmp_compile_fail() {
	local dir=${RMP_COMPILE_FAIL_DIR:-$RMP_TOP/kunit/compile_fail} src n
	local -a srcs=() failed=()
	local need
	for need in "$RMP_MTOP/rust/libmmap_prepare.rmeta" "$RMP_MTOP/Module.symvers"; do
		if [ ! -e "$need" ]; then
			rmp_log "ERROR: compile-fail tests: $need is missing; build the library first ('make')"
			return 1
		fi
	done
	if [ $# -gt 0 ]; then
		for n in "$@"; do srcs+=("$dir/${n%.rs}.rs"); done
	else
		for src in "$dir"/*.rs; do [ -e "$src" ] && srcs+=("$src"); done
	fi
	if [ ${#srcs[@]} -eq 0 ]; then
		rmp_log "ERROR: compile-fail tests: no snippets in $dir"
		return 1
	fi
	case "$(_rmp_cf_out)/" in
	"$RMP_CACHE"/*) ;;
	*)
		rmp_log "ERROR: compile-fail tests: RMP_COMPILE_FAIL_OUT must lie under $RMP_CACHE"
		return 1
		;;
	esac
	_RMP_CF_RUSTC=$(rmp_in_root rustc --version | sed -n 's/^rustc \([0-9]*\.[0-9]*\)\..*/\1/p')
	rmp_phase_begin "compile-fail tests: ${#srcs[@]} snippets in ${dir#"$RMP_TOP"/}, rustc $_RMP_CF_RUSTC (logs: $(_rmp_cf_out))"
	for src in "${srcs[@]}"; do
		if [ ! -e "$src" ]; then
			rmp_log "FAIL $(basename "$src" .rs): no such snippet: $src"
			failed+=("$(basename "$src" .rs)")
			continue
		fi
		_rmp_cf_one "$src" || failed+=("$(basename "$src" .rs)")
	done
	rmp_phase_end
	if [ ${#failed[@]} -gt 0 ]; then
		rmp_log "ERROR: compile-fail tests: ${#failed[@]} of ${#srcs[@]} snippets did not behave as expected: ${failed[*]}"
		return 1
	fi
	rmp_log "compile-fail tests: all ${#srcs[@]} snippets behaved as expected"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	# shellcheck source=lib.sh source-path=SCRIPTDIR
	source "$(dirname "$0")/lib.sh"
	rmp_ensure_root
	rmp_ensure_kernel
	[ "$RMP_KERNEL" != debian ] || rmp_debian_provision_tree
	rmp_compile_fail "$@" || rmp_die "compile-fail tests failed: see above"
fi
