// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a VMA's data used after the mmap lock that keeps it alive is dropped.
// expect: E0505
// expect: cannot move out of `guard` because it is borrowed

struct DevVm;

static DEV_VM_OPS: VmOpsTable<DevVm> = VmOpsTable::new();

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = Arc<Dev>;

    fn table() -> &'static VmOpsTable<Self> {
        &DEV_VM_OPS
    }

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
        let data = VmAreaRef::from_vma_ref(vma).data::<DevVm>().ok_or(EINVAL)?;
        // The VMA may be unmapped, and its data dropped, from here on.
        drop(guard);
        Ok(data.pages.len() as isize)
    }
}
