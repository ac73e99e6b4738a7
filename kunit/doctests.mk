# SPDX-License-Identifier: GPL-2.0
#
# The crate's rustdoc examples as a KUnit suite, rust_doctests_mmap_prepare, in the module
# rust_doctests_mmap_prepare.ko: what rust/Makefile does for the kernel crate's examples
# (rust_doctests_kernel), with scripts/rustdoc_kunit.py in place of the kernel's
# scripts/rustdoc_test_{builder,gen}, which only know the `kernel` crate. Included by Kbuild.
#
# `rustdoc --test --no-run` collects the examples and hands each to the builder instead of
# compiling it; the generator turns them into kunit/doctests_generated.rs (one function per
# example) and kunit/doctests_generated_kunit.c (the suite), which are built like any module
# that uses the crate. An example that no longer compiles fails the build; one whose assertion
# fails, or that returns an error, fails its KUnit case.

obj-m += rust_doctests_mmap_prepare.o
rust_doctests_mmap_prepare-y := kunit/doctests_generated.o kunit/doctests_generated_kunit.o
$(obj)/kunit/doctests_generated.o: $(obj)/rust/mmap_prepare.o

# As rust/Makefile: rustdoc does not record the crates' target modifiers (rust-lang/rust#144521,
# #146465).
rmp_doctests_workaround := $(if $(call rustc-min-version,108800),-Cunsafe-allow-abi-mismatch=fixed-x18)$(if $(call rustc-min-version,109100),$(comma)sanitizer)
rmp_doctests_dir := $(abspath $(obj)/kunit/doctests)

quiet_cmd_rmp_doctests = RUSTDOC T rust/mmap_prepare.rs (examples)
      cmd_rmp_doctests = \
	rm -rf $(rmp_doctests_dir); mkdir -p $(rmp_doctests_dir); \
	OBJTREE=$(abspath $(objtree)) RMP_DOCTEST_DIR=$(rmp_doctests_dir) \
	$(RUSTDOC) --test $(filter-out --remap-path-scope=%,$(rust_flags)) \
		-Zallow-features=$(rust_allowed_features) -Zcrate-attr=no_std \
		-Zcrate-attr='feature($(rust_allowed_features))' \
		-L $(objtree)/rust --extern pin_init --extern kernel \
		--extern zerocopy --extern zerocopy_derive \
		--no-run --crate-name mmap_prepare -Zunstable-options --sysroot=/dev/null \
		$(rmp_doctests_workaround) \
		--test-builder $(abspath $(src)/scripts/rustdoc_kunit.py) \
		$(src)/rust/mmap_prepare.rs >$(rmp_doctests_dir)/rustdoc.log 2>&1 || \
		{ cat $(rmp_doctests_dir)/rustdoc.log >&2; false; }; \
	$(PYTHON3) $(src)/scripts/rustdoc_kunit.py gen --crate mmap_prepare \
		--suite rust_doctests_mmap_prepare --dir $(rmp_doctests_dir) \
		--rust $@ --c $(obj)/kunit/doctests_generated_kunit.c

$(obj)/kunit/doctests_generated.rs: $(wildcard $(src)/rust/*.rs) \
		$(src)/scripts/rustdoc_kunit.py FORCE
	$(call if_changed,rmp_doctests)
$(obj)/kunit/doctests_generated_kunit.c: $(obj)/kunit/doctests_generated.rs ;
targets += kunit/doctests_generated.rs
clean-files += kunit/doctests_generated.rs kunit/doctests_generated_kunit.c
