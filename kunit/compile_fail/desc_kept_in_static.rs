// SPDX-License-Identifier: GPL-2.0

//! Must not compile: the `&mut VmAreaDesc` is kept after `mmap_prepare` returns ('static store).
// expect: E0521
// expect: `desc` escapes the associated function body here
// expect: argument requires that `'a` must outlive `'static`
// expect(1.85): `_dev` escapes the associated function body here
// expect(1.86+): lifetime may not live long enough

/// Anywhere that outlives the callback (a global, a work item, a leaked box) holds only
/// `'static` values.
fn keep_for_later<T: 'static>(_value: T) {}

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
        keep_for_later(desc);
        Ok(())
    }
}
