// SPDX-License-Identifier: GPL-2.0

//! End to end: real `mmap()` calls on the test device, from a KUnit thread with its own mm.

use kernel::prelude::*;

#[kunit_tests(mmap_prepare_e2e)]
mod tests {
    use crate::{test_device::*, util::*};
    use kernel::uaccess::UserPtr;
    use kernel::{
        page::{Page, PAGE_SIZE},
        prelude::*,
        sync::{
            atomic::{Acquire, Atomic, Release},
            Arc,
        },
        time::{delay::fsleep, Delta},
        workqueue,
    };
    use mmap_prepare::{
        IntoRef, KernelPage, KernelPages, PageCopy, PinnedUserBuffer, UserContext, VmaFlag,
    };

    fn open() -> Result<DevFile> {
        DevFile::open(DEVICE_PATH)
    }

    /// Whether the page at `addr` holds the test pattern of page `index`.
    fn page_matches(addr: usize, index: usize) -> bool {
        match read_user(addr, PAGE_SIZE) {
            Ok(bytes) => bytes
                .iter()
                .enumerate()
                .all(|(i, b)| *b == pattern(index, i)),
            Err(_) => false,
        }
    }

    /// A page full of `0xa5`, returned to the allocator when dropped.
    fn dirty_page() -> Result<Page> {
        let page = Page::alloc_page(GFP_KERNEL)?;
        let dirt = KVec::from_elem(0xa5u8, PAGE_SIZE, GFP_KERNEL)?;
        // SAFETY: A page of our own that nothing else reaches; `dirt` is a page of bytes.
        unsafe { page.write_raw(dirt.as_ptr(), 0, PAGE_SIZE) }?;
        Ok(page)
    }

    fn is_zero(page: &impl PageCopy) -> bool {
        let Ok(mut bytes) = KVec::from_elem(0xffu8, PAGE_SIZE, GFP_KERNEL) else {
            return false;
        };
        page.read_bytes(0, &mut bytes).is_ok() && bytes.iter().all(|&b| b == 0)
    }

