// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `close` given the live-VMA type, whose `mm()` claims users the address space may no
//! longer have (`exit_mmap()`) and whose page tables may be gone.
// expect: E0053
// expect: method `close` has an incompatible type for trait

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
