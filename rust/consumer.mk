# SPDX-License-Identifier: GPL-2.0
#
# Include this from the Kbuild file of a module that uses the `mmap_prepare`
# crate; it is the only line such a module needs:
#
#     include $(RMP_DIR)/rust/consumer.mk
#
# `make -C <this project> driver M=<dir>` (and test, shell, rust-analyzer) passes
# RMP_DIR=<this project> to the kernel build; `make -C <kernel> M=<dir>` needs
# RMP_DIR=/path/to/rust-mmap-prepare on its command line. A literal path
# works too, but ties the driver to one checkout.
#
# It lets the module's Rust code `use mmap_prepare::...` and lets modpost resolve
# the symbols exported by rust_mmap_prepare.ko (build this project first).

rmp_dir := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)

# The test guest loads RMP_DIR's library: a module built against another checkout's
# would not match it.
ifneq ($(RMP_DIR),)
ifneq ($(realpath $(RMP_DIR)),$(realpath $(rmp_dir)))
$(error $(rmp_dir)/rust/consumer.mk is included, but this build is for RMP_DIR=$(RMP_DIR): \
	include $$(RMP_DIR)/rust/consumer.mk instead)
endif
endif

rustflags-y += --extern mmap_prepare=$(rmp_dir)/rust/libmmap_prepare.rmeta

# Inside this project modpost already sees the library's symbols.
ifneq ($(rmp_dir),$(abspath $(src)))
KBUILD_EXTRA_SYMBOLS += $(rmp_dir)/Module.symvers
endif
