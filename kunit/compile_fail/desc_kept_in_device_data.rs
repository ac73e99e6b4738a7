// SPDX-License-Identifier: GPL-2.0

//! Must not compile: the `VmAreaDesc` kept in the device's data, to be changed later.
//! (One lifetime error, not one "cannot be sent between threads" per raw pointer field.)
// expect: borrowed data escapes outside of associated function

/// The file data: keeps the last descriptor it was mapped with.
struct Keeper {
    last: kernel::sync::Mutex<Option<&'static mut VmAreaDesc<'static, Arc<Keeper>>>>,
}

#[vtable]
impl MmapMiscDevice for Keeper {
    type Ptr = Arc<Keeper>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Keeper>> {
        Err(ENODEV)
    }

    fn mmap_prepare<'a>(
        dev: ArcBorrow<'a, Keeper>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Keeper>>,
    ) -> Result {
        *dev.last.lock() = Some(desc);
        Ok(())
    }
}
