// SPDX-License-Identifier: GPL-2.0

//! Must compile: the control; every API the other snippets misuse, used as documented.

use kernel::miscdevice::MiscDeviceOptions;

/// Registers the control's device, as a driver's module would. Never called (the prelude's
/// module holds nothing): it is here so that the crate's glue for the device is built.
pub fn register_devices() -> Result {
    KBox::pin_init(
        MmapMiscDeviceRegistration::<Dev>::register(MiscDeviceOptions { name: c"rmp_cf" }),
        GFP_KERNEL,
    )
    .map(drop)
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
            _ => desc.set_flags(VmaFlag::PFNMAP | VmaFlag::DONTEXPAND),
        }
    }

    fn ioctl(
        _dev: ArcBorrow<'_, Dev>,
        _file: &File,
        _cmd: u32,
        addr: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(EFAULT)?;
        let dev = VmAreaRef::from_vma_ref(vma).data::<DevVm>().ok_or(EINVAL)?;
        let pages = dev.pages.len();
        // Kernel-side writes through the shared file data.
        dev.pages.write(0, 0, b"produced")?;
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

    fn close(_area: &ClosingArea, _dev: Option<ArcBorrow<'_, Dev>>) {}

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let index = vmf.pgoff() % 2;
        if vmf.vma().check_mixedmap().is_some() {
            let dev = vmf.data().ok_or(FaultError::SIGBUS)?.into_ref();
            let page = dev.pages.page(index).ok_or(FaultError::SIGBUS)?;
            return vmf.set_page(&page);
        }
        vmf.insert_pfn_from(|dev| Some((&dev.pages, index)))
    }
}
