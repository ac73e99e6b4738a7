// SPDX-License-Identifier: GPL-2.0

//! `samples/rust_pci_bar` seen from the kernel: the page table entries of real mappings of QEMU's
//! ivshmem BAR 2. (What `DeviceMemory::pci_bar_range` refuses is recorded by the probe of
//! `kunit/pci_bar_leak.rs`, the only place that has the device's `Core` context to ask with.)

use kernel::prelude::*;

#[kunit_tests(rust_pci_bar_kunit)]
mod tests {
    use crate::util::*;
    use kernel::{
        bindings,
        page::PAGE_SIZE,
        prelude::*,
        sync::{Arc, ArcBorrow},
        types::ForeignOwnable,
    };
    use mmap_prepare::DeviceMemory;

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
}
