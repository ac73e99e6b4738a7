// SPDX-License-Identifier: GPL-2.0

//! A PCI driver that leaks a reference to its device memory, for `kunit/userspace/pci_bar_user.c`.
//!
//! It matches no device: the test binds it to QEMU's ivshmem through `driver_override`. Its probe
//! first asks [`DeviceMemory::pci_bar_range`] for what it must refuse and records the errnos
//! (`/dev/rmp_pci_leak`'s ioctl hands them to userspace), then maps the whole BAR 2 through
//! `/dev/rmp_pci_leak` and leaks a reference to the memory on purpose: no `Drop` of the driver
//! reaches it, yet the unbind must revoke every mapping and release the range (the crate ties
//! both to the device through devres). The reference is taken back when the module is unloaded,
//! so that the leak scan at the end of the run does not see it.

use core::mem::size_of;
use kernel::{
    device::Core,
    fs::File,
    ioctl::_IOR,
    miscdevice::MiscDeviceOptions,
    page::PAGE_SIZE,
    pci,
    prelude::*,
    sync::{
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow,
    },
    uaccess::{UserPtr, UserSlice},
};
use mmap_prepare::{
    CacheMode, DeviceMemory, MmapMiscDevice, MmapMiscDeviceRegistration, UserContext, VmAreaDesc,
};

/// ivshmem's shared memory BAR (prefetchable, 1 MiB in the test guest).
const SHMEM_BAR: u32 = 2;

/// How many refusals the probe records; `RMP_PCI_LEAK_IOC_REFUSALS` returns them as `__s32`
/// errnos (0: not refused), in the order of [`refusals`], then the request of a range of the
/// BAR already taken.
const REFUSALS: usize = 10;
/// The refusals asked before the BAR is taken.
const BEFORE: usize = REFUSALS - 1;
type Refusals = [i32; REFUSALS];
const RMP_PCI_LEAK_IOC_REFUSALS: u32 = _IOR::<Refusals>(b'l' as u32, 0x01);

/// What the last probe recorded.
static RECORDED: [Atomic<i32>; REFUSALS] = [const { Atomic::new(0) }; REFUSALS];

/// The reference the driver leaks, as a raw pointer (0: none), taken back at module unload.
static LEAKED: Atomic<usize> = Atomic::new(0);

struct LeakDriver;

kernel::pci_device_table!(
    PCI_TABLE,
    <LeakDriver as pci::Driver>::IdInfo,
    [(
        // No such device: bound only through `driver_override`.
        pci::DeviceId::from_id(pci::Vendor::REDHAT_QUMRANET, 0xfffe),
        ()
    )]
);

/// The errno of each call that must fail, on BAR 2 of ivshmem (prefetchable, whole pages), BAR 0
/// (256 bytes of registers), BAR 1 (none) and the expansion ROM the guest's ivshmem has.
fn refusals(pdev: &pci::Device<Core<'_>>) -> [i32; BEFORE] {
    let len = pdev
        .resource_len(SHMEM_BAR)
        .ok()
        .and_then(|len| usize::try_from(len).ok())
        .unwrap_or(0);
    let uc = CacheMode::Uncached;
    let range = |bar, offset, len, cache| {
        DeviceMemory::pci_bar_range(pdev, bar, offset, len, cache, c"rmp_pci_leak_refused")
            .err()
            .map_or(0, |e: Error| e.to_errno())
    };
    [
        // The expansion ROM (resource 6) and an SR-IOV window index: only the six BARs.
        range(6, 0, PAGE_SIZE, uc),
        range(7, 0, PAGE_SIZE, uc),
        // Less than a page of registers.
        range(0, 0, 256, uc),
        // No BAR at all.
        range(1, 0, PAGE_SIZE, uc),
        // Never write-back.
        range(SHMEM_BAR, 0, PAGE_SIZE, CacheMode::WriteBack),
        // Not whole pages, past the end, empty.
        range(SHMEM_BAR, 100, PAGE_SIZE, uc),
        range(SHMEM_BAR, len.saturating_sub(PAGE_SIZE), 2 * PAGE_SIZE, uc),
        range(SHMEM_BAR, 0, 0, uc),
        // Write-combining a non-prefetchable BAR: BAR 0 is one, but less than a page; the size is
        // checked after the cache mode, so this is the cache mode's refusal.
        range(0, 0, PAGE_SIZE, CacheMode::WriteCombine),
    ]
}

