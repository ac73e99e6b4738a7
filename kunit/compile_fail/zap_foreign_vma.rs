// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl zaps the pages of whatever VMA is at a user-chosen address, without
//! proving it is the driver's own (`as_own::<DevVm>()`): it may be any mapping of the task.
// expect: E0599
// expect: no method named `zap_range` found for reference `&VmAreaRef`

use kernel::page::PAGE_SIZE;

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
        // Drop the page at `addr` (the caller is done with it).
        VmAreaRef::from_vma_ref(vma).zap_range(addr, PAGE_SIZE)?;
        Ok(0)
    }
}
