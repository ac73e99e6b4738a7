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

# The keyword in the bodies of the named functions (brace counting from the fn line), and, if
# $2 is "table", on the lines of the file operations table that name an mmap entry; $1 is the
# group's title.
count_in() {
	local title=$1 table=$2
	shift 2
	awk -v fns="$*" -v title="$title" -v table="$table" '
	BEGIN { n = split(fns, a, " "); for (i = 1; i <= n; i++) want[a[i]] = 1 }
	!infn && match($0, /fn [a-z_]+[(<]/) {
		name = substr($0, RSTART + 3, RLENGTH - 4)
		if (name in want) {
			infn = 1; depth = 0; started = 0
			if (!(name in count)) order[++n_order] = name
			count[name] += 0
		}
	}
	table == "table" && !infn && /^[ \t]*mmap(_prepare)?: Some\(/ {
		# The table entry (rust_binder_fops), and the lines of its value up to "),".
		intable = 1
		if (!("rust_binder_fops" in count)) order[++n_order] = "rust_binder_fops"
		count["rust_binder_fops"] += 0
	}
	intable {
		if ($0 !~ /^[ \t]*\/\//) {
			line = $0
			k = gsub(/(^|[^A-Za-z_])unsafe([^A-Za-z_]|$)/, "", line)
			count["rust_binder_fops"] += k; total += k
		}
		if ($0 ~ /\),?[ \t]*$/) intable = 0
		next
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
		for (i = 1; i <= n_order; i++) printf "  %-21s %d\n", order[i], count[order[i]]
		printf "%-22s %3d unsafe\n", title, total
	}' "${files[@]}"
}

# The mmap path, before the port (rust_binder_mmap, Process::mmap, create_mapping, check_vma,
# register_with_vma) and after it (patch 0003: the table's mmap_prepare entry,
# mmap_prepare_checked, BinderVma's mapped/close/is_of, create_mapping, mapping_closed,
# register_with_vma); a tree has one set or the other.
count_in "mmap path" table rust_binder_mmap mmap create_mapping check_vma register_with_vma \
	mmap_prepare_checked mapped close is_of mapping_closed
# Where the driver reaches a VMA after mmap: page insertion and the shrinker's zap.
count_in "vma access" - use_page_slow rust_shrink_free_page
