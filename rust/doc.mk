# SPDX-License-Identifier: GPL-2.0
#
# `make doc`: the crate's rustdoc HTML in $(RMP_DOC), next to the `kernel` crate's own, so
# that links into `kernel` resolve (rustdoc links to crates documented in the same directory).
# The kernel crate is documented once per kernel build, with the flags of rust/Makefile's
# rustdoc-kernel, plus the sanitizer ABI workaround of its doctests since this target is no
# kernel object (`make rustdoc` itself would run `prepare` in the shared kernel build
# directory). `srctree/` links lead to the kernel source, as after `make rustdoc`.
# Included by Kbuild when RMP_DOC=<directory> is given (scripts/rmp doc).

rmp_doc_flags = $(filter-out --remap-path-scope=% --extern mmap_prepare=%,$(rust_flags)) \
	-L $(objtree)/rust -Zunstable-options --generate-link-to-definition --sysroot=/dev/null \
	$(if $(call rustc-min-version,108800),-Cunsafe-allow-abi-mismatch=fixed-x18)$(if $(call rustc-min-version,109100),$(comma)sanitizer) \
	--output $(RMP_DOC)

rmp_doc_srctree = { grep -rlZ --include='*.html' '<a href="srctree/' $(RMP_DOC) || true; } | \
	xargs -0 -r sed -Ei 's:<a href="srctree/([^"]+)">:<a href="$(realpath $(srctree))/\1">:g'

quiet_cmd_rmp_doc_kernel = RUSTDOC kernel
      cmd_rmp_doc_kernel = \
	OBJTREE=$(abspath $(objtree)) $(RUSTDOC) $(rmp_doc_flags) --crate-name kernel \
		--extern ffi --extern pin_init --extern build_error --extern macros \
		--extern bindings --extern uapi --extern zerocopy --extern zerocopy_derive \
		$(srctree)/rust/kernel/lib.rs && \
	$(rmp_doc_srctree) && echo $(abspath $(objtree)) >$(RMP_DOC)/.kernel

quiet_cmd_rmp_doc = RUSTDOC rust/mmap_prepare.rs
      cmd_rmp_doc = \
	OBJTREE=$(abspath $(objtree)) $(RUSTDOC) $(rmp_doc_flags) --crate-name mmap_prepare \
		-Zcrate-attr=no_std -Zallow-features=$(rust_allowed_features) \
		-Zcrate-attr='feature($(rust_allowed_features))' \
		--extern pin_init --extern kernel --extern zerocopy --extern zerocopy_derive \
		$(src)/rust/mmap_prepare.rs && \
	$(rmp_doc_srctree)

always-y += rmp-doc
$(obj)/rmp-doc: FORCE
	$(Q)mkdir -p $(RMP_DOC)
	$(Q)if [ "$$(cat $(RMP_DOC)/.kernel 2>/dev/null)" != "$(abspath $(objtree))" ]; then \
		$(if $(quiet),echo '  $(quiet_cmd_rmp_doc_kernel)';) $(cmd_rmp_doc_kernel); fi
	$(call cmd,rmp_doc)
