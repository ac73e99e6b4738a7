// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `insert_pfn_from` maps a page not borrowed from the VMA's data.
// expect: E0597
// expect: `local_pages` does not live long enough

struct DevVm;

static DEV_VM_OPS: VmOpsTable<DevVm> = VmOpsTable::new();

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = Arc<Dev>;

    fn table() -> &'static VmOpsTable<Self> {
        &DEV_VM_OPS
    }

    fn mapped(_area: &MappedArea<'_>, dev: ArcBorrow<'_, Dev>) -> Result<Arc<Dev>> {
        Ok(dev.into())
    }

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let Ok(local_pages) = KernelPages::alloc(1, GFP_KERNEL) else {
            return Err(FaultError::OOM);
        };
        vmf.insert_pfn_from(|_dev| Some((&local_pages, 0)))
    }
}
