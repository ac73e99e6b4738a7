// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a success token made by hand, without installing a page (the core would map
//! `page_folio(NULL)`).
// expect: E0451

use core::marker::PhantomData;

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
        let _ = vmf;
        // A success token built by hand.
        Ok(FaultAnswer {
            _fault: PhantomData,
            ..todo!()
        })
    }
}
