// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl copies from user memory inside the non-sleeping own-VMA lookup,
//! which holds a lock of the address space (the VMA's read lock, or the mmap read lock): the
//! copy may fault on that address space, whose fault takes the same lock again (a read lock
//! taken twice deadlocks against a waiting writer; the nested `lookup` below even takes the mmap
//! read lock uninterruptibly). `lookup` borrows the ioctl's `UserContext` mutably to forbid this
//! (lookup_copies_under_lock.rs), but `try_lookup` takes no token, so the closure can capture the
//! ioctl's `user` and use it under the lock. Proposed fix: `try_lookup` requires its closure to
//! be `Send` (`UserContext` is neither `Send` nor `Sync`, so a closure holding `&UserContext` or
//! `&mut UserContext` is not `Send`, while one holding a `UserSliceReader` still is).
// expect: E0277
// expect: `*mut ()` cannot be shared between threads safely

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
        // Fill page 0 from the caller's buffer while the VMA at `arg` (or the whole address
        // space) is read-locked.
        let pages: &KernelPages = &dev.pages;
        OwnVmArea::<DevVm>::try_lookup(mm, arg, |_vma| {
            pages.copy_from_user(user, 0, 0, UserPtr::from_addr(arg), 8)
        })
        .ok_or(EBUSY)??;
        Ok(0)
    }
}
