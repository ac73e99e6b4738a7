// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl's `&mut UserContext` kept past the ioctl ('static store), to pin the
//! caller's memory later from a fault handler, which holds the lock the proof says is not held.
// expect: E0521
// expect: `user` escapes the associated function body here

/// Anywhere that outlives the callback (a global, a work item, a leaked box, the file's data)
/// holds only `'static` values.
fn keep_for_later<T: 'static>(_value: T) {}

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
        _arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        keep_for_later(user);
        Ok(0)
    }
}
