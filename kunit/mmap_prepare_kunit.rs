// SPDX-License-Identifier: GPL-2.0

//! KUnit suites for the `mmap_prepare` crate. They run when this module is loaded.

use kernel::{miscdevice::MiscDeviceOptions, prelude::*};
use mmap_prepare::MmapMiscDeviceRegistration;

mod binder_pages;
mod e2e;
mod hand_file;
#[cfg(CONFIG_PCI)]
mod pci_bar;
mod rules;
mod secretmem;
mod stacked;
mod test_device;
mod util;

module! {
    type: MmapPrepareKunit,
    name: "rust_mmap_prepare_kunit",
    authors: ["rust-mmap-prepare developers"],
    description: "KUnit suites of the Rust mmap_prepare abstractions",
    license: "GPL",
}

/// Holds the test device the end-to-end suite maps, and the stacking devices that map it through
/// their legacy `->mmap`; the suites run once `init` has returned.
#[pin_data]
struct MmapPrepareKunit {
    #[pin]
    _dev: MmapMiscDeviceRegistration<test_device::TestDev>,
    _stacker: util::Stacker,
}

impl kernel::InPlaceModule for MmapPrepareKunit {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _dev <- MmapMiscDeviceRegistration::register(MiscDeviceOptions { name: c"rmp_kunit" }),
            _stacker: util::Stacker::register()?,
        })
    }
}

#[kunit_tests(mmap_prepare_flags)]
mod flags {
    use kernel::bindings;
    use mmap_prepare::{VmaFlag, VmaFlags};

    /// The legacy `VM_*` value of each typed flag, from the C headers.
    fn legacy(name: &str) -> Option<usize> {
        Some(match name {
            "READ" => bindings::VM_READ,
            "WRITE" => bindings::VM_WRITE,
            "EXEC" => bindings::VM_EXEC,
            "SHARED" => bindings::VM_SHARED,
            "MAYREAD" => bindings::VM_MAYREAD,
            "MAYWRITE" => bindings::VM_MAYWRITE,
            "MAYEXEC" => bindings::VM_MAYEXEC,
            "MAYSHARE" => bindings::VM_MAYSHARE,
            "PFNMAP" => bindings::VM_PFNMAP,
            "IO" => bindings::VM_IO,
            "DONTCOPY" => bindings::VM_DONTCOPY,
            "DONTEXPAND" => bindings::VM_DONTEXPAND,
            "LOCKONFAULT" => bindings::VM_LOCKONFAULT,
            "ACCOUNT" => bindings::VM_ACCOUNT,
            "NORESERVE" => bindings::VM_NORESERVE,
            "HUGETLB" => bindings::VM_HUGETLB,
            "SYNC" => bindings::VM_SYNC,
            "WIPEONFORK" => bindings::VM_WIPEONFORK,
            "DONTDUMP" => bindings::VM_DONTDUMP,
            "SOFTDIRTY" => bindings::VM_SOFTDIRTY,
            "MIXEDMAP" => bindings::VM_MIXEDMAP,
            "HUGEPAGE" => bindings::VM_HUGEPAGE,
            "NOHUGEPAGE" => bindings::VM_NOHUGEPAGE,
            "MERGEABLE" => bindings::VM_MERGEABLE,
            _ => return None,
        })
    }

    #[test]
    fn every_flag_is_the_kernels_bit() {
        assert!(VmaFlag::ALL.len() >= 24);
        for &(name, flag) in VmaFlag::ALL {
            let vm = legacy(name);
            // A flag this test does not know is a failure, not a skip.
            assert!(vm.is_some());
            let vm = vm.unwrap_or(usize::MAX);
            // `VM_*` is 0 where the configuration lacks the feature (e.g. `VM_SOFTDIRTY`).
            assert!(vm == 0 || vm == flag.set().bits());
        }
    }

    #[test]
    fn core_flags_are_configured() {
        // The flags the abstractions reason about are never configured out.
        for flag in [
            VmaFlag::READ,
            VmaFlag::WRITE,
            VmaFlag::SHARED,
            VmaFlag::MAYWRITE,
        ] {
            assert!(legacy_of(flag) == flag.set().bits());
        }
        assert_eq!(legacy_of(VmaFlag::MIXEDMAP), bindings::VM_MIXEDMAP);
        assert_eq!(legacy_of(VmaFlag::PFNMAP), bindings::VM_PFNMAP);
    }

    fn legacy_of(flag: VmaFlag) -> usize {
        VmaFlag::ALL
            .iter()
            .find(|(_, f)| *f == flag)
            .and_then(|(name, _)| legacy(name))
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn flags_are_distinct() {
        let mut all = VmaFlags::EMPTY;
        for &(_, flag) in VmaFlag::ALL {
            assert!(!all.contains(flag));
            all = all | flag;
        }
        assert_eq!(all.iter().count(), VmaFlag::ALL.len());
    }

    #[test]
    fn set_operations() {
        let rw = VmaFlag::READ | VmaFlag::WRITE;
        assert!(rw.contains(VmaFlag::READ) && rw.contains(VmaFlag::WRITE));
        assert!(!rw.contains(VmaFlag::EXEC));
        assert!(rw.contains_all(VmaFlag::READ.set()));
        assert!(!rw.contains_all(VmaFlag::READ | VmaFlag::EXEC));
        assert!(rw.intersects(VmaFlag::WRITE | VmaFlag::EXEC));
        assert_eq!(rw.difference(VmaFlag::WRITE.set()), VmaFlag::READ.set());
        assert_eq!(
            VmaFlags::SPECIAL.bits(),
            bindings::VM_IO | bindings::VM_DONTEXPAND | bindings::VM_PFNMAP | bindings::VM_MIXEDMAP
        );
    }
}
