// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an action maps pages that die with `mmap_prepare`, not the file's data.
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
        desc.set_action(MmapAction::map_kernel_pages(&local_pages, 0))
    }
}
