// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `close` given the live-VMA type, whose `mm()` claims users the address space may no
//! longer have (`exit_mmap()`) and whose page tables may be gone.
// expect: E0053
// expect: method `close` has an incompatible type for trait

use kernel::{
    fs::File,
    page::Page,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    FaultError, FaultResult, MappedArea, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc,
    VmAreaRef, VmFault, VmOperations,
};

module! {
    type: Snippet,
    name: "close_reaches_the_vma",
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

    fn close(vma: &VmAreaRef, _data: Option<()>) {
        let _ = vma.start();
    }
}
