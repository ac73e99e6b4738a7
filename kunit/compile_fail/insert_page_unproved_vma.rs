// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `insert_page` into the faulting VMA (`&OwnVmArea`, the driver's own) without
//! proving it `VM_MIXEDMAP` (`check_mixedmap`): `vm_insert_page()` would set the flag itself, which
//! needs the mmap write lock a fault does not hold.
// expect: E0599
// expect: no method named `insert_page` found for reference `&OwnVmArea<DevVm>`

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
        let dev = vmf.data().ok_or(FaultError::SIGBUS)?.into_ref();
        let page = dev.pages.page(0).ok_or(FaultError::SIGBUS)?;
        vmf.vma()
            .insert_page(vmf.address(), &page)
            .map_err(FaultError::from)?;
        Err(FaultError::SIGBUS)
    }
}
