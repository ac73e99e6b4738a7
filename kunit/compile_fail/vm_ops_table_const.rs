// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a `const` `VmOpsTable` promoted to `'static` (it holds an `Opaque`).
// expect: E0515
// expect: cannot return reference to temporary value

struct DevVm;

/// A constant, not a static: each use is a new value, so its address proves nothing.
const DEV_VM_OPS: VmOpsTable<DevVm> = VmOpsTable::new();

#[vtable]
impl VmOperations for DevVm {
    type FileData = ();
    type Data = ();

    fn table() -> &'static VmOpsTable<Self> {
        &DEV_VM_OPS
    }

    fn mapped(_area: &MappedArea<'_>, _file_data: ()) -> Result {
        Ok(())
    }
}
