// SPDX-License-Identifier: GPL-2.0

//! The rules `VmAreaDesc` enforces, on descriptors built here (no mapping is made). Each
//! descriptor names an open file of the test device, which refusals log as their culprit.

use kernel::prelude::*;

#[kunit_tests(mmap_prepare_desc_rules)]
mod tests {
    use crate::{test_device::DEVICE_PATH, util::DevFile};
    use kernel::{
        bindings,
        page::PAGE_SIZE,
        prelude::*,
        sync::{
            atomic::{Acquire, Atomic, Full},
            Arc,
        },
        time::{delay::fsleep, Delta},
        workqueue,
    };
    use mmap_prepare::{
        CacheMode, DeviceMemory, KernelPages, MappedArea, MmapAction, VmAreaDesc, VmOperations,
        VmaFlag, VmaFlags,
    };

    const START: usize = 0x7f00_0000_0000;
    const PAGES: usize = 4;
    const END: usize = START + PAGES * PAGE_SIZE;

    /// An open file of the test device, for the descriptors to name.
    fn file() -> DevFile {
        DevFile::open(DEVICE_PATH).expect("the test device opens")
    }

    /// A descriptor like the core builds for a mapping of `PAGES` pages of `file` with `flags`.
    fn raw_desc(file: &DevFile, flags: VmaFlags) -> bindings::vm_area_desc {
        let mut raw: bindings::vm_area_desc = pin_init::zeroed();
        raw.start = START;
        raw.end = END;
        raw.file = file.as_ptr();
        raw.vm_file = file.as_ptr();
        raw.vma_flags.__vma_flags[0] = flags.bits();
        // SAFETY: Computing a protection has no preconditions.
        raw.page_prot = unsafe { bindings::vm_get_page_prot(flags.bits()) };
        raw
    }

    fn shared_rw() -> VmaFlags {
        VmaFlag::READ
            | VmaFlag::WRITE
            | VmaFlag::MAYREAD
            | VmaFlag::MAYWRITE
            | VmaFlag::SHARED
            | VmaFlag::MAYSHARE
    }

    /// Runs `f` on a `VmAreaDesc` over `raw`; `'a` stands for the file data's lifetime.
    fn with_desc<'a, R>(
        raw: &mut bindings::vm_area_desc,
        f: impl FnOnce(&mut VmAreaDesc<'a, ()>) -> R,
    ) -> R {
        // SAFETY: `raw` is a valid descriptor borrowed exclusively for the call, naming an open
        // file (`raw_desc`); no file's data is reached by these tests.
        f(unsafe { VmAreaDesc::from_raw(raw) })
    }

    #[test]
    fn reads() {
        let f = file();
        let mut raw = raw_desc(&f, shared_rw());
        raw.pgoff = 7;
        with_desc(&mut raw, |d| {
            assert_eq!(
                (d.start(), d.end(), d.len(), d.pages(), d.pgoff()),
                (START, END, PAGES * PAGE_SIZE, PAGES, 7)
            );
            assert!(d.is_shared());
            assert!(!d.is_cow());
            assert_eq!(d.flags(), shared_rw());
        });
        let mut private = raw_desc(&f, VmaFlag::READ | VmaFlag::MAYREAD | VmaFlag::MAYWRITE);
        with_desc(&mut private, |d| {
            assert!(!d.is_shared());
            assert!(d.is_cow());
        });
    }

