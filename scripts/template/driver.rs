// SPDX-License-Identifier: GPL-2.0

//! A misc device, `/dev/@NAME@`, whose open files each own a few zeroed pages that start with a
//! greeting; a shared mapping of the file maps them, set up in `mmap_prepare`.

use kernel::{
    fs::File,
    miscdevice::MiscDeviceOptions,
    prelude::*,
    sync::{Arc, ArcBorrow},
};
use mmap_prepare::{
    IntoRef, KernelPages, MappedArea, MmapAction, MmapMiscDevice, MmapMiscDeviceRegistration,
    VmAreaDesc, VmOperations,
};

module! {
    type: Driver,
    name: "@NAME@",
    authors: ["@NAME@ authors"],
    description: "A misc device whose files map driver-owned pages, on mmap_prepare",
    license: "GPL",
}

/// Pages of each open file.
const PAGES: usize = 2;
/// What every page starts with (NUL-terminated for the userspace test).
const GREETING: &[u8] = b"hello from @NAME@\0";

#[pin_data]
struct Driver {
    #[pin]
    _misc: MmapMiscDeviceRegistration<Buffer>,
}

impl kernel::InPlaceModule for Driver {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _misc <- MmapMiscDeviceRegistration::register(MiscDeviceOptions { name: c"@NAME@" }),
        })
    }
}

/// The data of one open file: the pages its mappings show. It outlives every mapping of the
/// file, which is what lets `mmap_prepare` hand its pages to the core.
struct Buffer {
    pages: KernelPages,
}

impl Buffer {
    fn new() -> Result<Arc<Self>> {
        let pages = KernelPages::alloc(PAGES, GFP_KERNEL | __GFP_ZERO)?;
        for index in 0..PAGES {
            pages.write(index, 0, GREETING)?;
        }
        Ok(Arc::new(Self { pages }, GFP_KERNEL)?)
    }
}

#[vtable]
impl MmapMiscDevice for Buffer {
    type Ptr = Arc<Buffer>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Buffer>> {
        Buffer::new()
    }

    fn mmap_prepare<'a>(
        buf: ArcBorrow<'a, Buffer>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Buffer>>,
    ) -> Result {
        // A private writable mapping would copy a page on its first write: refuse it.
        if desc.is_cow() {
            return Err(EINVAL);
        }
        desc.set_vm_ops::<BufferVm>()?;
        // Page `pgoff` of the file onwards, over the whole mapping; EINVAL if there are fewer
        // pages than the mapping needs. Each mapped page gets a reference of its own.
        desc.set_action(MmapAction::map_kernel_pages(
            &buf.into_ref().pages,
            desc.pgoff(),
        ))
    }
}

/// The operations of the VMAs of this driver.
struct BufferVm;

#[vtable]
impl VmOperations for BufferVm {
    type FileData = Arc<Buffer>;
    /// Nothing per VMA: the mapped pages hold their own references.
    type Data = ();

    mmap_prepare::vm_ops_table!(BufferVm);

    fn mapped(area: &MappedArea<'_>, _buf: ArcBorrow<'_, Buffer>) -> Result {
        pr_debug!("mapped {:#x}..{:#x}\n", area.start, area.end);
        Ok(())
    }
}

#[kunit_tests(@NAME@_kunit)]
mod tests {
    use super::*;

    #[test]
    fn new_buffer_pages_start_with_the_greeting() -> Result {
        let buf = Buffer::new()?;
        let mut out = [0u8; GREETING.len()];
        for index in 0..PAGES {
            buf.pages.read(index, 0, &mut out)?;
            assert_eq!(&out[..], GREETING);
        }
        assert!(buf.pages.page(PAGES).is_none());
        Ok(())
    }
}
