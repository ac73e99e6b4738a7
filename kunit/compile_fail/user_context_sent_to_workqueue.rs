// SPDX-License-Identifier: GPL-2.0

//! Must not compile: an ioctl's `UserContext` given to a work item, which runs in another task
//! (a kworker, with no address space or another one): the proof is about the calling task only.
// expect: E0277
// expect: `*mut ()` cannot be shared between threads safely
// expect: required for `&UserContext` to implement `Send`

use kernel::workqueue;

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
    }

    fn ioctl(
        dev: ArcBorrow<'_, Dev>,
        _file: &File,
        _cmd: u32,
        arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        let dev: Arc<Dev> = dev.into();
        let user: &UserContext = user;
        // Copy the caller's message later, off the system call's path.
        workqueue::system().try_spawn(GFP_KERNEL, move || {
            let _ = dev
                .pages
                .copy_from_user(user, 0, 0, UserPtr::from_addr(arg), 8);
        })?;
        Ok(0)
    }
}
