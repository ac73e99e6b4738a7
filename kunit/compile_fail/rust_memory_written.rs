// SPDX-License-Identifier: GPL-2.0

//! Must not compile: bytes copied into a page of memory Rust code uses as typed values (a
//! vmalloc allocation's, from `page_iter()`): a `bool` that holds 2 is undefined behaviour.
//! `PageCopy` and `PinnedUserBuffer::copy_to_page` take only the crate's own pages.
// expect: no method named `write_bytes` found
// expect: E0308
// expect: expected `&MappablePage<'_>`, found `&BorrowedPage<'_>`

use kernel::page::AsPageIter;

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
    }

    fn ioctl(
        _dev: ArcBorrow<'_, Dev>,
        _file: &File,
        _cmd: u32,
        arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        let mut flags = VVec::<bool>::with_capacity(4096, GFP_KERNEL)?;
        for _ in 0..4096 {
            flags.push(false, GFP_KERNEL)?;
        }
        let page = flags.page_iter().next().ok_or(EINVAL)?;
        page.write_bytes(0, &[2])?;
        // The caller's byte, pinned with the ioctl's proof, then copied into the same page.
        let message = PinnedUserBuffer::pin(user, UserPtr::from_addr(arg), 1)?;
        message.copy_to_page(0, &page, 0, 1)?;
        Ok(0)
    }
}