    #[test]
    fn flag_changes_follow_the_kernels_rules() {
        let f = file();
        let mut raw = raw_desc(
            &f,
            VmaFlag::READ | VmaFlag::MAYREAD | VmaFlag::MAYWRITE | VmaFlag::MAYSHARE,
        );
        with_desc(&mut raw, |d| {
            assert_eq!(d.set_flags(VmaFlag::DONTDUMP), Ok(()));
            assert!(d.flags().contains(VmaFlag::DONTDUMP));
            // No VM_MAY* is ever gained, and no access without its MAY flag.
            assert_eq!(d.set_flags(VmaFlag::MAYEXEC), Err(EPERM));
            assert_eq!(d.set_flags(VmaFlag::EXEC), Err(EPERM));
            // Even with MAYWRITE, WRITE is only granted by the user's request.
            assert_eq!(d.set_flags(VmaFlag::WRITE), Err(EPERM));
            assert!(!d.flags().contains(VmaFlag::WRITE));
            assert_eq!(d.clear_flags(VmaFlag::MAYSHARE), Err(EINVAL));
            // Flags the core owns, and flags that mean harm or nothing on a driver's mapping:
            // WIPEONFORK (madvise() refuses it on file mappings; a fork child would fault the
            // file's pages back in), HUGEPAGE/NOHUGEPAGE (no huge_fault handler).
            for flag in [
                VmaFlag::SHARED,
                VmaFlag::ACCOUNT,
                VmaFlag::HUGETLB,
                VmaFlag::SOFTDIRTY,
                VmaFlag::WIPEONFORK,
                VmaFlag::HUGEPAGE,
                VmaFlag::NOHUGEPAGE,
                VmaFlag::LOCKONFAULT,
                VmaFlag::MERGEABLE,
                VmaFlag::SYNC,
            ] {
                let before = d.flags();
                assert_eq!(d.set_flags(flag), Err(EINVAL));
                assert_eq!(d.flags(), before);
            }
            // Exactly the flags a driver may set are accepted.
            for &(_, flag) in VmaFlag::ALL {
                let allowed = VmAreaDesc::<()>::DRIVER_FLAGS.contains(flag);
                let access = (VmaFlags::MAY_FLAGS | VmaFlag::READ | VmaFlag::WRITE | VmaFlag::EXEC)
                    .contains(flag);
                if !allowed && !access && !d.flags().contains(flag) {
                    assert_eq!(d.set_flags(flag), Err(EINVAL));
                }
            }
            // MIXEDMAP and PFNMAP never together; a refused change changes nothing.
            assert_eq!(d.set_flags(VmaFlag::MIXEDMAP), Ok(()));
            let before = d.flags();
            assert_eq!(
                d.set_flags(VmaFlag::PFNMAP | VmaFlag::DONTCOPY),
                Err(EINVAL)
            );
            assert_eq!(d.flags(), before);
            assert_eq!(d.clear_flags(VmaFlag::MIXEDMAP), Ok(()));
            assert_eq!(d.set_flags(VmaFlag::PFNMAP), Ok(()));
            // An unused MAY flag may go, so that mprotect() cannot add the access later.
            assert_eq!(d.clear_flags(VmaFlag::MAYEXEC), Ok(()));
        });
        // A writable request: WRITE stays, and so must MAYWRITE.
        let mut rw = raw_desc(&f, shared_rw());
        with_desc(&mut rw, |d| {
            assert_eq!(d.clear_flags(VmaFlag::MAYWRITE), Err(EINVAL));
            assert_eq!(d.clear_flags(VmaFlag::WRITE), Err(EINVAL));
            assert_eq!(d.flags(), shared_rw());
        });
        let mut ro = raw_desc(
            &f,
            VmaFlag::READ | VmaFlag::MAYREAD | VmaFlag::MAYWRITE | VmaFlag::MAYSHARE,
        );
        with_desc(&mut ro, |d| {
            assert_eq!(d.clear_flags(VmaFlag::MAYWRITE), Ok(()));
            assert_eq!(d.set_flags(VmaFlag::WRITE), Err(EPERM));
            assert_eq!(d.set_flags(VmaFlag::MAYWRITE), Err(EPERM));
        });
    }

