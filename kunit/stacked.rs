// SPDX-License-Identifier: GPL-2.0

//! The stacked-caller path, and when rmap can reach a new VMA.
//!
//! `/dev/rmp_stack_same` and `/dev/rmp_stack_other` (`kunit/stacker.c`) have a legacy `->mmap`
//! that maps an open file of the test device through `vfs_mmap()`, i.e. `compat_vma_mmap()`
//! (`mm/util.c`), on the VMA the core made for them: `same` gives the VMA to the test device's
//! file first (`vma_set_file()`, so `vm_file == file` in the descriptor), `other` leaves it the
//! stacking file's (`vm_file != file`). The direct cases map `/dev/rmp_kunit` itself.

use kernel::prelude::*;

#[kunit_tests(mmap_prepare_stacked)]
mod tests {
    use crate::{test_device::*, util::*};
    use kernel::{bindings, page::PAGE_SIZE, prelude::*};
    use mmap_prepare::VmaFlag;

    const SAME: &CStr = c"/dev/rmp_stack_same";
    const OTHER: &CStr = c"/dev/rmp_stack_other";

    /// Whether the page at `addr` holds the test pattern of page `index`.
    fn page_matches(addr: usize, index: usize) -> bool {
        read_user(addr, PAGE_SIZE).is_ok_and(|bytes| {
            bytes
                .iter()
                .enumerate()
                .all(|(i, b)| *b == pattern(index, i))
        })
    }

    /// The file the VMA at `addr` maps (`vm_file`).
    fn vm_file(addr: usize) -> Option<*mut bindings::file> {
        // SAFETY: The VMA is valid under the mmap read lock `with_vma` holds.
        with_vma(addr, |vma| vma.map(|v| unsafe { (*v.as_ptr()).vm_file }))
    }

    /// What rmap says of the VMA at `addr`, which maps its file at `offset` (bytes), once the
    /// mapping is made.
    fn rmap_after(addr: usize, offset: usize) -> Result<usize> {
        rmap_probe(vm_file(addr).ok_or(ENOENT)?, addr, offset / PAGE_SIZE)
    }

