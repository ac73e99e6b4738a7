// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a page of memory Rust code uses (a vmalloc allocation's, from `page_iter()`)
//! mapped into userspace, which could then read and rewrite it (`set_page`, `insert_page`).
// expect: E0308
// expect: expected `&MappablePage<'_>`, found `&BorrowedPage<'_>`

use kernel::{alloc::VVec, page::AsPageIter};
use kernel::{
    fs::File,
    page::Page,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    FaultError, FaultResult, MappedArea, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc,
    VmFault, VmOperations,
};

module! {
    type: Snippet,
    name: "rust_memory_mapped",
    authors: ["rust-mmap-prepare developers"],
    description: "compile-fail snippet: must not compile",
    license: "GPL",
}

struct Snippet;

impl kernel::Module for Snippet {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(Snippet)
    }
}

struct Dev {
    page: Page,
}

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        let page = Page::alloc_page(GFP_KERNEL | __GFP_ZERO)?;
        Ok(Arc::new(Dev { page }, GFP_KERNEL)?)
    }

    fn mmap_prepare<'a>(
        _dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        desc.set_vm_ops::<DevVm>()
    }
}

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