    #[test]
    fn remap_ranges_are_checked() {
        let f = file();
        let mut raw = raw_desc(&f, shared_rw());
        with_desc(&mut raw, |d| {
            let remap = |start, size| {
                // SAFETY: These actions are only checked and written into a descriptor that no
                // mapping is made from, so PFN 0x1000 is never mapped.
                unsafe { MmapAction::remap_pfn(start, 0x1000, size) }
            };
            assert_eq!(
                d.set_action(remap(START - PAGE_SIZE, PAGE_SIZE)),
                Err(EFAULT)
            );
            assert_eq!(
                d.set_action(remap(START, (PAGES + 1) * PAGE_SIZE)),
                Err(EFAULT)
            );
            assert_eq!(d.set_action(remap(END, PAGE_SIZE)), Err(EFAULT));
            assert_eq!(
                d.set_action(remap(usize::MAX & !(PAGE_SIZE - 1), 2 * PAGE_SIZE)),
                Err(EFAULT)
            );
            assert_eq!(d.set_action(remap(START + 1, PAGE_SIZE)), Err(EINVAL));
            assert_eq!(d.set_action(remap(START, 0)), Err(EINVAL));
            assert_eq!(
                d.set_action(remap(START + PAGE_SIZE, 2 * PAGE_SIZE)),
                Ok(())
            );
            // The remap makes the VMA PFNMAP, which excludes MIXEDMAP.
            assert_eq!(d.set_flags(VmaFlag::MIXEDMAP), Err(EINVAL));
            // One action per mapping.
            assert_eq!(d.set_action(remap(START, PAGE_SIZE)), Err(EINVAL));
        });
        let a = &raw.action;
        assert_eq!(a.type_, bindings::mmap_action_type_MMAP_REMAP_PFN);
        // SAFETY: `set_action` wrote the `remap` member, as `type_` says.
        let remap = unsafe { a.__bindgen_anon_1.remap };
        assert_eq!(
            (remap.start, remap.start_pfn, remap.size),
            (START + PAGE_SIZE, 0x1000, 2 * PAGE_SIZE)
        );
        assert_eq!(a.error_override, 0);
    }

    #[test]
    fn pfn_remap_needs_the_mapped_file() -> Result {
        let f = file();
        let pages = KernelPages::alloc(1, GFP_KERNEL)?;
        let mut raw = raw_desc(&f, shared_rw());
        // A stacking caller mapping another file (`vm_file`) than ours (`file`): that VMA would
        // not keep our file's data, hence our pages, alive. Only the addresses are compared.
        raw.vm_file = core::ptr::NonNull::dangling().as_ptr();
        with_desc(&mut raw, |d| {
            assert_eq!(
                d.set_action(MmapAction::remap_kernel_page(&pages, 0)),
                Err(EINVAL)
            );
            // Mapping pages takes references of their own: allowed.
            let action = MmapAction::map_kernel_pages_at(START, &pages, 0, 1);
            assert_eq!(d.set_action(action), Ok(()));
        });
        Ok(())
    }