    #[test]
    fn direct_mapped_sees_the_actions_page_references() -> Result {
        reset_counters();
        let file = DevFile::open(DEVICE_PATH)?;
        let data = file.test_file();
        let page = data.pages.page(1).ok_or(ENOENT)?;
        let before = page_count(&page);
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::Observe.offset(1))?;
        assert_eq!(count(&MAPPED), 1);
        // The action (vm_insert_pages()) ran first: the page already had the mapping's reference.
        assert_eq!(count(&MAPPED_PAGE_COUNT), before as usize + 1);
        munmap(addr, 1);
        assert_eq!(page_count(&page), before);
        Ok(())
    }

    #[test]
    fn direct_vma_is_in_rmap_when_mapped_runs() -> Result {
        reset_counters();
        let file = DevFile::open(DEVICE_PATH)?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::Observe.offset(0))?;
        // vma_link_file() linked the VMA and dropped i_mmap_rwsem before the action: a walker
        // could have reached it (and zapped its entries) at any point of the action.
        assert_eq!(
            count(&MAPPED_RMAP),
            RMAP_SEEN | RMAP_IN_TREE | RMAP_WALKABLE
        );
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn hidden_vma_is_out_of_rmap_until_mapped_returns() -> Result {
        reset_counters();
        let file = DevFile::open(DEVICE_PATH)?;
        let offset = Mode::ObserveHidden.offset(0);
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, offset)?;
        // hide_from_rmap_until_complete: vma_link_file() inserted the VMA into the tree but kept
        // i_mmap_rwsem for writing, so no walker (unmap_mapping_range(), rmap_walk_file()) could
        // reach it while the action made its entries, and `mapped` runs with the lock held: the
        // probe's trylock fails.
        assert_eq!(count(&MAPPED_RMAP), RMAP_SEEN | RMAP_IN_TREE);
        // Once mmap() returned, the lock is free and walkers reach the VMA.
        assert_eq!(rmap_after(addr, offset), Ok(RMAP_IN_TREE | RMAP_WALKABLE));
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn stacked_mapped_sees_the_actions_page_references() -> Result {
        reset_counters();
        let stacked = open_stacked(SAME)?;
        let (stack, under) = (&stacked.stack, &stacked.under);
        let data = under.test_file();
        let page = data.pages.page(1).ok_or(ENOENT)?;
        let before = page_count(&page);
        let addr = stack.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::Observe.offset(1))?;
        assert_eq!(count(&PREPARE), 1);
        assert_eq!(count(&MAPPED), 1);
        // compat_vma_mmap() completed the action (vm_insert_pages()) before calling `mapped`.
        assert_eq!(count(&MAPPED_PAGE_COUNT), before as usize + 1);
        assert!(page_matches(addr, 1));
        // The VMA is the test device's file's (vma_set_file()), with its operations and data.
        assert_eq!(vm_file(addr), Some(under.as_ptr()));
        assert!(with_vma(addr, |v| v.is_some_and(|v| v.data::<TestVm>().is_some())));
        munmap(addr, 1);
        assert_eq!(page_count(&page), before);
        assert_eq!(count(&CLOSE), 1);
        assert_eq!(count(&VMA_DATA_LIVE), 0);
        drop(stacked);
        assert_eq!(count(&FILES_LIVE), 0);
        Ok(())
    }

    #[test]
    fn stacked_vma_is_not_in_rmap_when_mapped_runs() -> Result {
        for mode in [Mode::Observe, Mode::ObserveHidden] {
            reset_counters();
            let stacked = open_stacked(SAME)?;
            let stack = &stacked.stack;
            let addr = stack.mmap(0, 1, PROT_READ, MAP_SHARED, mode.offset(0))?;
            // compat_vma_mmap() runs inside the stacking ->mmap, before __mmap_new_vma() links
            // the VMA (vma_link_file()), and clears hide_from_rmap_until_complete: with or
            // without it, `mapped` sees a VMA that is in no tree yet, and no lock held.
            assert_eq!(count(&MAPPED_RMAP), RMAP_SEEN | RMAP_WALKABLE);
            assert_eq!(
                rmap_after(addr, mode.offset(0)),
                Ok(RMAP_IN_TREE | RMAP_WALKABLE)
            );
            munmap(addr, 1);
        }
        Ok(())
    }

    #[test]
    fn stacked_other_file_refuses_vm_ops_and_pfn_remaps() -> Result {
        reset_counters();
        let stacked = open_stacked(OTHER)?;
        let stack = &stacked.stack;
        let map = |mode: Mode| stack.mmap(0, 1, PROT_READ, MAP_SHARED, mode.offset(0));
        // set_vm_ops: `mapped` would read the stacking file's private data as the test device's.
        assert_eq!(map(Mode::Fault), Err(EINVAL));
        // A PFN remap holds no page reference, and the VMA keeps only the stacking file alive.
        assert_eq!(map(Mode::BareRemapPage), Err(EINVAL));
        assert_eq!(count(&PREPARE), 2);
        assert_eq!(count(&MAPPED), 0);
        Ok(())
    }

    #[test]
    fn stacked_other_file_maps_kernel_pages() -> Result {
        reset_counters();
        let stacked = open_stacked(OTHER)?;
        let stack = &stacked.stack;
        let addr = stack.mmap(0, 2, PROT_READ, MAP_SHARED, Mode::BareMapPages.offset(1))?;
        // Each inserted page holds its own reference: allowed whatever file the VMA keeps.
        assert!(page_matches(addr, 1));
        assert!(page_matches(addr + PAGE_SIZE, 2));
        assert_eq!(vm_file(addr), Some(stack.as_ptr()));
        assert!(with_vma(addr, |v| v
            .is_some_and(
                |v| v.flags().contains(VmaFlag::MIXEDMAP) && !v.is_owned_by::<TestVm>()
            )));
        munmap(addr, 2);
        Ok(())
    }

    #[test]
    fn stacked_same_file_remaps_a_page() -> Result {
        reset_counters();
        let stacked = open_stacked(SAME)?;
        let stack = &stacked.stack;
        let addr = stack.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::BareRemapPage.offset(2))?;
        assert!(page_matches(addr, 2));
        assert!(with_vma(addr, |v| v
            .is_some_and(|v| v.flags().contains(VmaFlag::PFNMAP))));
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn stacked_device_memory_is_refused() -> Result {
        reset_counters();
        for path in [SAME, OTHER] {
            let stacked = open_stacked(path)?;
            let offset = Mode::DeviceMemory.offset(0);
            // other: refused in mmap_prepare (vm_file != file). same: the VMA is the test device
            // file's, but `mapped` finds it not in the address space yet: were it counted, a
            // stacking ->mmap failing afterwards would free it without `close`, and the count
            // and its file mapping pointer would outlive the file.
            assert_eq!(
                stacked.stack.mmap(0, 1, PROT_READ, MAP_SHARED, offset),
                Err(EINVAL)
            );
            // The same file still maps it directly.
            let under = &stacked.under;
            let addr = under.mmap(0, 1, PROT_READ, MAP_SHARED, offset)?;
            assert!(page_matches(addr, 0));
            munmap(addr, 1);
        }
        Ok(())
    }
}
