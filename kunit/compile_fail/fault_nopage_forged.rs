// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a "handled" result (`VM_FAULT_NOPAGE`) returned without installing anything:
//! userspace would fault forever, and a kernel copy into the mapping would loop, deaf to SIGKILL.
// expect: E0423
// expect: E0599

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
        if vmf.pgoff() == 1 {
            // VM_FAULT_NOPAGE smuggled in as an "error".
            return Err(FaultError(0x100));
        }
        Err(FaultError::NOPAGE)
    }
}
