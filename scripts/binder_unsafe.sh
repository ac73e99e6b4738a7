#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Counts the `unsafe` of Rust Binder (Documentation/binder.rst, "unsafe"):
#   scripts/binder_unsafe.sh [DIR]
# DIR is a drivers/android/binder/ directory; by default that of the newest kernel source the
# rig unpacked (scripts/lib.sh, rmp_ensure_source). Prints, for process.rs, page_range.rs and
# rust_binder_main.rs, every use of the keyword outside comments (blocks, unsafe fn, unsafe
# impl, unsafe extern "C" fn) and the blocks alone, then those in the functions of the mmap
# path: rust_binder_mmap, Process::mmap, create_mapping, check_vma, register_with_vma.
set -euo pipefail

dir=${1:-}
if [ -z "$dir" ]; then
	cache=${RMP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rust-mmap-prepare}
	src=$(ls -d "$cache"/src/linux-source-* 2>/dev/null | grep -v '\.\(complete\|partial\)$' |
		sort -V | tail -n 1)
	[ -n "$src" ] || { echo "no kernel source under $cache/src: run make test first" >&2; exit 1; }
	dir=$src/drivers/android/binder
fi
cd "$dir"
files=(process.rs page_range.rs rust_binder_main.rs)

# Lines of code: comment lines (//, ///, //!) dropped.
code() { grep -v '^[[:space:]]*//' "$@"; }

total=0 blocks=0
for f in "${files[@]}"; do
	k=$(code "$f" | grep -ow unsafe | wc -l)
	b=$(code "$f" | grep -o 'unsafe {' | wc -l)
	printf '%-22s %3d unsafe (%d blocks)\n' "$f" "$k" "$b"
	total=$((total + k)) blocks=$((blocks + b))
done
printf '%-22s %3d unsafe (%d blocks)\n' total "$total" "$blocks"

# The mmap path: the keyword in the bodies of its functions (brace counting from the fn line).
awk -v fns="rust_binder_mmap mmap create_mapping check_vma register_with_vma" '
	BEGIN { n = split(fns, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	!infn && match($0, /fn [a-z_]+[(<]/) {
		name = substr($0, RSTART + 3, RLENGTH - 4)
		if (name in want) { infn = 1; depth = 0; started = 0; count[name] = 0 }
	}
	infn {
		if ($0 !~ /^[ \t]*\/\//) {
			line = $0
			k = gsub(/(^|[^A-Za-z_])unsafe([^A-Za-z_]|$)/, "", line)
			count[name] += k; total += k
		}
		o = gsub(/\{/, "{"); c = gsub(/\}/, "}")
		depth += o - c
		if (o) started = 1
		if (started && depth <= 0) infn = 0
	}
	END {
		for (f in count) printf "  %-20s %d\n", f, count[f]
		printf "mmap path              %3d unsafe\n", total
	}' "${files[@]}"
