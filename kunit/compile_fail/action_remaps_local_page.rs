// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a PFN remap (no page reference) of a page that dies with `mmap_prepare`.
// expect: E0597
// expect: `local_pages` does not live long enough

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
        let local_pages = KernelPages::alloc(1, GFP_KERNEL)?;
        desc.set_action(MmapAction::remap_kernel_page(&local_pages, 0))
    }
}
