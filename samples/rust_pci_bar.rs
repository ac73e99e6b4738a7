// SPDX-License-Identifier: GPL-2.0

//! A PCI BAR mapped to userspace through `mmap_prepare`, in safe Rust.
//!
//! The driver binds to QEMU's `ivshmem-plain` device (vendor 0x1af4, device 0x1110), whose BAR 2
//! is shared memory (prefetchable), and exposes its two halves through two misc devices:
//!
//! - `/dev/rust_pci_bar` maps the first half uncached ([`CacheMode::Uncached`], UC- on x86), as
//!   a driver would map registers;
//! - `/dev/rust_pci_bar_wc` maps the second half write-combined ([`CacheMode::WriteCombine`]), as
//!   a driver would map a frame buffer or a buffer the CPU streams writes into.
//!
//! Each half is its own [`DeviceMemory`] with one memory type: a physical range has one type on
//! x86 (the page attribute table gives every mapping of a range the type of its reservation),
//! and two types of one range are mismatched aliases on arm64.
//!
//! A mapping at file offset `k` pages sees page `k` of its half; a mapping that does not fit the
//! half is refused (`EINVAL`), and so is a private one. When the device goes away (driver
//! unbound, device removed), every user mapping is zapped before the BAR is released, later
//! accesses get `SIGBUS`, and new mappings of files that are still open get `ENODEV`: the crate
//! ties that to the unbind ([`DeviceMemory::pci_bar_range`]), not to anything this driver keeps.
//!
//! There is no `unsafe` here: [`DeviceMemory::pci_bar_range`] requests the range for the driver
//! and is the only thing that can vouch for its physical addresses.

use kernel::{
    device::Core,
    fs::File,
    miscdevice::MiscDeviceOptions,
    pci,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    CacheMode, DeviceMemory, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc,
};

/// ivshmem's shared memory BAR.
const SHMEM_BAR: u32 = 2;

struct PciBarDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <PciBarDriver as pci::Driver>::IdInfo,
    [(
        pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, 0x1110),
        ()
    )]
);

/// What the driver holds while it is bound to a device: the misc devices, which go first at
/// unbind, so that no new file can be opened. The halves of the BAR are revoked and released by
/// the crate after that (devres); files still open keep only the revoked [`DeviceMemory`].
#[pin_data]
struct BarBinding {
    #[pin]
    _uncached: MmapMiscDeviceRegistration<Bar>,
    #[pin]
    _write_combined: MmapMiscDeviceRegistration<Bar>,
}

impl pci::Driver for PciBarDriver {
    type IdInfo = ();
    type Data<'bound> = BarBinding;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            let half = usize::try_from(pdev.resource_len(SHMEM_BAR)?)? / 2;
            let uncached = DeviceMemory::pci_bar_range(
                pdev,
                SHMEM_BAR,
                0,
                half,
                CacheMode::Uncached,
                c"rust_pci_bar",
            )?;
            let write_combined = DeviceMemory::pci_bar_range(
                pdev,
                SHMEM_BAR,
                half,
                half,
                CacheMode::WriteCombine,
                c"rust_pci_bar_wc",
            )?;
            dev_info!(
                pdev,
                "BAR {}: {} KiB at {:#x} through /dev/rust_pci_bar, {} KiB at {:#x} through /dev/rust_pci_bar_wc\n",
                SHMEM_BAR,
                uncached.len() / 1024,
                uncached.phys(),
                write_combined.len() / 1024,
                write_combined.phys()
            );
            Ok(try_pin_init!(BarBinding {
                _uncached <- MmapMiscDeviceRegistration::register_with_data(
                    MiscDeviceOptions {
                        name: c"rust_pci_bar"
                    },
                    uncached,
                ),
                _write_combined <- MmapMiscDeviceRegistration::register_with_data(
                    MiscDeviceOptions {
                        name: c"rust_pci_bar_wc"
                    },
                    write_combined,
                ),
            }))
        })
    }
}

/// A misc device that maps the device memory it was registered with.
struct Bar;

#[vtable]
impl MmapMiscDevice for Bar {
    type Ptr = Arc<DeviceMemory>;
    type RegistrationData = Arc<DeviceMemory>;

    fn open(_file: &File, misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<DeviceMemory>> {
        Ok(misc.data().clone())
    }

    fn mmap_prepare<'a>(
        memory: ArcBorrow<'a, DeviceMemory>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<DeviceMemory>>,
    ) -> Result {
        // Private mappings, and mappings that do not fit, are refused by the crate.
        desc.map_device_memory(memory)
    }
}

kernel::module_pci_driver! {
    type: PciBarDriver,
    name: "rust_pci_bar",
    authors: ["rust-mmap-prepare developers"],
    description: "A PCI BAR (QEMU ivshmem) mapped to userspace through mmap_prepare, in safe Rust",
    license: "GPL",
}
