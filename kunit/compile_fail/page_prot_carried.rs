// SPDX-License-Identifier: GPL-2.0

//! Must not compile: protection bits taken from one request and applied to another (a writable request
//! cached, then given to an `O_RDONLY` + `PROT_READ` one); no protection value is reachable.
// expect: E0599
// expect: no method named `page_prot` found
// expect: no method named `set_page_prot` found

use kernel::{
    fs::File,
    page::Page,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    MappedArea, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc, VmOperations,
};

module! {
    type: Snippet,
    name: "page_prot_carried",
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
        // The protection of this request, to be applied to the next one.
        let prot = desc.page_prot();
        desc.set_page_prot(prot)?;
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
}