    #[test]
    fn map_kernel_pages_is_checked() -> Result {
        let f = file();
        let pages = KernelPages::alloc(2, GFP_KERNEL)?;
        let mut raw = raw_desc(&f, shared_rw());
        with_desc(&mut raw, |d| {
            // The whole mapping needs 4 pages; only 2 exist.
            assert_eq!(
                d.set_action(MmapAction::map_kernel_pages(&pages, 0)),
                Err(EINVAL)
            );
            assert_eq!(
                d.set_action(MmapAction::map_kernel_pages_at(START, &pages, 1, 2)),
                Err(EINVAL)
            );
            assert_eq!(
                d.set_action(MmapAction::map_kernel_pages_at(
                    END - PAGE_SIZE,
                    &pages,
                    0,
                    2
                )),
                Err(EFAULT)
            );
            // An empty slot; and a mapping of more than one page, which one page cannot fill.
            assert_eq!(
                d.set_action(MmapAction::remap_kernel_page(&pages, 2)),
                Err(EINVAL)
            );
            assert_eq!(
                d.set_action(MmapAction::remap_kernel_page(&pages, 0)),
                Err(EINVAL)
            );
            // SAFETY: Written into a descriptor that no mapping is made from: no `mapped` runs.
            let action = unsafe {
                MmapAction::map_kernel_pages_at(START + PAGE_SIZE, &pages, 0, 2)
                    .error_override(EAGAIN)
                    .hide_from_rmap_until_complete()
            };
            assert_eq!(d.set_action(action), Ok(()));
            // The core would make it MIXEDMAP: PFNMAP is refused from now on.
            assert_eq!(d.set_flags(VmaFlag::PFNMAP), Err(EINVAL));
        });
        let a = &raw.action;
        assert_eq!(a.type_, bindings::mmap_action_type_MMAP_MAP_KERNEL_PAGES);
        // SAFETY: `set_action` wrote the `map_kernel` member, as `type_` says.
        let mk = unsafe { a.__bindgen_anon_1.map_kernel };
        assert_eq!((mk.start, mk.nr_pages), (START + PAGE_SIZE, 2));
        // SAFETY: `mk.pages` points into `pages`, which is alive, at its first entry.
        let first = unsafe { *mk.pages };
        assert!(pages
            .page(0)
            .is_some_and(|p| core::ptr::eq(p.as_ptr(), first)));
        assert_eq!(a.error_override, EAGAIN.to_errno());
        assert!(a.hide_from_rmap_until_complete());

        // With PFNMAP already set, map_kernel_pages is refused (the core would WARN).
        let mut pfn = raw_desc(&f, shared_rw() | VmaFlag::PFNMAP);
        with_desc(&mut pfn, |d| {
            assert_eq!(
                d.set_action(MmapAction::map_kernel_pages_at(START, &pages, 0, 1)),
                Err(EINVAL)
            );
        });
        Ok(())
    }

    #[test]
    fn remap_kernel_page_maps_exactly_one_page() -> Result {
        let f = file();
        let pages = KernelPages::alloc(1, GFP_KERNEL)?;
        let mut raw = raw_desc(&f, shared_rw());
        raw.end = START + PAGE_SIZE;
        with_desc(&mut raw, |d| {
            assert_eq!(
                d.set_action(MmapAction::remap_kernel_page(&pages, 0)),
                Ok(())
            );
        });
        assert_eq!(raw.action.type_, bindings::mmap_action_type_MMAP_REMAP_PFN);
        Ok(())
    }

    /// The bits `pgprot_writecombine()` and friends change on x86: PWT, PCD, PAT.
    #[cfg(CONFIG_X86)]
    const CACHE_BITS: u64 = (1 << bindings::_PAGE_BIT_PWT)
        | (1 << bindings::_PAGE_BIT_PCD)
        | (1 << bindings::_PAGE_BIT_PAT);

    /// The bits `pgprot_writecombine()` and friends change on arm64: the attribute index
    /// (`PTE_ATTRINDX_MASK`, bits 2-4), and PXN and UXN (bits 53, 54), which they set: device
    /// memory is never executable (`arch/arm64/include/asm/pgtable{,-hwdef}.h`; bindgen cannot
    /// evaluate those macros).
    #[cfg(CONFIG_ARM64)]
    const CACHE_BITS: u64 = (7 << 2) | (1 << 53) | (1 << 54);

    fn cache_bits(prot: bindings::pgprot_t) -> u64 {
        prot.pgprot as u64 & CACHE_BITS
    }

    /// Whether a protection forbids writes: x86 without `_PAGE_RW`; arm64 with `PTE_RDONLY`
    /// (bit 7) and without `PTE_WRITE` (bit 51, the dirty-bit-modifier bit).
    fn read_only(prot: bindings::pgprot_t) -> bool {
        let prot = prot.pgprot as u64;
        #[cfg(CONFIG_X86)]
        return prot & (1 << bindings::_PAGE_BIT_RW) == 0;
        #[cfg(CONFIG_ARM64)]
        return prot & (1 << 7) != 0 && prot & (1 << 51) == 0;
    }

