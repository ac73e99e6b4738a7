// SPDX-License-Identifier: GPL-2.0

//! Must not compile: the `unsafe fn MmapAction::remap_pfn` (any PFN) called without `unsafe`.
// expect: E0133
// expect: call to unsafe function

use kernel::page::PAGE_SIZE;

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
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
