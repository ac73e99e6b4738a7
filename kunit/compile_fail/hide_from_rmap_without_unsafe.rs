// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `MmapAction::hide_from_rmap_until_complete` without `unsafe`: it keeps the
//! file's `i_mmap_rwsem` held for writing until `mapped` returns, so a `mapped` that zaps a mapping
//! of the file or revokes device memory (both take that lock) would deadlock on itself.
// expect: E0133
// expect: call to unsafe function `MmapAction::<'a>::hide_from_rmap_until_complete` is unsafe

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
    }

    fn mmap_prepare<'a>(
        dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        let pages = &dev.into_ref().pages;
        desc.set_action(MmapAction::map_kernel_pages(pages, 0).hide_from_rmap_until_complete())
    }
}