    /// Pages the crate may map are zeroed whatever the flags: userspace must never see what the
    /// allocator's last user left. Each allocation follows the free of a dirty page, which the
    /// allocator's per-CPU list usually hands out again; `From<Page>` zeroes a dirty page.
    #[test]
    fn mappable_pages_are_zeroed() -> Result {
        drop(dirty_page()?);
        assert!(is_zero(&KernelPage::alloc(GFP_KERNEL)?));
        drop(dirty_page()?);
        let pages = KernelPages::alloc(1, GFP_KERNEL)?;
        assert!(pages.page(0).is_some_and(|page| is_zero(&page)));
        drop(dirty_page()?);
        let pages = KernelPages::new_empty(1)?;
        assert!(is_zero(&pages.get_or_alloc(0, GFP_KERNEL)?));
        assert!(is_zero(&KernelPage::from(dirty_page()?)));
        Ok(())
    }
    #[test]
    fn prepare_then_mapped_once() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 2, RW, MAP_SHARED, Mode::Fault.offset(0))?;
        assert_eq!(count(&PREPARE), 1);
        assert_eq!(count(&MAPPED), 1);
        assert_eq!(count(&VMA_DATA_LIVE), 1);
        let start = with_vma(addr, |vma| {
            let vma = vma.expect("a VMA at the mapped address");
            assert!(vma.is_owned_by::<TestVm>());
            vma.data::<TestVm>().map(|state| state.into_ref().start)
        });
        assert_eq!(start, Some(addr));
        munmap(addr, 2);
        assert_eq!(count(&CLOSE), 1);
        assert_eq!(count(&CLOSE_NO_DATA), 0);
        assert_eq!(count(&VMA_DATA_LIVE), 0);
        drop(file);
        assert_eq!(count(&FILES_LIVE), 0);
        Ok(())
    }

    #[test]
    fn adjacent_mappings_merge_and_split_keeps_ownership() -> Result {
        reset_counters();
        let file = open()?;
        let a = file.mmap(0, 2, RW, MAP_SHARED, Mode::Fault.offset(0))?;
        let b = file.mmap(
            a + 2 * PAGE_SIZE,
            2,
            RW,
            MAP_SHARED | MAP_FIXED_NOREPLACE,
            Mode::Fault.offset(2),
        )?;
        assert_eq!(b, a + 2 * PAGE_SIZE);
        assert_eq!(count(&PREPARE), 2);
        // The second mapping merged into the first: no new VMA, so no `mapped`.
        assert_eq!(count(&MAPPED), 1);
        let range = with_vma(b, |vma| vma.map(|v| (v.start(), v.end(), v.pgoff())));
        assert_eq!(range, Some((a, a + 4 * PAGE_SIZE, 0)));
        assert_eq!(count(&VMA_DATA_LIVE), 1);

        // Unmapping a page in the middle splits the VMA twice (two copies, each opened with a
        // reference of its own) and removes the middle one (closed). The state stays alive.
        munmap(a + PAGE_SIZE, 1);
        assert_eq!(count(&OPEN), 2);
        assert_eq!(count(&CLOSE), 1);
        assert_eq!(count(&VMA_DATA_LIVE), 1);
        assert!(page_matches(a + 3 * PAGE_SIZE, 3));

        munmap(a, 4);
        assert_eq!(count(&VMA_DATA_LIVE), 0);
        // Every VMA that got data released it exactly once.
        assert_eq!(count(&CLOSE), count(&MAPPED) + count(&OPEN));
        drop(file);
        assert_eq!(count(&FILES_LIVE), 0);
        Ok(())
    }

    #[test]
    fn failing_mapped_is_closed_without_data() -> Result {
        reset_counters();
        let file = open()?;
        let ret = file.mmap(0, 1, RW, MAP_SHARED, Mode::MappedFails.offset(0));
        // `mapped` said ENOMEM; the action's error_override turns it into EAGAIN.
        assert_eq!(ret, Err(EAGAIN));
        assert_eq!(count(&MAPPED), 1);
        assert_eq!(count(&CLOSE), 1);
        assert_eq!(count(&CLOSE_NO_DATA), 1);
        assert_eq!(count(&VMA_DATA_LIVE), 0);
        Ok(())
    }

    #[test]
    fn fault_hands_out_pages() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, PAGES, PROT_READ, MAP_SHARED, Mode::Fault.offset(0))?;
        for index in 0..PAGES {
            assert!(page_matches(addr + index * PAGE_SIZE, index));
        }
        assert_eq!(count(&FAULT), PAGES);
        munmap(addr, PAGES);
        Ok(())
    }

    #[test]
    fn map_kernel_pages_action() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 3, PROT_READ, MAP_SHARED, Mode::MapKernelPages.offset(1))?;
        for index in 0..3 {
            assert!(page_matches(addr + index * PAGE_SIZE, index + 1));
        }
        // Mapped by the action: no fault was needed.
        assert_eq!(count(&FAULT), 0);
        assert!(with_vma(addr, |vma| vma
            .and_then(|v| v.as_own::<TestVm>())
            .is_some_and(|v| v.check_mixedmap().is_some())));
        munmap(addr, 3);
        // Asking for more pages than the file has is refused in mmap_prepare.
        let ret = file.mmap(0, 3, PROT_READ, MAP_SHARED, Mode::MapKernelPages.offset(2));
        assert_eq!(ret, Err(EINVAL));
        Ok(())
    }

    #[test]
    fn remap_page_action() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::RemapPage.offset(2))?;
        assert!(page_matches(addr, 2));
        assert_eq!(count(&FAULT), 0);
        let (pfnmap, mixed) = with_vma(addr, |vma| {
            let vma = vma
                .and_then(|v| v.as_own::<TestVm>())
                .expect("the test device's VMA at the mapped address");
            (
                vma.flags().contains(VmaFlag::PFNMAP),
                vma.check_mixedmap().is_some(),
            )
        });
        assert!(pfnmap);
        assert!(!mixed);
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn fault_inserts_pfns() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 2, PROT_READ, MAP_SHARED, Mode::PfnFault.offset(1))?;
        assert!(page_matches(addr, 1));
        assert!(page_matches(addr + PAGE_SIZE, 2));
        assert_eq!(count(&FAULT), 2);
        assert!(with_vma(addr, |v| v
            .is_some_and(|v| v.flags().contains(VmaFlag::PFNMAP))));
        munmap(addr, 2);
        assert_eq!(count(&VMA_DATA_LIVE), 0);
        Ok(())
    }

    #[test]
    fn bad_action_fails_in_prepare() -> Result {
        reset_counters();
        let file = open()?;
        assert_eq!(
            file.mmap(0, 1, RW, MAP_SHARED, Mode::BadRange.offset(0)),
            Err(EFAULT)
        );
        assert_eq!(count(&PREPARE), 1);
        // No VMA was made: nothing to call back.
        assert_eq!(count(&MAPPED), 0);
        assert_eq!(count(&CLOSE), 0);
        assert_eq!(
            file.mmap(0, 1, RW, MAP_PRIVATE, Mode::Fault.offset(0)),
            Err(EINVAL)
        );
        Ok(())
    }

    #[test]
    fn own_vma_proof_refuses_foreign_vma() -> Result {
        reset_counters();
        let file = open()?;
        let ours = file.mmap(0, 1, RW, MAP_SHARED, Mode::Fault.offset(0))?;
        let anon = mmap_raw(
            core::ptr::null_mut(),
            0,
            1,
            RW,
            MAP_PRIVATE | MAP_ANONYMOUS,
            0,
        )?;
        assert!(with_vma(ours, |v| v.is_some_and(|v| v.data::<TestVm>().is_some())));
        assert!(with_vma(anon, |v| v.is_some_and(|v| !v.is_owned_by::<TestVm>())));
        assert!(with_vma(anon, |v| v.is_some_and(|v| v.data::<TestVm>().is_none())));
        munmap(anon, 1);
        munmap(ours, 1);
        Ok(())
    }

    #[test]
    fn insert_pages_then_zap() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 2, PROT_READ, MAP_SHARED, Mode::MixedMap.offset(0))?;
        let inserted = with_vma(addr, |vma| -> Result {
            let vma = vma.and_then(|v| v.as_own::<TestVm>()).ok_or(ENOENT)?;
            let state = vma.data().ok_or(ENOENT)?.into_ref();
            let mixed = vma.check_mixedmap().ok_or(EINVAL)?;
            mixed.insert_pages(addr, &state.file.pages, 1, 2)?;
            // Out of range requests are refused before reaching the core.
            assert_eq!(
                mixed.insert_pages(addr, &state.file.pages, 3, 2),
                Err(EINVAL)
            );
            assert_eq!(vma.zap_range(addr, 3 * PAGE_SIZE), Err(EINVAL));
            // Addresses outside the VMA, before the core (whose range check wraps: from the
            // last page of the address space, two pages "end" at 4096, below `vm_end`).
            let last = usize::MAX & !(PAGE_SIZE - 1);
            assert_eq!(
                mixed.insert_pages(last, &state.file.pages, 1, 2),
                Err(EFAULT)
            );
            assert_eq!(
                mixed.insert_pages(addr + PAGE_SIZE, &state.file.pages, 1, 2),
                Err(EFAULT)
            );
            assert_eq!(
                mixed.insert_pages(addr - PAGE_SIZE, &state.file.pages, 1, 2),
                Err(EFAULT)
            );
            // Unaligned: `zap_pte_range()` would step past an unaligned end, out of its page
            // table. Nothing at all succeeds without reaching the core, whose `insert_pages()`
            // would make page tables at `vm_end` (this case checks the answer only).
            assert_eq!(vma.zap_range(addr, 1), Err(EINVAL));
            assert_eq!(vma.zap_range(addr + 1, PAGE_SIZE), Err(EINVAL));
            assert_eq!(
                mixed.insert_pages(addr + 1, &state.file.pages, 1, 1),
                Err(EINVAL)
            );
            // The core would map it at `addr`, where page 1 already is (`EBUSY`).
            let page = state.file.pages.page(1).ok_or(ENOENT)?;
            assert_eq!(mixed.insert_page(addr + 1, &page), Err(EINVAL));
            assert_eq!(
                mixed.insert_pages(addr + 2 * PAGE_SIZE, &state.file.pages, 1, 0),
                Ok(())
            );
            Ok(())
        });
        assert_eq!(inserted, Ok(()));
        assert!(page_matches(addr, 1));
        assert!(page_matches(addr + PAGE_SIZE, 2));
        assert_eq!(count(&FAULT), 0);

        assert_eq!(
            with_vma(addr, |vma| vma
                .and_then(|v| v.as_own::<TestVm>())
                .map(|v| v.zap_range(addr, PAGE_SIZE))),
            Some(Ok(()))
        );
        // The zapped page faults again, and this mode's fault handler refuses it.
        assert!(read_user(addr, 1).is_err());
        assert_eq!(count(&FAULT), FAULTS_PER_FAILED_READ);
        assert!(page_matches(addr + PAGE_SIZE, 2));
        munmap(addr, 2);
        Ok(())
    }

    /// The reference count of page `index` of the test file behind the mapping at `addr`.
    fn file_page_count(addr: usize, index: usize) -> Option<i32> {
        with_vma(addr, |vma| {
            let state = vma?.data::<TestVm>()?.into_ref();
            let page = state.file.pages.page(index)?;
            Some(page_count(&page))
        })
    }

    #[test]
    fn set_page_then_error_releases_the_page() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::SetPageThenFail.offset(2))?;
        let before = file_page_count(addr, 2).expect("the file's page 2");
        for _ in 0..1000 {
            // Each fault hands the page over, then fails: the kernel copy gets EFAULT.
            assert!(read_user(addr, 1).is_err());
        }
        assert_eq!(count(&FAULT), 1000 * FAULTS_PER_FAILED_READ);
        // Before the fix every failed fault kept one reference: +1000.
        assert_eq!(file_page_count(addr, 2), Some(before));
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn set_page_on_pfnmap_is_refused() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::SetPageOnPfnmap.offset(1))?;
        let before = file_page_count(addr, 1).expect("the file's page 1");
        assert!(read_user(addr, 1).is_err());
        assert!(read_user(addr, 1).is_err());
        assert_eq!(count(&FAULT), 2 * FAULTS_PER_FAILED_READ);
        assert_eq!(file_page_count(addr, 1), Some(before));
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn pfn_of_ram_into_io_vma_is_refused() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::PfnIntoIo.offset(0))?;
        assert!(with_vma(addr, |v| v.is_some_and(|v| v.flags().contains(VmaFlag::IO))));
        assert!(read_user(addr, 1).is_err());
        assert_eq!(count(&FAULT), FAULTS_PER_FAILED_READ);
        munmap(addr, 1);
        Ok(())
    }

    #[test]
    fn wipeonfork_is_refused() -> Result {
        reset_counters();
        let file = open()?;
        assert_eq!(
            file.mmap(0, 1, RW, MAP_SHARED, Mode::WipeOnFork.offset(0)),
            Err(EINVAL)
        );
        assert_eq!(count(&MAPPED), 0);
        Ok(())
    }

    #[test]
    fn read_only_remap_stays_read_only() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::RemapPage.offset(3))?;
        assert!(page_matches(addr, 3));
        // A kernel write through the user mapping faults and fails: no writable entry exists.
        assert!(write_user(addr, b"x").is_err());
        assert!(page_matches(addr, 3));
        munmap(addr, 1);
        // Several pages cannot be filled by one page: refused in mmap_prepare.
        assert_eq!(
            file.mmap(0, 2, PROT_READ, MAP_SHARED, Mode::RemapPage.offset(3)),
            Err(EINVAL)
        );
        Ok(())
    }

    #[test]
    fn kernel_writes_through_a_shared_reference_show_in_the_mapping() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 2, PROT_READ, MAP_SHARED, Mode::MapKernelPages.offset(0))?;
        // A producer that only has `&KernelPages` (the file's data is shared) writes into a
        // page userspace has mapped.
        let written = with_vma(addr, |vma| -> Result {
            let state = vma
                .ok_or(ENOENT)?
                .data::<TestVm>()
                .ok_or(ENOENT)?
                .into_ref();
            state.file.pages.write(1, 100, b"produced")
        });
        assert_eq!(written, Ok(()));
        assert_eq!(&read_user(addr + PAGE_SIZE + 100, 8)?[..], b"produced");
        munmap(addr, 2);
        Ok(())
    }

    #[test]
    fn device_memory_is_revoked() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::DeviceMemory.offset(0))?;
        assert!(page_matches(addr, 0));
        let flags = with_vma(addr, |v| v.map(|v| v.flags()));
        let want = VmaFlag::IO | VmaFlag::PFNMAP | VmaFlag::DONTEXPAND | VmaFlag::DONTCOPY;
        assert!(flags.is_some_and(|f| f.contains_all(want)));
        // The device's own VMA operations, not the test device's.
        assert!(with_vma(addr, |v| v.is_some_and(|v| !v.is_owned_by::<TestVm>())));
        // A mapping that does not fit the memory (one page) is refused by the core.
        assert_eq!(
            file.mmap(0, 2, PROT_READ, MAP_SHARED, Mode::DeviceMemory.offset(0)),
            Err(EINVAL)
        );
        file.test_file().device_memory.revoke();
        // The entry is gone and no fault handler brings it back.
        assert!(read_user(addr, 1).is_err());
        assert_eq!(
            file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::DeviceMemory.offset(0)),
            Err(ENODEV)
        );
        munmap(addr, 1);
        assert_eq!(count(&MAPPED), 0);
        Ok(())
    }

    // bindgen renders some members of `struct page` as empty structs; only pointers pass.
    #[allow(improper_ctypes)]
    extern "C" {
        fn rmp_kunit_lock_page(page: *mut kernel::bindings::page);
        fn rmp_kunit_unlock_page(page: *mut kernel::bindings::page);
        fn rmp_kunit_reader_start(addr: usize) -> *mut c_void;
        fn rmp_kunit_reader_wait(reader: *mut c_void, byte: *mut u8) -> c_int;
    }

    /// A page the driver frees while a fault is mapping it is freed only once the fault is done
    /// with it. `set_page` hands the page to the core, which locks it after the handler returned,
    /// maps it and unlocks it, outside the driver's locks: a zap in that window left the entry's
    /// reference to be dropped, and the driver's free then freed a locked page ("BUG: Bad page
    /// state", seen with `rust_binder_pages`' FREE racing a fault). Here the test holds the page
    /// lock itself, so the fault waits inside the core, and the driver's drop must wait too.
    #[test]
    fn page_freed_under_a_fault_waits_for_it() -> Result {
        let file = open()?;
        let data = file.test_file();
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::SparePage.offset(0))?;
        let page = data.spare.lock().page(0).ok_or(ENOENT)?.as_ptr();
        // SAFETY: The spare slot holds a reference to `page` until the worker below takes it;
        // the fault's reference keeps it alive after that, until the mapping goes.
        unsafe { rmp_kunit_lock_page(page) };
        // SAFETY: `addr` is mapped in this thread's mm, which outlives the reader (waited for
        // below, before `munmap` and the end of the test).
        let reader = unsafe { rmp_kunit_reader_start(addr) };
        fsleep(Delta::from_millis(100));
        let freed = Arc::new(Atomic::new(0usize), GFP_KERNEL)?;
        let (spare, f) = (data.spare.clone(), freed.clone());
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            let taken = spare.lock().take(0);
            drop(taken);
            f.store(1, Release);
        })?;
        fsleep(Delta::from_millis(200));
        let early = freed.load(Acquire);
        // SAFETY: Locked above by this thread.
        unsafe { rmp_kunit_unlock_page(page) };
        let mut byte = 0u8;
        let read = if reader.is_null() {
            Err(ENOMEM)
        } else {
            // SAFETY: `reader` came from `rmp_kunit_reader_start()` and is waited for once.
            kernel::error::to_result(unsafe { rmp_kunit_reader_wait(reader, &mut byte) })
        };
        for _ in 0..500 {
            if freed.load(Acquire) == 1 {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        munmap(addr, 1);
        // The old drop freed the driver's reference at once, under the locked page.
        assert_eq!(early, 0);
        assert_eq!(freed.load(Acquire), 1);
        assert_eq!(read, Ok(()));
        assert_eq!(byte, 0);
        Ok(())
    }

    /// `read_iter` and `write_iter` get a `UserContext`, and they also run in kernel threads,
    /// which have no user memory (`kernel_read()` and `kernel_write()`, as 9p's fd transport
    /// does from a worker): pinning there is `EFAULT`, as a copy is. (It dereferenced the
    /// missing mm: a KASAN null-pointer report, then an oops.)
    #[test]
    fn pin_in_a_kernel_thread_is_efault() -> Result {
        let result = Arc::new(Atomic::new(1i32), GFP_KERNEL)?;
        let r = result.clone();
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            // SAFETY: A worker holds no lock of any address space (it has none) and may sleep.
            let pinned = unsafe {
                UserContext::with(|user| {
                    PinnedUserBuffer::pin(user, UserPtr::from_addr(0x10000), 1).map(|_| ())
                })
            };
            r.store(pinned.err().map_or(0, |e| e.to_errno()), Release);
        })?;
        for _ in 0..500 {
            if result.load(Acquire) != 1 {
                break;
            }
            fsleep(Delta::from_millis(10));
        }
        assert_eq!(result.load(Acquire), EFAULT.to_errno());
        Ok(())
    }

    /// A driver's own `compat_ioctl` is what a 32-bit task's ioctl reaches, not `ioctl`
    /// converted by `compat_ptr_ioctl()` (the glue the crate installs for a driver without one).
    #[test]
    fn compat_ioctl_is_the_drivers_own() -> Result {
        let file = open()?;
        let f = file.as_ptr();
        // SAFETY: `f` is an open file of the test device; its `file_operations` are the crate's
        // table for it, which lives as long as the module. Command 0x1234 is no command of the
        // device: `ioctl` answers `ENOTTY`, the device's `compat_ioctl` its own constant.
        let (compat, native) = unsafe {
            let f_op = &*(*f).f_op;
            (
                f_op.compat_ioctl.map(|c| c(f, 0x1234, 0)),
                f_op.unlocked_ioctl.map(|i| i(f, 0x1234, 0)),
            )
        };
        if cfg!(CONFIG_COMPAT) {
            assert_eq!(compat, Some(COMPAT_IOCTL_ANSWER as c_long));
        }
        assert_eq!(native, Some(ENOTTY.to_errno() as c_long));
        Ok(())
    }

    #[test]
    fn answer_is_installed_after_the_handler() -> Result {
        reset_counters();
        let file = open()?;
        let addr = file.mmap(0, 1, PROT_READ, MAP_SHARED, Mode::PfnThenZap.offset(2))?;
        // The handler zaps the address after choosing the PFN; the glue installs it afterwards,
        // so one fault completes. (Installing in the handler refaulted for ever, deaf to
        // SIGKILL.)
        assert!(page_matches(addr, 2));
        assert_eq!(count(&FAULT), 1);
        munmap(addr, 1);
        Ok(())
    }
}