    #[test]
    fn cache_modes_only_for_device_memory() -> Result {
        let f = file();
        let pages = KernelPages::alloc(PAGES, GFP_KERNEL)?;
        let ro = shared_ro();
        // RAM through the safe paths: refused, whatever the mode, and nothing changes.
        for mode in [
            CacheMode::WriteCombine,
            CacheMode::Uncached,
            CacheMode::Device,
        ] {
            let mut raw = raw_desc(&f, ro);
            let before = raw.page_prot.pgprot;
            with_desc(&mut raw, |d| {
                let map = MmapAction::map_kernel_pages(&pages, 0).cache_mode(mode);
                assert_eq!(d.set_action(map), Err(EINVAL));
                let remap = MmapAction::remap_kernel_page(&pages, 0).cache_mode(mode);
                assert_eq!(d.set_action(remap), Err(EINVAL));
                assert_eq!(
                    d.set_action(MmapAction::nothing().cache_mode(mode)),
                    Err(EINVAL)
                );
            });
            assert_eq!(raw.page_prot.pgprot, before);
            assert_eq!(raw.action.type_, bindings::mmap_action_type_MMAP_NOTHING);
        }
        // Device memory (the driver vouched in `unsafe`): the mode applies to the descriptor's
        // own protection, which the remap copies; the access bits stay the request's.
        let mut raw = raw_desc(&f, ro);
        let before = raw.page_prot;
        with_desc(&mut raw, |d| {
            // SAFETY: Only checked and written into a descriptor no mapping is made from.
            let action = unsafe { MmapAction::ioremap_full(0x1000) };
            assert_eq!(
                d.set_action(action.cache_mode(CacheMode::WriteCombine)),
                Ok(())
            );
        });
        assert_eq!(
            raw.action.type_,
            bindings::mmap_action_type_MMAP_IO_REMAP_PFN
        );
        // SAFETY: `set_action` wrote the `remap` member, as `type_` says.
        let remap = unsafe { raw.action.__bindgen_anon_1.remap };
        assert_eq!(remap.pgprot.pgprot, raw.page_prot.pgprot);
        assert_ne!(cache_bits(raw.page_prot), cache_bits(before));
        assert_eq!(
            raw.page_prot.pgprot as u64 & !CACHE_BITS,
            before.pgprot as u64 & !CACHE_BITS
        );
        // A read-only request stays read-only.
        assert!(read_only(before) && read_only(raw.page_prot));

        let mut raw = raw_desc(&f, ro);
        with_desc(&mut raw, |d| {
            // SAFETY: As above.
            let action = unsafe { MmapAction::simple_ioremap(0x1000_0000, PAGES * PAGE_SIZE) };
            assert_eq!(d.set_action(action.cache_mode(CacheMode::Uncached)), Ok(()));
        });
        assert_eq!(
            raw.action.type_,
            bindings::mmap_action_type_MMAP_SIMPLE_IO_REMAP
        );
        assert_ne!(cache_bits(raw.page_prot), cache_bits(before));
        Ok(())
    }

    /// VMA operations for the descriptors here, whose file data is `()`.
    struct UnitVm;

    #[vtable]
    impl VmOperations for UnitVm {
        type FileData = ();
        type Data = ();

        mmap_prepare::vm_ops_table!(UnitVm);

        fn mapped(_area: &MappedArea<'_>, _file_data: ()) -> Result {
            Ok(())
        }
    }

    fn shared_ro() -> VmaFlags {
        VmaFlag::READ | VmaFlag::MAYREAD | VmaFlag::SHARED | VmaFlag::MAYSHARE
    }

    /// Device memory of `cache` type that no mapping is made from, for descriptors to name; the
    /// test thread gets an mm of its own.
    fn unmapped_device_memory(cache: CacheMode) -> Result<Arc<DeviceMemory>> {
        crate::util::attach_mm()?;
        // SAFETY: Only checked and written into descriptors that no mapping is made from, so
        // nothing ever maps physical page 0x10000 (and a revocation has nothing to zap).
        unsafe { DeviceMemory::new(0x1000_0000, PAGES * PAGE_SIZE, cache) }
    }

