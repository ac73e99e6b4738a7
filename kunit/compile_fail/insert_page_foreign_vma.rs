// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl inserts a page into whatever VMA is at a user-chosen address,
//! without proving it is the driver's own (`as_own::<DevVm>()`): it may be another driver's VMA,
//! or a mapping of the same file that merged, whose pages that driver owns.
// expect: E0599
// expect: no method named `check_mixedmap` found for reference `&VmAreaRef`

struct DevVm;

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = Arc<Dev>;

    mmap_prepare::vm_ops_table!(DevVm);

    fn mapped(_area: &MappedArea<'_>, dev: ArcBorrow<'_, Dev>) -> Result<Arc<Dev>> {
        Ok(dev.into())
    }
}

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
    }

    fn mmap_prepare<'a>(
        _dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        desc.set_flags(VmaFlag::MIXEDMAP)?;
        desc.set_vm_ops::<DevVm>()
    }

    fn ioctl(
        dev: ArcBorrow<'_, Dev>,
        _file: &File,
        _cmd: u32,
        addr: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(addr).ok_or(EFAULT)?;
        let vma = VmAreaRef::from_vma_ref(vma);
        let mixed = vma.check_mixedmap().ok_or(EINVAL)?;
        let page = dev.pages.page(0).ok_or(EINVAL)?;
        mixed.insert_page(addr, &page)?;
        Ok(0)
    }
}
