// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `table()` returns `&VmOpsTable::new()`, a temporary, not a `static`.
// expect: E0515
// expect: cannot return reference to temporary value

struct DevVm;

#[vtable]
impl VmOperations for DevVm {
    type FileData = ();
    type Data = ();

    fn table() -> &'static VmOpsTable<Self> {
        &VmOpsTable::new()
    }

    fn mapped(_area: &MappedArea<'_>, _file_data: ()) -> Result {
        Ok(())
    }
}
