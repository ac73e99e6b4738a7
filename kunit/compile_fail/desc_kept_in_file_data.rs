// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a reference to the `VmAreaDesc` is kept as long as the file's data lives.
// expect: lifetime may not live long enough
// expect: requires that `'1` must outlive `'a`

/// A struct with the lifetime of the file's data, to change the mapping later.
struct Kept<'a> {
    _desc: &'a VmAreaDesc<'a, Arc<Dev>>,
}

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
        let _kept: Kept<'a> = Kept { _desc: desc };
        Ok(())
    }
}
