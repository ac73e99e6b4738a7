// SPDX-License-Identifier: GPL-2.0

//! Must not compile: the `mmap_prepare` entry of a hand-built `file_operations` taken without
//! `unsafe`. The entry borrows the file's private data as `T::FileData`; only the author of the
//! table knows that its `open` stores that type and its `release` alone takes it back.
// expect: E0133
// expect: call to unsafe function `mmap_prepare_entry` is unsafe

use kernel::bindings;
use mmap_prepare::file::{mmap_prepare_entry, MmapPrepareFile};

impl MmapPrepareFile for Dev {
    type FileData = Arc<Dev>;

    fn mmap_prepare<'a>(
        _dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        desc.clear_flags(VmaFlag::MAYWRITE)
    }
}

/// The table's `mmap_prepare` entry.
pub const ENTRY: Option<unsafe extern "C" fn(*mut bindings::vm_area_desc) -> c_int> =
    Some(mmap_prepare_entry::<Dev>());