    /// `map_device_memory` on a fresh shared read-only descriptor of `f`.
    fn prepare(f: &DevFile, memory: &Arc<DeviceMemory>) -> Result {
        let mut raw = raw_desc(f, shared_ro());
        with_desc(&mut raw, |d| d.map_device_memory(memory.as_arc_borrow()))
    }

    #[test]
    fn device_memory_mapping_is_sealed() -> Result {
        let f = file();
        let memory = unmapped_device_memory(CacheMode::WriteCombine)?;
        let mut raw = raw_desc(&f, shared_ro());
        let before = raw.page_prot;
        let special = VmaFlag::IO
            | VmaFlag::PFNMAP
            | VmaFlag::DONTEXPAND
            | VmaFlag::DONTDUMP
            | VmaFlag::DONTCOPY;
        with_desc(&mut raw, |d| {
            assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Ok(()));
            let flags = d.flags();
            assert!(flags.contains_all(special));
            // Whatever would change what the fault handler and the revocation rely on: the
            // operations, the flags (a fork copying the entries, MIXEDMAP with PFNMAP), the
            // offset checked against the memory, an action that maps something else.
            assert_eq!(d.set_vm_ops::<UnitVm>(), Err(EINVAL));
            for flag in [
                VmaFlag::DONTCOPY,
                VmaFlag::PFNMAP,
                VmaFlag::IO,
                VmaFlag::DONTEXPAND,
            ] {
                assert_eq!(d.clear_flags(flag), Err(EINVAL));
            }
            assert_eq!(d.set_flags(VmaFlag::MIXEDMAP), Err(EINVAL));
            assert_eq!(d.set_flags(VmaFlag::DONTDUMP), Err(EINVAL));
            assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Err(EINVAL));
            assert_eq!(d.set_action(MmapAction::nothing()), Err(EINVAL));
            assert_eq!(d.set_pgoff(1), Err(EINVAL));
            assert_eq!(d.flags(), flags);
        });
        // Nothing is mapped by an action: the fault handler inserts the entries.
        assert_eq!(raw.action.type_, bindings::mmap_action_type_MMAP_NOTHING);
        // The memory's own type, on the descriptor's protection.
        assert_ne!(cache_bits(raw.page_prot), cache_bits(before));
        // Refused before anything is set: a private mapping, a MIXEDMAP one, and mappings
        // that do not fit the memory at their offset.
        let mut private = raw_desc(&f, VmaFlag::READ | VmaFlag::MAYREAD);
        let mut mixed = raw_desc(&f, shared_ro() | VmaFlag::MIXEDMAP);
        let mut shifted = raw_desc(&f, shared_ro());
        shifted.pgoff = 1;
        let mut past = raw_desc(&f, shared_ro());
        past.pgoff = PAGES + 1;
        for raw in [&mut private, &mut mixed, &mut shifted, &mut past] {
            let flags = raw.vma_flags.__vma_flags[0];
            with_desc(&mut *raw, |d| {
                assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Err(EINVAL));
            });
            assert_eq!(raw.vma_flags.__vma_flags[0], flags);
            assert!(raw.vm_ops.is_null());
        }
        // Installing the driver's operations first is fine; the device memory ones replace them.
        let mut raw = raw_desc(&f, shared_ro());
        with_desc(&mut raw, |d| {
            assert_eq!(d.set_vm_ops::<UnitVm>(), Ok(()));
            assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Ok(()));
            assert_eq!(d.set_vm_ops::<UnitVm>(), Err(EINVAL));
        });
        // Revoked memory is refused with nothing set.
        memory.revoke();
        let mut raw = raw_desc(&f, shared_ro());
        with_desc(&mut raw, |d| {
            assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Err(ENODEV));
        });
        assert!(raw.vm_ops.is_null());
        Ok(())
    }

    #[test]
    fn device_memory_types_reach_the_protection() -> Result {
        let f = file();
        let mut bits = KVec::new();
        for cache in [CacheMode::Uncached, CacheMode::WriteCombine] {
            let memory = unmapped_device_memory(cache)?;
            let mut raw = raw_desc(&f, shared_ro());
            with_desc(&mut raw, |d| {
                assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Ok(()));
            });
            bits.push(cache_bits(raw.page_prot), GFP_KERNEL)?;
        }
        let write_back = cache_bits(raw_desc(&f, shared_ro()).page_prot);
        assert!(bits[0] != write_back && bits[1] != write_back && bits[0] != bits[1]);
        Ok(())
    }

    extern "C" {
        fn rmp_kunit_cachemode(prot: bindings::pgprot_t) -> c_int;
        fn rmp_kunit_prot_exec_never(prot: bindings::pgprot_t) -> c_int;
    }

    /// The memory type each `CacheMode` of device memory puts on a descriptor's protection, per
    /// architecture, and a plain request's (write-back) for comparison:
    /// - x86 (`enum page_cache_mode` of the PAT bits): uncached and device are UC-
    ///   (`pgprot_noncached()`, `pgprot_device()` is the same), write-combine WC. What the entries
    ///   get is still the PAT's to say (`rust_pci_bar_kunit`).
    /// - arm64 (the MAIR attribute index): uncached is Device-nGnRnE, device Device-nGnRE,
    ///   write-combine Normal-NC, the request Normal; every device type is never executable
    ///   (PXN and UXN). The entries get exactly this: arm64 has no PAT to change it.
    #[test]
    fn device_memory_types_per_architecture() -> Result {
        #[cfg(CONFIG_X86)]
        let want = {
            let (wb, wc, uc_minus) = (
                bindings::page_cache_mode__PAGE_CACHE_MODE_WB,
                bindings::page_cache_mode__PAGE_CACHE_MODE_WC,
                bindings::page_cache_mode__PAGE_CACHE_MODE_UC_MINUS,
            );
            [wb, uc_minus, wc, uc_minus].map(|t| t as c_int)
        };
        #[cfg(CONFIG_ARM64)]
        let want = [
            bindings::MT_NORMAL,
            bindings::MT_DEVICE_nGnRnE,
            bindings::MT_NORMAL_NC,
            bindings::MT_DEVICE_nGnRE,
        ]
        .map(|t| t as c_int);
        let f = file();
        let request = raw_desc(&f, shared_ro()).page_prot;
        let mut got = [-1; 4];
        let mut exec_never = [-1; 4];
        let bits = |prot| {
            // SAFETY: `rmp_kunit_cachemode()` and `rmp_kunit_prot_exec_never()`
            // (`kunit_helpers.c`) only read bits of `prot`, which they take by value.
            unsafe { (rmp_kunit_cachemode(prot), rmp_kunit_prot_exec_never(prot)) }
        };
        (got[0], exec_never[0]) = bits(request);
        for (i, cache) in [
            CacheMode::Uncached,
            CacheMode::WriteCombine,
            CacheMode::Device,
        ]
        .into_iter()
        .enumerate()
        {
            let memory = unmapped_device_memory(cache)?;
            let mut raw = raw_desc(&f, shared_ro());
            with_desc(&mut raw, |d| {
                assert_eq!(d.map_device_memory(memory.as_arc_borrow()), Ok(()));
            });
            (got[i + 1], exec_never[i + 1]) = bits(raw.page_prot);
        }
        assert_eq!(got, want);
        // A shared read-only request is not executable to begin with, on both.
        assert_eq!(exec_never, [1; 4]);
        Ok(())
    }

    extern "C" {
        fn rmp_kunit_mmap_write_lock();
        fn rmp_kunit_mmap_write_unlock();
    }

    /// The test thread's mmap lock, held for writing as an mmap call holds it, until dropped.
    struct MmapWriteLock;

    impl MmapWriteLock {
        fn lock() -> Result<Self> {
            crate::util::attach_mm()?;
            // SAFETY: `attach_mm()` made sure this thread has an mm; unlocked on drop.
            unsafe { rmp_kunit_mmap_write_lock() };
            Ok(Self)
        }
    }

    impl Drop for MmapWriteLock {
        fn drop(&mut self) {
            // SAFETY: Locked by this thread in `lock`.
            unsafe { rmp_kunit_mmap_write_unlock() };
        }
    }

    /// Runs `memory.revoke()` on a workqueue; `done` counts the revocations that returned.
    fn spawn_revoke(memory: &Arc<DeviceMemory>, done: &Arc<Atomic<usize>>) -> Result {
        let (m, d) = (memory.clone(), done.clone());
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            m.revoke();
            d.fetch_add(1, Full);
        })?;
        Ok(())
    }

    /// Waits up to five seconds for `done` to reach `count`; what it reached.
    fn wait_for(done: &Atomic<usize>, count: usize) -> usize {
        for _ in 0..500 {
            if done.load(Acquire) >= count {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        done.load(Acquire)
    }

    /// `revoke()` takes no lock of any address space: it returns while an mmap call of the
    /// memory holds its mmap lock for writing, called from other threads and from that very
    /// thread, as `mmap_prepare`, `mapped` or `close` would call it. (It used to wait for such a
    /// call under its mmap lock: a driver revoking from its own mmap call hung in D state, and
    /// lockdep reported the recursion.)
    #[test]
    fn revoke_takes_no_mmap_lock() -> Result {
        let f = file();
        let memory = unmapped_device_memory(CacheMode::Uncached)?;
        let done = Arc::new(Atomic::new(0usize), GFP_KERNEL)?;
        let others = {
            let _call = MmapWriteLock::lock()?;
            prepare(&f, &memory)?;
            spawn_revoke(&memory, &done)?;
            spawn_revoke(&memory, &done)?;
            let others = wait_for(&done, 2);
            memory.revoke();
            others
        };
        assert_eq!(others, 2);
        assert!(memory.is_revoked());
        assert_eq!(prepare(&f, &memory), Err(ENODEV));
        Ok(())
    }

    #[test]
    fn pgoff_is_checked() {
        let f = file();
        let mut raw = raw_desc(&f, shared_rw());
        with_desc(&mut raw, |d| {
            // do_mmap()'s rule for a character device: the byte offset plus the length must fit
            // an unsigned long.
            let largest = (usize::MAX - PAGES * PAGE_SIZE) >> bindings::PAGE_SHIFT;
            assert_eq!(d.set_pgoff(usize::MAX - PAGES + 1), Err(EOVERFLOW));
            assert_eq!(d.set_pgoff(usize::MAX), Err(EOVERFLOW));
            assert_eq!(d.set_pgoff(largest + 1), Err(EOVERFLOW));
            assert_eq!(d.pgoff(), 0);
            assert_eq!(d.set_pgoff(largest), Ok(()));
            assert_eq!(d.set_pgoff(3), Ok(()));
            assert_eq!(d.set_action(MmapAction::nothing()), Ok(()));
            // NOTHING is no action: the offset may still change.
            assert_eq!(d.set_pgoff(4), Ok(()));
        });
        assert_eq!(raw.pgoff, 4);
        let pages = KernelPages::alloc(PAGES, GFP_KERNEL).expect("pages");
        let mut raw = raw_desc(&f, shared_rw());
        with_desc(&mut raw, |d| {
            assert_eq!(
                d.set_action(MmapAction::map_kernel_pages(&pages, 0)),
                Ok(())
            );
            // The action was checked against the old offset.
            assert_eq!(d.set_pgoff(1), Err(EINVAL));
        });
    }
}
