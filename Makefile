# SPDX-License-Identifier: GPL-2.0
#
# make test           provision, build, boot the test kernel, run every test
# make run            boot the test kernel with the samples loaded and show them
# make shell          the same guest, with a shell on the console
# make check          rustfmt --check, CLIPPY=1 build, checkpatch.pl
# make bench          timings and instruction counts on a non-debug kernel
# make bench-doc      make bench in three configurations, written into benchmarks.rst
# make fmt            rustfmt the Rust sources
# make rust-analyzer  write rust-project.json for editors
# make doc            the crate's HTML documentation, in Documentation/output/rustdoc
# make                build the modules against the cached test kernel
# make KDIR=<build>   build the modules against your own 7.3+ kernel build
#                     (CONFIG_RUST=y; pass LLVM=1 or whatever it was built with)
#
# Your own driver in <dir> (its Kbuild says 'include $(RMP_DIR)/rust/consumer.mk': every
# kernel build below is passed RMP_DIR=<this checkout>; M= is relative to the directory make
# was started in):
# make new-driver M=<dir>     write a minimal driver there (a new or empty directory)
# make driver M=<dir>         build this project's library, then the driver
# make test M=<dir>           the test guest with the library and the driver: its KUnit suites
#                             and <dir>/tests/*.c; make shell M=<dir> gives a shell there
# make rust-analyzer M=<dir>  write <dir>/rust-project.json
# make driver M=<dir> KDIR=<build>  the same against your own kernel, with your toolchain

ifneq ($(M),)
export RMP_CONSUMER := $(abspath $(if $(filter /%,$(M)),,$(if $(wildcard $(PWD)/.),$(PWD),$(CURDIR))/)$(M))
endif

ifneq ($(KDIR),)

modules clean rust-analyzer:
	$(MAKE) -C $(KDIR) M=$(CURDIR) RMP_DIR=$(CURDIR) $@

ifneq ($(M),)
driver: modules
	$(MAKE) -C $(KDIR) M=$(RMP_CONSUMER) RMP_DIR=$(CURDIR) modules

rust-analyzer: driver-rust-analyzer
driver-rust-analyzer:
	$(MAKE) -C $(KDIR) M=$(RMP_CONSUMER) RMP_DIR=$(CURDIR) rust-analyzer
	python3 scripts/rust_analyzer_crates.py $(CURDIR) $(RMP_CONSUMER)
endif

else

modules:
	scripts/rmp build

clean:
	find . -name '*.o' -o -name '*.ko' -o -name '*.mod' -o -name '*.mod.c' \
		-o -name '.*.cmd' -o -name '*.rmeta' -o -name '*.d' -o -name '*.bc' | xargs rm -f
	rm -f Module.symvers modules.order rust/exports_generated.h kunit/doctests_generated*
	rm -rf kunit/doctests

test run shell check fmt rust-analyzer doc driver new-driver bench bench-doc:
	scripts/rmp $@

endif

.PHONY: modules clean test run shell check fmt rust-analyzer doc driver new-driver driver-rust-analyzer bench bench-doc
