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

    /// The memory types of page table entries, as `rmp_kunit_pfnmap_entry()` reports them
    /// (`kunit/kunit_helpers.c`). x86: the `enum page_cache_mode` that the entry's PAT bits
    /// select (`arch/x86/include/asm/pgtable_types.h`).
    #[cfg(CONFIG_X86)]
    mod memtype {
        use kernel::bindings;
        pub(super) const WC: i32 = bindings::page_cache_mode__PAGE_CACHE_MODE_WC as i32;
        pub(super) const UC_MINUS: i32 = bindings::page_cache_mode__PAGE_CACHE_MODE_UC_MINUS as i32;
    }

    /// arm64: the entry's AttrIndx, its slot of MAIR_EL1 (`MT_*`,
    /// `arch/arm64/include/asm/memory.h`). `pgprot_noncached()` selects Device-nGnRnE,
    /// `pgprot_device()` Device-nGnRE, `pgprot_writecombine()` Normal-NC
    /// (`arch/arm64/include/asm/pgtable.h`).
    #[cfg(CONFIG_ARM64)]
    mod memtype {
        use kernel::bindings;
        pub(super) const NORMAL_NC: i32 = bindings::MT_NORMAL_NC as i32;
        pub(super) const DEVICE_NGNRNE: i32 = bindings::MT_DEVICE_nGnRnE as i32;
        pub(super) const DEVICE_NGNRE: i32 = bindings::MT_DEVICE_nGnRE as i32;
    }

    #[allow(unused_imports)]
    use memtype::*;

    // bindgen renders some members of `struct file` as empty structs; only pointers pass.
    #[allow(improper_ctypes)]
    extern "C" {
        fn rmp_kunit_pfnmap_entry(addr: usize, pfn: *mut usize, cachemode: *mut c_int) -> c_int;
        fn rmp_kunit_pci_resource_file(
            vendor: c_uint,
            device: c_uint,
            bar: c_int,
            buf: *mut u8,
            len: usize,
            start: *mut u64,
        ) -> c_int;
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

    /// x86: the uncached half has no PAT reservation, and an unreserved range is UC-
    /// (`lookup_memtype()`), which `vmf_insert_pfn()` gives its entries.
    #[test]
    fn uncached_entries_are_uc_minus() -> Result {
        #[cfg(CONFIG_X86)]
        return entries_are(UNCACHED, UC_MINUS);
        #[cfg(not(CONFIG_X86))]
        {
            skip(c"x86 only: the type PAT gives an unreserved range; arm64 has no PAT");
            Ok(())
        }
    }

    /// x86: the write-combined half is reserved WC in the PAT while the driver is bound
    /// (`arch_io_reserve_memtype_wc()`), and `vmf_insert_pfn()` takes the reservation's type.
    #[test]
    fn write_combined_entries_are_wc() -> Result {
        #[cfg(CONFIG_X86)]
        return entries_are(WRITE_COMBINED, WC);
        #[cfg(not(CONFIG_X86))]
        {
            skip(c"x86 only: the type of a PAT reservation; arm64 has no PAT");
            Ok(())
        }
    }

    /// arm64: no PAT; `vmf_insert_pfn()` uses the VMA's protection as it is, which
    /// `map_device_memory` set with `pgprot_noncached()`: Device-nGnRnE.
    #[test]
    fn uncached_entries_are_device_ngnrne() -> Result {
        #[cfg(CONFIG_ARM64)]
        return entries_are(UNCACHED, DEVICE_NGNRNE);
        #[cfg(not(CONFIG_ARM64))]
        {
            skip(c"arm64 only: a MAIR attribute index");
            Ok(())
        }
    }

    /// arm64: `pgprot_writecombine()` is Normal-NC (`arch_io_reserve_memtype_wc()` is a no-op).
    #[test]
    fn write_combined_entries_are_normal_nc() -> Result {
        #[cfg(CONFIG_ARM64)]
        return entries_are(WRITE_COMBINED, NORMAL_NC);
        #[cfg(not(CONFIG_ARM64))]
        {
            skip(c"arm64 only: a MAIR attribute index");
            Ok(())
        }
    }

    /// The type a second mapping of the same device pages gets when it asks for another one.
    /// The PCI core's sysfs `resource2` (root only; allowed while a driver holds the BAR unless
    /// `CONFIG_IO_STRICT_DEVMEM`) maps the BAR with `pgprot_device()` through
    /// `io_remap_pfn_range()`; here a page of the write-combined half, which the sample maps.
    /// - x86: the PAT keeps one type per range: the remap's reservation takes the type of the
    ///   write-combined half's (`reserve_pfn_range()`), so both mappings are WC.
    /// - arm64: nothing checks; the sysfs mapping is Device-nGnRE beside the sample's
    ///   Normal-NC: two mismatched attributes for one physical page (a "mismatched memory
    ///   attributes" alias, Arm ARM B2.16), which `DeviceMemory` avoids only among its own
    ///   mappings (one type per `DeviceMemory`), not against the rest of the kernel.
    #[test]
    fn second_mapping_with_another_type() -> Result {
        let file = DevFile::open(WRITE_COMBINED)?;
        let half = memory(&file).phys();
        let mut path = [0u8; 128];
        let mut bar = 0u64;
        // SAFETY: `path` is writable for its length, `bar` is a local.
        kernel::error::to_result(unsafe {
            rmp_kunit_pci_resource_file(
                bindings::PCI_VENDOR_ID_REDHAT_QUMRANET,
                0x1110,
                2,
                path.as_mut_ptr(),
                path.len(),
                &mut bar,
            )
        })?;
        let sysfs = DevFile::open(CStr::from_bytes_until_nul(&path).map_err(|_| EINVAL)?)?;
        let page = 3;
        let pfn = (half as usize) / PAGE_SIZE + page;
        let ours = file.mmap(0, 1, PROT_READ, MAP_SHARED, page * PAGE_SIZE)?;
        let other = sysfs.mmap(
            0,
            1,
            PROT_READ,
            MAP_SHARED,
            (half - bar) as usize + page * PAGE_SIZE,
        );
        let touched = (
            read_user(ours, 1).is_ok(),
            other.map(|a| read_user(a, 1).is_ok()),
        );
        let entries = [entry(ours), other.and_then(entry)];
        munmap(ours, 1);
        if let Ok(a) = other {
            munmap(a, 1);
        }
        assert_eq!(touched, (true, Ok(true)));
        #[cfg(CONFIG_X86)]
        assert_eq!(entries, [Ok((pfn, WC)), Ok((pfn, WC))]);
        #[cfg(CONFIG_ARM64)]
        assert_eq!(entries, [Ok((pfn, NORMAL_NC)), Ok((pfn, DEVICE_NGNRE))]);
        Ok(())
    }
}
