// SPDX-License-Identifier: GPL-2.0

//! `samples/rust_pci_bar` seen from the kernel: the page table entries of real mappings of QEMU's
//! ivshmem BAR 2, and what `DeviceMemory::pci_bar` refuses on the same device.

use kernel::prelude::*;

#[kunit_tests(rust_pci_bar_kunit)]
mod tests {
    use crate::util::*;
    use kernel::{
        bindings,
        device::Bound,
        page::PAGE_SIZE,
        pci,
        prelude::*,
        sync::{Arc, ArcBorrow},
        types::ForeignOwnable,
    };
    use mmap_prepare::{CacheMode, DeviceMemory};

    const UNCACHED: &CStr = c"/dev/rust_pci_bar";
    const WRITE_COMBINED: &CStr = c"/dev/rust_pci_bar_wc";

    /// `enum page_cache_mode` (`arch/x86/include/asm/pgtable_types.h`).
    const WC: i32 = bindings::page_cache_mode__PAGE_CACHE_MODE_WC as i32;
    const UC_MINUS: i32 = bindings::page_cache_mode__PAGE_CACHE_MODE_UC_MINUS as i32;

    // bindgen renders some members of `struct file` as empty structs; only pointers pass.
    #[allow(improper_ctypes)]
    extern "C" {
        fn rmp_kunit_pfnmap_entry(addr: usize, pfn: *mut usize, cachemode: *mut c_int) -> c_int;
    }

    /// The PFN and memory type of the entry mapping `addr` in the test thread's mm.
    fn entry(addr: usize) -> Result<(usize, i32)> {
        let (mut pfn, mut mode) = (0usize, -1 as c_int);
        // SAFETY: Looks `addr` up in our own mm, under its mmap lock; the outputs are locals.
        kernel::error::to_result(unsafe { rmp_kunit_pfnmap_entry(addr, &mut pfn, &mut mode) })?;
        Ok((pfn, mode))
    }

    /// The device memory behind a file of the sample.
    fn memory(file: &DevFile) -> ArcBorrow<'_, DeviceMemory> {
        // SAFETY: The sample's files hold `Arc<DeviceMemory>` private data (set in its `open`),
        // released only when the file is, which the borrow of `file` prevents.
        unsafe { <Arc<DeviceMemory> as ForeignOwnable>::borrow((*file.as_ptr()).private_data) }
    }

    /// Maps 2 pages at page offset 3 through `dev`: nothing is mapped until a fault; then every
    /// entry maps the page of its offset in the device's half of the BAR, with memory type
    /// `want`.
    fn entries_are(dev: &CStr, want: i32) -> Result {
        let file = DevFile::open(dev)?;
        let first = memory(&file).phys() as usize / PAGE_SIZE + 3;
        let addr = file.mmap(0, 2, PROT_READ, MAP_SHARED, 3 * PAGE_SIZE)?;
        let before = [entry(addr), entry(addr + PAGE_SIZE)];
        let touched = [read_user(addr, 1), read_user(addr + PAGE_SIZE, 1)];
        let entries = [entry(addr), entry(addr + PAGE_SIZE)];
        munmap(addr, 2);
        // `follow_pfnmap_start()` finds no entry.
        assert!(before.iter().all(|e| e.is_err()));
        assert!(touched.iter().all(|t| t.is_ok()));
        assert_eq!(entries, [Ok((first, want)), Ok((first + 1, want))]);
        Ok(())
    }

    #[test]
    fn uncached_entries_are_uc_minus() -> Result {
        entries_are(UNCACHED, UC_MINUS)
    }

    #[test]
    fn write_combined_entries_are_wc() -> Result {
        entries_are(WRITE_COMBINED, WC)
    }

    /// Runs `f` on the ivshmem device, which the sample's driver holds bound meanwhile.
    fn with_bound_device<R>(f: impl FnOnce(&pci::Device<Bound>) -> R) -> Result<R> {
        // SAFETY: Returns a referenced device or NULL.
        let raw = unsafe {
            bindings::pci_get_device(
                bindings::PCI_VENDOR_ID_REDHAT_QUMRANET,
                0x1110,
                core::ptr::null_mut(),
            )
        };
        if raw.is_null() {
            return Err(ENODEV);
        }
        // SAFETY: `pci::Device` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>`; the
        // reference taken above keeps the device alive for the call, and the sample's driver,
        // loaded before this module, keeps it bound (nothing unbinds it while KUnit runs).
        let ret = f(unsafe { &*raw.cast::<pci::Device<Bound>>() });
        // SAFETY: Drops the reference `pci_get_device()` took.
        unsafe { bindings::pci_dev_put(raw) };
        Ok(ret)
    }

    #[test]
    fn what_pci_bar_memory_refuses() -> Result {
        let errors = with_bound_device(|pdev| {
            let err = |bar, cache| DeviceMemory::pci_bar(pdev, bar, cache, c"rmp_kunit").err();
            let uc = CacheMode::Uncached;
            [
                // 256 bytes of registers, less than a page.
                err(0, uc),
                // No BAR.
                err(1, uc),
                // The sample's: both halves are requested.
                err(2, uc),
                // Never write-back, even on a prefetchable BAR.
                err(2, CacheMode::WriteBack),
                // The expansion ROM (the guest's ivshmem has one), then past the resources.
                err(6, uc),
                err(11, uc),
            ]
        })?;
        assert_eq!(
            errors,
            [
                Some(EINVAL),
                Some(ENODEV),
                Some(EBUSY),
                Some(EINVAL),
                Some(EINVAL),
                Some(EINVAL)
            ]
        );
        Ok(())
    }
}
