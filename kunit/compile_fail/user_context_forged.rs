// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a `UserContext` made in safe code, here by a helper that copies from the
//! calling task's memory without asking its caller for the proof, called from a fault handler:
//! the copy may fault on the task's memory, whose lock the fault already holds (a self-deadlock).
//! Only the crate's glue, or `unsafe` code that vouches for the lock state, makes one.
// expect: E0133
// expect: call to unsafe function `UserContext::with` is unsafe and requires unsafe block

use kernel::page::PAGE_SIZE;

/// Copies 8 bytes of the calling task's memory at `src` into page `index` of `dev`.
fn copy_in(dev: &Dev, index: usize, src: UserPtr) -> Result {
    UserContext::with(|user| dev.pages.copy_from_user(user, index, 0, src, 8))
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

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let dev = vmf.data().ok_or(FaultError::SIGBUS)?.into_ref();
        let index = vmf.pgoff() % 2;
        // Fill the page from the task's next page before mapping it.
        let src = UserPtr::from_addr(vmf.address() + PAGE_SIZE);
        copy_in(dev, index, src).map_err(FaultError::from)?;
        let page = dev.pages.page(index).ok_or(FaultError::SIGBUS)?;
        vmf.set_page(&page)
    }
}
