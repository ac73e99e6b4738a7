// SPDX-License-Identifier: GPL-2.0

//! Must compile: the control; every API the other snippets misuse, used as documented.

use kernel::{miscdevice::MiscDeviceOptions, page::PAGE_SIZE, uaccess::UserSlice};

/// Registers the control's devices, as a driver's module would. Never called (the prelude's
/// module holds nothing): it is here so that the crate's glue for both devices is built.
pub fn register_devices() -> Result {
    let _dev = KBox::pin_init(
        MmapMiscDeviceRegistration::<Dev>::register(MiscDeviceOptions { name: c"rmp_cf" }),
        GFP_KERNEL,
    )?;
    // SAFETY: A snippet that is only compiled; a real driver names device memory it reserved
    // (or uses `DeviceMemory::pci_bar`), and revokes it before giving it up (below).
    let memory = unsafe { DeviceMemory::new(0xfe00_0000, 0x1000, CacheMode::WriteCombine)? };
    // Registered, then deregistered (`drop`), then revoked: no mapping outlives the memory.
    let registered = KBox::pin_init(
        MmapMiscDeviceRegistration::<Bar>::register_with_data(
            MiscDeviceOptions {
                name: c"rmp_cf_bar",
            },
            memory.clone(),
        ),
        GFP_KERNEL,
    )
    .map(drop);
    memory.revoke();
    registered
}

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
    }

    fn mmap_prepare<'a>(
        dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        let dev = dev.into_ref();
        desc.set_vm_ops::<DevVm>()?;
        match desc.pgoff() {
            0 => desc.set_action(MmapAction::map_kernel_pages(&dev.pages, 0)),
            1 => desc.set_flags(VmaFlag::MIXEDMAP),
            2 => desc.set_action(MmapAction::remap_kernel_page(&dev.pages, 1)),
            3 => {
                // SAFETY: A snippet that is only compiled; a real driver names its device memory.
                let bar = unsafe { MmapAction::simple_ioremap(0xfe00_0000, 0x1000) };
                desc.set_action(bar.cache_mode(CacheMode::WriteCombine))
            }
            4 => {
                // SAFETY: `DevVm::mapped` takes no lock and revokes or zaps nothing.
                let action = unsafe {
                    MmapAction::map_kernel_pages(&dev.pages, 0).hide_from_rmap_until_complete()
                };
                desc.set_action(action)
            }
            _ => desc.set_flags(VmaFlag::PFNMAP | VmaFlag::DONTEXPAND),
        }
    }

    fn ioctl(
        dev: ArcBorrow<'_, Dev>,
        _file: &File,
        cmd: u32,
        arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        if cmd == 0 {
            // The caller's memory, reached with the ioctl's proof, before any lock is taken.
            dev.pages
                .copy_from_user(user, 0, 0, UserPtr::from_addr(arg), 8)?;
            let message = PinnedUserBuffer::pin(user, UserPtr::from_addr(arg), 8)?;
            let page = dev.pages.page(1).ok_or(EINVAL)?;
            message.copy_to_page(0, &page, 0, 8)?;
            return Ok(0);
        }
        if cmd == 1 {
            // The crate's own-VMA lookups: the sleeping one with the ioctl's proof, the
            // non-sleeping one without; the VMA is used inside the closure only.
            let task = kernel::current!();
            let mm = task.mm().ok_or(EINVAL)?;
            let start = OwnVmArea::<DevVm>::lookup(user, mm, arg, |vma| vma.start());
            let zapped = OwnVmArea::<DevVm>::try_lookup(mm, arg, |vma| {
                vma.map(|vma| vma.zap_range(vma.start(), PAGE_SIZE))
            });
            // Copies across pages.
            dev.pages.write_at(PAGE_SIZE - 2, &0u32)?;
            let _: u32 = dev.pages.read_at(PAGE_SIZE - 2)?;
            let mut reader = UserSlice::new(UserPtr::from_addr(arg), 8).reader();
            dev.pages
                .copy_from_user_slice_at(user, PAGE_SIZE - 4, &mut reader, 8)?;
            dev.pages
                .copy_from_user_at(user, PAGE_SIZE - 4, UserPtr::from_addr(arg), 8)?;
            return Ok(start.is_some() as isize + zapped.is_some() as isize);
        }
        // A VMA found by address, proved to be ours before anything acts on it.
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(arg).ok_or(EFAULT)?;
        let vma = VmAreaRef::from_vma_ref(vma)
            .as_own::<DevVm>()
            .ok_or(EINVAL)?;
        let data = vma.data().ok_or(EINVAL)?;
        // Kernel-side writes through the shared file data.
        data.pages.write(0, 0, b"produced")?;
        vma.zap_range(vma.start(), PAGE_SIZE)?;
        if let Some(mixed) = vma.check_mixedmap() {
            let page = data.pages.page(0).ok_or(EINVAL)?;
            mixed.insert_page(vma.start(), &page)?;
        }
        let pages = data.pages.len();
        drop(guard);
        Ok(pages as isize)
    }
}

struct DevVm;

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = Arc<Dev>;

    mmap_prepare::vm_ops_table!(DevVm);

    fn mapped(_area: &MappedArea<'_>, dev: ArcBorrow<'_, Dev>) -> Result<Arc<Dev>> {
        Ok(dev.into())
    }

    fn open(area: &OpeningArea, dev: ArcBorrow<'_, Dev>) {
        // Plain values: the copy has no page tables yet.
        pr_debug!(
            "copy {:#x}..{:#x} at page {} of {}\n",
            area.start,
            area.end,
            area.pgoff,
            dev.pages.len()
        );
    }

    fn close(_area: &ClosingArea, _dev: Option<ArcBorrow<'_, Dev>>) {}

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let index = vmf.pgoff() % 2;
        if let Some(mixed) = vmf.vma().check_mixedmap() {
            let dev = vmf.data().ok_or(FaultError::SIGBUS)?.into_ref();
            // The other page too, if the VMA has room for it.
            let next = vmf.address() + PAGE_SIZE;
            if next < mixed.end() {
                let _ = mixed.insert_pages(next, &dev.pages, 1 - index, 1);
            }
            let page = dev.pages.page(index).ok_or(FaultError::SIGBUS)?;
            return vmf.set_page(&page);
        }
        vmf.insert_pfn_from(|dev| Some((&dev.pages, index)))
    }

    fn may_split(vma: &OwnVmArea<Self>, _address: usize) -> Result {
        // Refuses splits while the VMA's pages are mapped.
        match vma.data() {
            Some(dev) if dev.pages.iter_filled().next().is_some() => Err(EINVAL),
            _ => Ok(()),
        }
    }
}

/// A device that maps the device memory it was registered with.
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
        desc.map_device_memory(memory)
    }
}
