// SPDX-License-Identifier: GPL-2.0

//! A PCI BAR mapped to userspace through `mmap_prepare`, in safe Rust.
//!
//! The driver binds to QEMU's `ivshmem-plain` device (vendor 0x1af4, device 0x1110), whose BAR 2
//! is shared memory, and exposes that BAR through two misc devices:
//!
//! - `/dev/rust_pci_bar` maps it uncached ([`CacheMode::Uncached`], UC- on x86), as a driver
//!   would map registers;
//! - `/dev/rust_pci_bar_wc` maps it write-combined ([`CacheMode::WriteCombine`]), as a driver
//!   would map a frame buffer or a buffer the CPU streams writes into.
//!
//! A mapping at file offset `k` pages sees the BAR from offset `k` pages; a mapping that does not
//! fit the BAR is refused (`EINVAL`, by the core's `simple_ioremap` check), and so is a private
//! one. When the device goes away (driver unbound, device removed), every user mapping is zapped
//! before the BAR is released, later accesses get `SIGBUS`, and new mappings of files that are
//! still open get `ENODEV`: see [`PciBarMemory`].
//!
//! There is no `unsafe` here: the crate's [`PciBarMemory`] owns the BAR while the driver is
//! bound and is the only thing that can vouch for its physical range.

use kernel::{
    device::Core,
    fs::File,
    miscdevice::MiscDeviceOptions,
    pci,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    CacheMode, DeviceMemory, MmapMiscDevice, MmapMiscDeviceRegistration, PciBarMemory, VmAreaDesc,
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

/// What the driver holds while it is bound to a device.
///
/// Fields are dropped in declaration order at unbind: the misc devices go first, so that no new
/// file can be opened, then the BAR, whose drop revokes every user mapping (files still open keep
/// only the revoked [`DeviceMemory`]) before the region is released.
#[pin_data]
struct BarBinding<'bound> {
    #[pin]
    _uncached: MmapMiscDeviceRegistration<UncachedBar>,
    #[pin]
    _write_combined: MmapMiscDeviceRegistration<WriteCombinedBar>,
    _bar: PciBarMemory<'bound>,
}

impl pci::Driver for PciBarDriver {
    type IdInfo = ();
    type Data<'bound> = BarBinding<'bound>;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            let bar = PciBarMemory::new(pdev, SHMEM_BAR, c"rust_pci_bar")?;
            let memory = bar.memory().clone();
            dev_info!(
                pdev,
                "BAR {} ({} KiB at {:#x}) mappable through /dev/rust_pci_bar{{,_wc}}\n",
                SHMEM_BAR,
                memory.len() / 1024,
                memory.phys()
            );
            Ok(try_pin_init!(BarBinding {
                _uncached <- MmapMiscDeviceRegistration::register_with_data(
                    MiscDeviceOptions {
                        name: c"rust_pci_bar"
                    },
                    memory.clone(),
                ),
                _write_combined <- MmapMiscDeviceRegistration::register_with_data(
                    MiscDeviceOptions {
                        name: c"rust_pci_bar_wc"
                    },
                    memory,
                ),
                _bar: bar,
            }))
        })
    }
}

/// Maps `memory` with memory type `cache`: shared mappings only.
fn map_bar<'a>(
    memory: ArcBorrow<'a, DeviceMemory>,
    desc: &mut VmAreaDesc<'a, Arc<DeviceMemory>>,
    cache: CacheMode,
) -> Result {
    // A private mapping of device memory makes no sense: its first write would copy the
    // device's bytes into an anonymous page that the device never sees.
    if !desc.is_shared() {
        return Err(EINVAL);
    }
    desc.map_device_memory(memory, cache)
}

/// A misc device that maps the BAR write-combined or uncached.
struct Bar<const WRITE_COMBINE: bool>;

/// `/dev/rust_pci_bar`: the BAR, uncached.
type UncachedBar = Bar<false>;
/// `/dev/rust_pci_bar_wc`: the BAR, write-combined.
type WriteCombinedBar = Bar<true>;

#[vtable]
impl<const WRITE_COMBINE: bool> MmapMiscDevice for Bar<WRITE_COMBINE> {
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
        let cache = if WRITE_COMBINE {
            CacheMode::WriteCombine
        } else {
            CacheMode::Uncached
        };
        map_bar(memory, desc, cache)
    }
}

kernel::module_pci_driver! {
    type: PciBarDriver,
    name: "rust_pci_bar",
    authors: ["rust-mmap-prepare developers"],
    description: "A PCI BAR (QEMU ivshmem) mapped to userspace through mmap_prepare, in safe Rust",
    license: "GPL",
}
