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
# Debian's own stock kernel (linux-image-<abi>-amd64 of the provisioned source's version,
# built with gcc-14 and trixie's rustc 1.85) instead of the project's test kernel:
# make KERNEL=debian          build the library and the samples for it
# make test KERNEL=debian     boot it and run every test that needs no KUnit
# make check KERNEL=debian    CLIPPY=1 and the must-not-compile snippets with its rustc 1.85
# make run/shell KERNEL=debian
# make install KERNEL=debian  install the library and the samples for the running stock kernel
#                             (/lib/modules/<release>/updates, then depmod; DESTDIR= to stage;
#                             SIGN_KEY= SIGN_CERT= to sign them for a Secure Boot machine)
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

# KERNEL=debian: the kernel scripts/rmp builds for and boots (scripts/debian.sh).
ifneq ($(KERNEL),)
export RMP_KERNEL := $(KERNEL)
endif
ifneq ($(DESTDIR),)
export RMP_DESTDIR := $(abspath $(DESTDIR))
endif
ifneq ($(SIGN_KEY)$(SIGN_CERT),)
export RMP_SIGN_KEY := $(SIGN_KEY)
export RMP_SIGN_CERT := $(SIGN_CERT)
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

test run shell check fmt rust-analyzer doc driver new-driver bench bench-doc install:
	scripts/rmp $@

endif

.PHONY: modules clean test run shell check fmt rust-analyzer doc driver new-driver driver-rust-analyzer bench bench-doc install
