// SPDX-License-Identifier: GPL-2.0

//! A misc device whose `file_operations` carry `mmap_prepare`.
//!
//! The in-tree [`kernel::miscdevice`] builds its `file_operations` privately and offers only the
//! legacy `mmap`, so this module provides the same kind of registration with `mmap_prepare`.
//! It reuses [`MiscDeviceOptions`] for the device's name.

use crate::{desc::VmAreaDesc, file::call_mmap_prepare, user::UserContext};
use core::marker::PhantomData;
use kernel::{
    bindings,
    device::Device,
    error::{to_result, VTABLE_DEFAULT_ERROR},
    fs::{File, Kiocb},
    iov::{IovIterDest, IovIterSource},
    miscdevice::MiscDeviceOptions,
    module::this_module,
    prelude::*,
    seq_file::SeqFile,
    sync::poll::PollTable,
    types::{ForeignOwnable, Opaque},
};

/// A registered misc device whose files support `mmap_prepare`.
///
/// It carries the device's [`MmapMiscDevice::RegistrationData`], which `open` can reach through
/// [`MmapMiscDeviceRegistration::data`] (e.g. the device memory a PCI driver exposes).
///
/// Keep it in the module's (or the bound device's) data, so that it is dropped, and the device
/// deregistered, before the module goes: as with the in-tree `MiscDeviceRegistration`, leaking
/// it (`mem::forget` of its box) would leave a device whose `file_operations` belong to an
/// unloaded module.
///
/// # Invariants
///
/// `inner` is a `struct miscdevice` registered with `misc_register()` from the moment the
/// registration is initialised until it is dropped, and its `fops` are
/// `MmapMiscDeviceVTable<T>`'s. `inner` is the first field (`repr(C)`), so a pointer to it is a
/// pointer to the registration.
#[repr(C)]
#[pin_data(PinnedDrop)]
pub struct MmapMiscDeviceRegistration<T: MmapMiscDevice> {
    #[pin]
    inner: Opaque<bindings::miscdevice>,
    data: T::RegistrationData,
    _t: PhantomData<T>,
}

// SAFETY: `misc_deregister` may be called from any thread; the data is `Send`.
unsafe impl<T: MmapMiscDevice> Send for MmapMiscDeviceRegistration<T> {}
// SAFETY: The `&self` methods only read the registered device and the data, which is `Sync`.
unsafe impl<T: MmapMiscDevice> Sync for MmapMiscDeviceRegistration<T> {}

impl<T: MmapMiscDevice> MmapMiscDeviceRegistration<T> {
    /// Registers a misc device named `opts.name` with default registration data.
    pub fn register(opts: MiscDeviceOptions) -> impl PinInit<Self, Error>
    where
        T::RegistrationData: Default,
    {
        Self::register_with_data(opts, Default::default())
    }

    /// Registers a misc device named `opts.name` that carries `data`.
    pub fn register_with_data(
        opts: MiscDeviceOptions,
        data: T::RegistrationData,
    ) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            data,
            inner <- Opaque::try_ffi_init(move |slot: *mut bindings::miscdevice| {
                let mut raw: bindings::miscdevice = pin_init::zeroed();
                raw.minor = bindings::MISC_DYNAMIC_MINOR as c_int;
                raw.name = opts.name.as_char_ptr();
                raw.fops = &MmapMiscDeviceVTable::<T>::VTABLE;
                // SAFETY: The initializer may write to `slot`.
                unsafe { slot.write(raw) };
                // SAFETY: `slot` holds a valid miscdevice and is pinned; it is deregistered in
                // `drop` before its memory goes away. `data` is initialised before it (field
                // order), so an `open` that races the registration finds it.
                // INVARIANT: on success the device is registered with our `fops`.
                to_result(unsafe { bindings::misc_register(slot) })
            }),
            _t: PhantomData,
        })
    }

    /// The data the device was registered with.
    pub fn data(&self) -> &T::RegistrationData {
        &self.data
    }

    /// The raw `struct miscdevice`.
    pub fn as_raw(&self) -> *mut bindings::miscdevice {
        self.inner.get()
    }

    /// The device created for the registration (`this_device`).
    pub fn device(&self) -> &Device {
        // SAFETY: A registered misc device has a valid `this_device` that lives as long as the
        // registration, which the returned borrow cannot outlive.
        unsafe { Device::from_raw((*self.as_raw()).this_device) }
    }
}

