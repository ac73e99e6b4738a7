// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a `PageProt` built from raw bits (only a descriptor may hand one out).
// expect: E0423
// expect: cannot initialize a tuple struct which contains private fields

use kernel::{
    bindings,
    fs::File,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{MmapMiscDevice, MmapMiscDeviceRegistration, PageProt, VmAreaDesc};

module! {
    type: Snippet,
    name: "page_prot_forged",
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

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Ok(Arc::new(Dev, GFP_KERNEL)?)
    }

    fn mmap_prepare<'a>(
        _dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        let forged = PageProt(bindings::pgprot_t {
            pgprot: 0x8000_0000_0000_0067,
        });
        desc.set_page_prot(forged)
    }
}
