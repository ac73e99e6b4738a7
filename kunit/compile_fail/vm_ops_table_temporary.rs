// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `table()` returns `&VmOpsTable::new()`, a temporary, not a `static`.
// expect: E0515
// expect: cannot return reference to temporary value

use kernel::prelude::*;
use mmap_prepare::{MappedArea, VmOperations, VmOpsTable};

module! {
    type: Snippet,
    name: "vm_ops_table_temporary",
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
