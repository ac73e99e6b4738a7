// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a page of memory Rust code uses (a vmalloc allocation's, from `page_iter()`)
//! mapped into userspace, which could then read and rewrite it (`set_page`, `insert_page`).
// expect: E0308
// expect: expected `&MappablePage<'_>`, found `&BorrowedPage<'_>`

use kernel::page::AsPageIter;

struct DevVm;

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = ();

    mmap_prepare::vm_ops_table!(DevVm);

    fn mapped(_area: &MappedArea<'_>, _dev: ArcBorrow<'_, Dev>) -> Result {
        Ok(())
    }

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let mut victim =
            VVec::<u64>::with_capacity(512, GFP_KERNEL).map_err(|_| FaultError::OOM)?;
        let page = victim.page_iter().next().ok_or(FaultError::SIGBUS)?;
        if let Some(mixed) = vmf.vma().check_mixedmap() {
            mixed
                .insert_page(vmf.address(), &page)
                .map_err(FaultError::from)?;
        }
        vmf.set_page(&page)
    }
}
