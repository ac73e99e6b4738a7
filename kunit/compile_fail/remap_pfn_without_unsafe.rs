// SPDX-License-Identifier: GPL-2.0

//! Must not compile: the `unsafe fn MmapAction::remap_pfn` (any PFN) called without `unsafe`.
// expect: E0133
// expect: call to unsafe function

use kernel::{
    fs::File,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{MmapAction, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc};

module! {
    type: Snippet,
    name: "remap_pfn_without_unsafe",
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

struct Dev;

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Ok(Arc::new(Dev, GFP_KERNEL)?)
    }

    fn mmap_prepare<'a>(
        _dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        let start = desc.start();
        desc.set_action(MmapAction::remap_pfn(start, 0, PAGE_SIZE))
    }
}