#[pinned_drop]
impl<T: MmapMiscDevice> PinnedDrop for MmapMiscDeviceRegistration<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: By the type invariants the device is registered.
        unsafe { bindings::misc_deregister(self.inner.get()) };
    }
}

/// The file operations of an [`MmapMiscDeviceRegistration`].
#[vtable]
pub trait MmapMiscDevice: Sized {
    /// The per-open data, kept in the file's `private_data`.
    type Ptr: ForeignOwnable + Send + Sync;

    /// Data the registration carries for `open` (`()` if none is needed).
    type RegistrationData: Send + Sync;

    /// Called when the device is opened; the result becomes the file's private data.
    fn open(file: &File, misc: &MmapMiscDeviceRegistration<Self>) -> Result<Self::Ptr>;

    /// Called when the last reference to the file is dropped, after every mapping of it is gone.
    fn release(device: Self::Ptr, _file: &File) {
        drop(device);
    }

    /// Sets up a new mapping of the file, before any VMA exists, under the mmap write lock.
    ///
    /// Allocate nothing and take no reference here (see [`VmAreaDesc`]). Without this callback the
    /// file cannot be mapped (`ENODEV`).
    fn mmap_prepare<'a>(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'a>,
        _file: &'a File,
        _desc: &mut VmAreaDesc<'a, Self::Ptr>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl. It runs outside any lock of the calling task's address space, hence
    /// `user`, which lets it copy from and pin the caller's memory (see [`UserContext`]).
    fn ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles an ioctl of a 32-bit task on a 64-bit kernel. Without it, a driver that has
    /// [`MmapMiscDevice::ioctl`] gets the same calls with the argument converted as a pointer
    /// (`compat_ptr_ioctl()`), which is right for ioctls whose argument is a pointer to a
    /// structure laid out alike for both.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reads from the file (`read(2)`, `readv(2)`, `splice`, io_uring), into `iov`. Like
    /// `ioctl`, it runs outside any lock of the calling task's address space (`user`); the copies
    /// of `iov` fault the user's pages in as needed.
    fn read_iter(
        _kiocb: Kiocb<'_, Self::Ptr>,
        _iov: &mut IovIterDest<'_>,
        _user: &mut UserContext,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Writes to the file, from `iov`; see [`MmapMiscDevice::read_iter`].
    fn write_iter(
        _kiocb: Kiocb<'_, Self::Ptr>,
        _iov: &mut IovIterSource<'_>,
        _user: &mut UserContext,
    ) -> Result<usize> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Reports which operations would not block now (`EPOLLIN`, `EPOLLOUT`, ... as a mask), and
    /// registers the file's waiters with `table` ([`PollTable::register_wait`]), so that a
    /// driver that fills a mapped ring can wake its readers (`select`, `poll`, `epoll`).
    fn poll(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _file: &File,
        _table: PollTable<'_>,
    ) -> u32 {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Adds lines to `/proc/<pid>/fdinfo/<fd>` of the file.
    fn show_fdinfo(
        _device: <Self::Ptr as ForeignOwnable>::Borrowed<'_>,
        _m: &SeqFile,
        _file: &File,
    ) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// The `file_operations` of `T`.
struct MmapMiscDeviceVTable<T: MmapMiscDevice>(PhantomData<T>);

impl<T: MmapMiscDevice> MmapMiscDeviceVTable<T> {
    /// # Safety
    ///
    /// `inode` and `raw_file` are a misc device file being opened, whose `private_data` was set
    /// by `misc_open()` to an `MmapMiscDeviceRegistration<T>` that cannot go away during the call.
    unsafe extern "C" fn open(inode: *mut bindings::inode, raw_file: *mut bindings::file) -> c_int {
        // SAFETY: The pointers are a file being opened.
        let ret = unsafe { bindings::generic_file_open(inode, raw_file) };
        if ret != 0 {
            return ret;
        }
        // SAFETY: `misc_open()` stored the registration's `struct miscdevice` in `private_data`;
        // it is the first field of the `repr(C)` `MmapMiscDeviceRegistration<T>`, which
        // `misc_open()` keeps registered (hence alive) during the call.
        let misc = unsafe {
            &*(*raw_file)
                .private_data
                .cast::<MmapMiscDeviceRegistration<T>>()
        };
        // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
        let file = unsafe { File::from_raw_file(raw_file) };
        match T::open(file, misc) {
            Ok(ptr) => {
                // SAFETY: `open` owns `private_data`; from now on it holds `T::Ptr`, which every
                // other callback here expects, until `release` takes it back.
                unsafe { (*raw_file).private_data = ptr.into_foreign() };
                0
            }
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// `file` is a file of this device being released; its `private_data` came from `open`.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `release` runs once, after every other callback, and owns `private_data`.
        let ptr = unsafe { T::Ptr::from_foreign((*file).private_data) };
        // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
        T::release(ptr, unsafe { File::from_raw_file(file) });
        0
    }

    /// # Safety
    ///
    /// `desc` is the descriptor of a mapping of a file of this device, in `f_op->mmap_prepare`.
    unsafe extern "C" fn mmap_prepare(desc: *mut bindings::vm_area_desc) -> c_int {
        // SAFETY: `desc` is in `mmap_prepare` for a file of this device, whose private data
        // `open` produced with `T::Ptr::into_foreign` and only `release` takes back; nothing else
        // uses `desc` during the call.
        unsafe { call_mmap_prepare::<T::Ptr>(desc, T::mmap_prepare) }
    }

    /// # Safety
    ///
    /// `file` is an open file of this device.
    unsafe extern "C" fn ioctl(file: *mut bindings::file, cmd: c_uint, arg: c_ulong) -> c_long {
        // SAFETY: The private data is `T::Ptr`'s while the file is open.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: `->unlocked_ioctl` is called from the `ioctl()` system call (`vfs_ioctl()`),
        // in process context, with no lock of the caller's address space held.
        let ret = unsafe { UserContext::with(|user| T::ioctl(device, file, cmd, arg, user)) };
        match ret {
            Ok(ret) => ret as c_long,
            Err(err) => err.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// `file` is an open file of this device; called by `compat_sys_ioctl()`.
    #[cfg(CONFIG_COMPAT)]
    unsafe extern "C" fn compat_ioctl(
        file: *mut bindings::file,
        cmd: c_uint,
        arg: c_ulong,
    ) -> c_long {
        // SAFETY: The private data is `T::Ptr`'s while the file is open.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: `->compat_ioctl` is called from the `ioctl()` system call of a compat task
        // (`compat_sys_ioctl()`), in process context, with no lock of its address space held.
        let ret =
            unsafe { UserContext::with(|user| T::compat_ioctl(device, file, cmd, arg, user)) };
        match ret {
            Ok(ret) => ret as c_long,
            Err(err) => err.to_errno() as c_long,
        }
    }

    /// # Safety
    ///
    /// `kiocb` is a valid `struct kiocb` of a file of this device and `iter` a valid
    /// `struct iov_iter` for writing into, for the call.
    unsafe extern "C" fn read_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: A `kiocb` of a file whose private data is `T::Ptr`'s (set in `open`, taken
        // back only in `release`).
        let kiocb = unsafe { Kiocb::from_raw(kiocb) };
        // SAFETY: `iter` is valid for writing into, for the call.
        let iov = unsafe { IovIterDest::from_raw(iter) };
        // SAFETY: `->read_iter` is called from `read()` and its kin (`vfs_read()`, splice,
        // io_uring's workers, `kernel_read()`), none of which holds a lock of the calling
        // task's address space; it may sleep.
        let ret = unsafe { UserContext::with(|user| T::read_iter(kiocb, iov, user)) };
        match ret {
            Ok(n) => n as isize,
            Err(err) => err.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `kiocb` is a valid `struct kiocb` of a file of this device and `iter` a valid
    /// `struct iov_iter` for reading from, for the call.
    unsafe extern "C" fn write_iter(
        kiocb: *mut bindings::kiocb,
        iter: *mut bindings::iov_iter,
    ) -> isize {
        // SAFETY: As for `read_iter`.
        let kiocb = unsafe { Kiocb::from_raw(kiocb) };
        // SAFETY: `iter` is valid for reading from, for the call.
        let iov = unsafe { IovIterSource::from_raw(iter) };
        // SAFETY: As for `read_iter`: `write()` and its kin (`vfs_write()`, splice, io_uring's
        // workers, `kernel_write()`) hold no lock of the calling task's address space.
        let ret = unsafe { UserContext::with(|user| T::write_iter(kiocb, iov, user)) };
        match ret {
            Ok(n) => n as isize,
            Err(err) => err.to_errno() as isize,
        }
    }

    /// # Safety
    ///
    /// `file` is an open file of this device and `table` the poll table of the call.
    unsafe extern "C" fn poll(
        file: *mut bindings::file,
        table: *mut bindings::poll_table_struct,
    ) -> bindings::__poll_t {
        // SAFETY: The private data is `T::Ptr`'s while the file is open.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
        let file_ref = unsafe { File::from_raw_file(file) };
        // SAFETY: `table` is NULL or the valid poll table of this `->poll` call, which outlives
        // the `PollTable` (it is dropped before we return).
        let table = unsafe { PollTable::from_raw(table) };
        T::poll(device, file_ref, table) as bindings::__poll_t
    }

    /// # Safety
    ///
    /// `m` is the `seq_file` of `/proc/<pid>/fdinfo/<fd>` being shown, exclusively ours for the
    /// call, and `file` an open file of this device.
    unsafe extern "C" fn show_fdinfo(m: *mut bindings::seq_file, file: *mut bindings::file) {
        // SAFETY: The private data is `T::Ptr`'s while the file is open.
        let device = unsafe { T::Ptr::borrow((*file).private_data) };
        // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
        let file = unsafe { File::from_raw_file(file) };
        // SAFETY: `m` is valid and exclusive for the call.
        let m = unsafe { SeqFile::from_raw(m) };
        T::show_fdinfo(device, m, file);
    }

    const VTABLE: bindings::file_operations = bindings::file_operations {
        open: Some(Self::open),
        release: Some(Self::release),
        mmap_prepare: if T::HAS_MMAP_PREPARE {
            Some(Self::mmap_prepare)
        } else {
            None
        },
        unlocked_ioctl: if T::HAS_IOCTL {
            Some(Self::ioctl)
        } else {
            None
        },
        #[cfg(CONFIG_COMPAT)]
        compat_ioctl: if T::HAS_COMPAT_IOCTL {
            Some(Self::compat_ioctl)
        } else if T::HAS_IOCTL {
            bindings::compat_ptr_ioctl
        } else {
            None
        },
        read_iter: if T::HAS_READ_ITER {
            Some(Self::read_iter)
        } else {
            None
        },
        write_iter: if T::HAS_WRITE_ITER {
            Some(Self::write_iter)
        } else {
            None
        },
        poll: if T::HAS_POLL { Some(Self::poll) } else { None },
        show_fdinfo: if T::HAS_SHOW_FDINFO {
            Some(Self::show_fdinfo)
        } else {
            None
        },
        owner: this_module::<T::OwnerModule>().as_ptr(),
        ..pin_init::zeroed()
    };
}