#[pin_data]
struct Binding {
    #[pin]
    _misc: MmapMiscDeviceRegistration<LeakDev>,
}

impl pci::Driver for LeakDriver {
    type IdInfo = ();
    type Data<'bound> = Binding;

    const ID_TABLE: pci::IdTable<Self::IdInfo> = &PCI_TABLE;

    fn probe<'bound>(
        pdev: &'bound pci::Device<Core<'_>>,
        _info: Option<&'bound Self::IdInfo>,
    ) -> impl PinInit<Self::Data<'bound>, Error> + 'bound {
        pin_init::pin_init_scope(move || {
            pdev.enable_device_mem()?;
            for (slot, errno) in RECORDED.iter().zip(refusals(pdev)) {
                slot.store(errno, Relaxed);
            }
            let memory =
                DeviceMemory::pci_bar(pdev, SHMEM_BAR, CacheMode::Uncached, c"rmp_pci_leak")?;
            // Any part of it again: taken.
            let again = DeviceMemory::pci_bar_range(
                pdev,
                SHMEM_BAR,
                PAGE_SIZE,
                PAGE_SIZE,
                CacheMode::Uncached,
                c"rmp_pci_leak_again",
            );
            RECORDED[BEFORE].store(again.err().map_or(0, |e| e.to_errno()), Relaxed);
            // Leaked: nothing this driver drops at unbind holds it.
            let leaked = Arc::into_raw(memory.clone()) as usize;
            let earlier = LEAKED.xchg(leaked, Relaxed);
            if earlier != 0 {
                // An earlier binding's leak (the test binds once per run): taken back now.
                // SAFETY: `earlier` came from `Arc::into_raw` here and was recorded once; the
                // exchange above removed it from the static.
                drop(unsafe { Arc::from_raw(earlier as *const DeviceMemory) });
            }
            Ok(try_pin_init!(Binding {
                _misc <- MmapMiscDeviceRegistration::register_with_data(
                    MiscDeviceOptions {
                        name: c"rmp_pci_leak"
                    },
                    memory,
                ),
            }))
        })
    }
}

struct LeakDev;

#[vtable]
impl MmapMiscDevice for LeakDev {
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
        desc.map_device_memory(memory)
    }

    fn ioctl(
        _memory: ArcBorrow<'_, DeviceMemory>,
        _file: &File,
        cmd: u32,
        arg: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        if cmd != RMP_PCI_LEAK_IOC_REFUSALS {
            return Err(ENOTTY);
        }
        let mut out: Refusals = [0; REFUSALS];
        for (o, slot) in out.iter_mut().zip(RECORDED.iter()) {
            *o = slot.load(Relaxed);
        }
        UserSlice::new(UserPtr::from_addr(arg), size_of::<Refusals>())
            .writer()
            .write(&out)?;
        Ok(0)
    }
}

/// The driver, then the leaked reference: fields drop in order, so the driver is unregistered
/// (the device unbound) before the reference is taken back.
#[pin_data]
struct LeakModule {
    #[pin]
    _driver: kernel::driver::Registration<pci::Adapter<LeakDriver>>,
    _reclaim: Reclaim,
}

impl kernel::InPlaceModule for LeakModule {
    fn init(module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _driver <- kernel::driver::Registration::new(c"rmp_pci_leak", module),
            _reclaim: Reclaim,
        })
    }
}

/// Takes the leaked reference back when the module goes.
struct Reclaim;

impl Drop for Reclaim {
    fn drop(&mut self) {
        let leaked = LEAKED.xchg(0, Relaxed);
        if leaked != 0 {
            // SAFETY: `leaked` came from `Arc::into_raw` in `probe` and was recorded once; this
            // takes that reference back once (the static was cleared above).
            drop(unsafe { Arc::from_raw(leaked as *const DeviceMemory) });
        }
    }
}

module! {
    type: LeakModule,
    name: "rmp_pci_leak",
    authors: ["rust-mmap-prepare developers"],
    description: "Test PCI driver that leaks a reference to its device memory",
    license: "GPL",
}
