// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an action maps pages that die with `mmap_prepare`, not the file's data.
// expect: E0597
// expect: `local_pages` does not live long enough

use kernel::{
    fs::File,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    KernelPages, MmapAction, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc,
};

module! {
    type: Snippet,
    name: "action_maps_local_pages",
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
        let local_pages = KernelPages::alloc(1, GFP_KERNEL)?;
        desc.set_action(MmapAction::map_kernel_pages(&local_pages, 0))
    }
}
