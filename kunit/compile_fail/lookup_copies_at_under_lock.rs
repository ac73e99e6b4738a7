// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl copies from its caller's memory straight into pages
//! (`PageArray::copy_from_user_at`) while the sleeping own-VMA lookup holds a lock of the
//! address space: the copy may fault on that address space, whose fault takes the same lock (a
//! read lock taken twice deadlocks against a waiting writer). `lookup` borrows the ioctl's
//! `UserContext` mutably for the closure, and the copy needs it.
// expect: E0502
// expect: cannot borrow `*user` as mutable because it is also borrowed as immutable

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
        desc.set_vm_ops::<DevVm>()
    }

    fn ioctl(
        dev: ArcBorrow<'_, Dev>,
        _file: &File,
        _cmd: u32,
        arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        // Fill page 0 from the caller's buffer while the VMA at `arg` is locked.
        OwnVmArea::<DevVm>::lookup(user, mm, arg, |_vma| {
            dev.pages
                .copy_from_user_at(user, 0, UserPtr::from_addr(arg), 8)
        })
        .ok_or(ESRCH)??;
        Ok(0)
    }
}
