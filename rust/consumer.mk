# SPDX-License-Identifier: GPL-2.0
#
# Include this from the Kbuild file of a module that uses the `mmap_prepare`
# crate; it is the only line such a module needs:
#
#     include /path/to/rust-mmap-prepare/rust/consumer.mk
#
# It lets the module's Rust code `use mmap_prepare::...` and lets modpost resolve
# the symbols exported by rust_mmap_prepare.ko (build this project first).

rmp_dir := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

rustflags-y += --extern mmap_prepare=$(rmp_dir)/rust/libmmap_prepare.rmeta

# Inside this project modpost already sees the library's symbols.
ifneq ($(rmp_dir),$(abspath $(src)))
KBUILD_EXTRA_SYMBOLS += $(rmp_dir)/Module.symvers
endif
