// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `PinnedUserBuffer::pin` in `mmap_prepare`, which runs under the caller's mmap
//! write lock (pinning a page that is not present takes that lock again: a self-deadlock). The
//! callback gets no `UserContext`, and declaring one as a parameter, as `ioctl` has, is refused.
// expect: E0050
// expect: method `mmap_prepare` has 4 parameters but the declaration in trait

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
        user: &mut UserContext,
    ) -> Result {
        // Seed the first page with what the caller has at the address it maps over.
        let seed = PinnedUserBuffer::pin(user, UserPtr::from_addr(desc.start()), 8)?;
        let page = dev.pages.page(0).ok_or(EINVAL)?;
        seed.copy_to_page(0, &page, 0, 8)?;
        desc.set_action(MmapAction::map_kernel_pages(&dev.into_ref().pages, 0))
    }
}
