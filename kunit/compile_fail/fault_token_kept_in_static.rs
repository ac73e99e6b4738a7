// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a fault's success token is kept (a static `SetOnce`) to be returned from a later fault,
//! where no page was set (the core would then map `page_folio(NULL)`).
// expect: E0521
// expect: `vmf` escapes the associated function body here

use kernel::sync::SetOnce;
use kernel::{
    fs::File,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    FaultAnswer, FaultError, FaultResult, IntoRef, KernelPage, MappedArea, MmapMiscDevice,
    MmapMiscDeviceRegistration, VmAreaDesc, VmFault, VmOperations,
};

module! {
    type: Snippet,
    name: "fault_token_kept_in_static",
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
    page: KernelPage,
}

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        let page = KernelPage::alloc(GFP_KERNEL | __GFP_ZERO)?;
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
        static SAVED: SetOnce<FaultAnswer<'static>> = SetOnce::new();
        let dev = vmf.file_data().into_ref();
        let installed = vmf.set_page(&dev.page.mappable())?;
        SAVED.populate(installed);
        Err(FaultError::SIGBUS)
    }
}
