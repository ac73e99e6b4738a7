// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a fault's success token is kept (a static `SetOnce`) to be returned from a later fault,
//! where no page was set (the core would then map `page_folio(NULL)`).
// expect: E0521
// expect: `vmf` escapes the associated function body here

use kernel::sync::SetOnce;

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
        // The entry takes its own reference to the page.
        let page = KernelPage::alloc(GFP_KERNEL).map_err(FaultError::from)?;
        let installed = vmf.set_page(&page.mappable())?;
        SAVED.populate(installed);
        Err(FaultError::SIGBUS)
    }
}
