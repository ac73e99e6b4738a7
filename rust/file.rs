// SPDX-License-Identifier: GPL-2.0

//! `mmap_prepare` for `file_operations` a driver builds itself.
//!
//! [`MmapMiscDeviceRegistration`](crate::MmapMiscDeviceRegistration) builds the whole
//! `file_operations` of a misc device. Files of other kinds (binderfs files, a character device
//! of the driver's own, an anonymous inode) have a table the driver writes by hand, with
//! `unsafe extern "C"` entries for `open`, `release` and the rest. [`MmapPrepareFile`] gives such
//! a table its `mmap_prepare` entry, so that the mapping path is the crate's: the driver's
//! callback gets a [`VmAreaDesc`] typed by the file's private data, exactly as a misc device's
//! does.
//!
//! C header: [`include/linux/fs.h`](srctree/include/linux/fs.h).

use crate::desc::VmAreaDesc;
use core::marker::PhantomData;
use kernel::{bindings, fs::File, prelude::*, types::ForeignOwnable};

/// The `mmap_prepare` of a file whose `private_data` is a [`MmapPrepareFile::FileData`].
///
/// # Examples
///
/// ```
/// use kernel::{bindings, fs::File, prelude::*, sync::{Arc, ArcBorrow}};
/// use mmap_prepare::{file::MmapPrepareFile, VmAreaDesc, VmaFlag};
///
/// struct Session;
///
/// impl MmapPrepareFile for Session {
///     type FileData = Arc<Session>;
///
///     fn mmap_prepare<'a>(
///         _session: ArcBorrow<'a, Session>,
///         _file: &'a File,
///         desc: &mut VmAreaDesc<'a, Arc<Session>>,
///     ) -> Result {
///         desc.clear_flags(VmaFlag::MAYWRITE)
///     }
/// }
///
/// // The table's `open` stores an `Arc<Session>` in `private_data` and its `release` takes it
/// // back, which is what the entry relies on.
/// const FOPS_MMAP_PREPARE: Option<unsafe extern "C" fn(*mut bindings::vm_area_desc) -> c_int> =
///     // SAFETY: The files of the table this is written into hold an `Arc<Session>` from
///     // `open` until `release`.
///     Some(unsafe { mmap_prepare::file::mmap_prepare_entry::<Session>() });
/// ```
pub trait MmapPrepareFile {
    /// The file's private data, set by the table's `open` (`into_foreign`) and taken back by its
    /// `release` (`from_foreign`).
    type FileData: ForeignOwnable;

    /// Sets up a new mapping of the file, before any VMA exists, under the mmap write lock; the
    /// same contract as [`MmapMiscDevice::mmap_prepare`](crate::MmapMiscDevice::mmap_prepare).
    fn mmap_prepare<'a>(
        data: <Self::FileData as ForeignOwnable>::Borrowed<'a>,
        file: &'a File,
        desc: &mut VmAreaDesc<'a, Self::FileData>,
    ) -> Result;
}

/// The entry to write into `file_operations::mmap_prepare` for the files of `T`.
///
/// # Safety
///
/// The returned function may only be installed in a `file_operations` whose files all have a
/// `private_data` produced by `T::FileData::into_foreign()` (in `open`, before the file can be
/// mapped) and released by `T::FileData::from_foreign()` only in `release`, which the VFS calls
/// after every mapping of the file is gone (each VMA holds a reference to its file).
pub const unsafe fn mmap_prepare_entry<T: MmapPrepareFile>(
) -> unsafe extern "C" fn(*mut bindings::vm_area_desc) -> c_int {
    Entry::<T>::mmap_prepare
}

struct Entry<T>(PhantomData<T>);

impl<T: MmapPrepareFile> Entry<T> {
    /// # Safety
    ///
    /// Called by the core as `f_op->mmap_prepare` (`vfs_mmap_prepare()`), with the mmap write
    /// lock held, for a file of a table that obeys [`mmap_prepare_entry`]'s safety requirements.
    unsafe extern "C" fn mmap_prepare(desc: *mut bindings::vm_area_desc) -> c_int {
        // SAFETY: The caller's requirements.
        unsafe { call_mmap_prepare::<T::FileData>(desc, T::mmap_prepare) }
    }
}

/// Calls `f` with the borrowed private data, the file and the descriptor of `desc`.
///
/// # Safety
///
/// `desc` is the descriptor passed to `f_op->mmap_prepare` of a file whose private data is
/// `F`'s (produced by `F::into_foreign()`, released only in `release`), and nothing else uses
/// `desc` during the call.
pub(crate) unsafe fn call_mmap_prepare<F: ForeignOwnable>(
    desc: *mut bindings::vm_area_desc,
    f: impl for<'a> FnOnce(F::Borrowed<'a>, &'a File, &mut VmAreaDesc<'a, F>) -> Result,
) -> c_int {
    // SAFETY: `desc` is valid for the call (caller's requirements); `file` is the file being
    // mapped, which the mmap path holds.
    let raw_file = unsafe { (*desc).file };
    // SAFETY: The private data is `F`'s and is released only in `release`, which cannot run
    // while the file is being mapped (the caller of `mmap()` holds a reference).
    let data = unsafe { F::borrow((*raw_file).private_data) };
    // SAFETY: The file is valid for the call, with no active `fdget_pos` region.
    let file = unsafe { File::from_raw_file(raw_file) };
    // SAFETY: `desc` is in `mmap_prepare` for a file whose private data is `F`'s, released only
    // after every mapping is gone, which outlives the borrow `data`; nothing else uses `desc`
    // during the call (caller's requirements).
    let desc = unsafe { VmAreaDesc::from_raw(desc) };
    match f(data, file, desc) {
        Ok(()) => 0,
        Err(err) => err.to_errno(),
    }
}
