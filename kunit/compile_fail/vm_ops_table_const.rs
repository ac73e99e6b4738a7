// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a `const` `VmOpsTable` promoted to `'static` (it holds an `Opaque`).
// expect: E0515
// expect: cannot return reference to temporary value

use kernel::prelude::*;
use mmap_prepare::{MappedArea, VmOperations, VmOpsTable};

module! {
    type: Snippet,
    name: "vm_ops_table_const",
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
