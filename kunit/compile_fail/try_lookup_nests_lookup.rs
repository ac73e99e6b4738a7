// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl takes the sleeping own-VMA lookup inside the non-sleeping one, on
//! its own address space: `lookup` falls back to `mmap_read_lock()` (uninterruptible) while
//! `try_lookup` already holds the VMA's read lock or the mmap read lock, so a writer queued in
//! between (munmap, mprotect from another thread) deadlocks both tasks, and lockdep reports the
//! recursion. `try_lookup` takes no `UserContext`, so the closure can hand the ioctl's to
//! `lookup`. Proposed fix: `try_lookup` requires its closure to be `Send` (see
//! try_lookup_copies_under_lock.rs).
// expect: E0277
// expect: `*mut ()` cannot be sent between threads safely

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
        _dev: ArcBorrow<'_, Dev>,
        _file: &File,
        _cmd: u32,
        arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        let task = kernel::current!();
        let mm = task.mm().ok_or(EINVAL)?;
        let found = OwnVmArea::<DevVm>::try_lookup(mm, arg, |_vma| {
            OwnVmArea::<DevVm>::lookup(user, mm, arg + kernel::page::PAGE_SIZE, |vma| vma.start())
        });
        Ok(found.flatten().is_some() as isize)
    }
}
