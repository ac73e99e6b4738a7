// SPDX-License-Identifier: GPL-2.0

//! The calling task's own memory, reached only where the task holds no lock of it.
//!
//! Copying from a user address (`copy_from_user()`) and pinning user pages
//! (`pin_user_pages_fast()`) fault the pages in when they are not present, and the fault takes a
//! lock of the calling task's address space: its VMA lock, or its mmap lock for reading
//! (`lock_mm_and_find_vma()`, `arch/x86/mm/fault.c`; GUP's slow path,
//! `mmap_read_lock_killable()`). Every VMA callback runs with that lock already held:
//! `mmap_prepare`, `mapped`, `open`, `close`, `may_split`, `mprotect` and `mremap` under the mmap
//! write lock, `fault` under the VMA lock or the mmap read lock. Taking it again deadlocks against
//! itself (write) or against a waiting writer (read), and lockdep reports the recursion even when
//! the page happens to be present. So the crate's functions that reach the calling task's memory
//! take a [`UserContext`], which only the callbacks that run outside the address space get.

use core::marker::PhantomData;

/// Proof that the calling task holds no lock of its own address space (`current->mm`) and may
/// sleep: it may fault on its own memory and pin it.
///
/// The crate hands one to the file operations that run outside any mm lock
/// ([`MmapMiscDevice::ioctl`](crate::MmapMiscDevice::ioctl)), as `&mut UserContext` for the length
/// of the callback; VMA callbacks and fault handlers never get one. It cannot be made in safe
/// code, kept past the callback (it is only ever borrowed), or given to another task (it is
/// neither `Send` nor `Sync`: "the calling task" is the one it was made for). Functions that take
/// a lock of an address space themselves should take it as `&mut`, so that nothing needing the
/// proof can run while they hold it.
///
/// In a kernel thread (`read_iter` and `write_iter` run in them too, through `kernel_read()`
/// and `kernel_write()`), there is no user memory: copies and pins fail with `EFAULT`.
///
/// The proof holds only as long as the driver takes no lock of its address space itself: the
/// in-tree `MmWithUser::mmap_read_lock()` is safe and does not borrow this token, so a driver
/// that calls it on its own address space in an `ioctl` must not copy or pin while it holds
/// the guard (the crate cannot see that guard; lockdep reports the recursion).
///
/// The proof covers the address space's own locks. A driver that holds a lock of its own which
/// its fault handler also takes (a mutex of the file's data, say) must not copy from, or pin,
/// user memory while holding it: the user address may lie in the driver's own mapping, whose
/// fault then waits for that lock. Copy or pin first, then lock, as
/// `samples/rust_binder_pages.rs` does.
///
/// # Examples
///
/// ```
/// use kernel::uaccess::UserPtr;
/// use mmap_prepare::{PinnedUserBuffer, UserContext};
///
/// /// Pins a message of the calling task (e.g. in an ioctl).
/// fn pin_message(user: &UserContext, at: UserPtr, len: usize) -> Result<PinnedUserBuffer> {
///     PinnedUserBuffer::pin(user, at, len)
/// }
/// ```
pub struct UserContext {
    /// Neither `Send` nor `Sync`.
    _not_send: PhantomData<*mut ()>,
}

impl UserContext {
    /// Runs `f` with a proof that the calling task holds no lock of its address space.
    ///
    /// For glue that calls a driver from a context the crate does not cover (another kind of
    /// file's operations, a kernel thread with no address space, where copies simply fail).
    ///
    /// # Safety
    ///
    /// For the whole call of `f`, the calling task must hold no lock of `current->mm` (its mmap
    /// lock, any of its VMA locks), no lock the core takes while holding one (e.g. a file's
    /// `i_mmap_rwsem`, a page table lock), and must be allowed to sleep.
    pub unsafe fn with<R>(f: impl FnOnce(&mut UserContext) -> R) -> R {
        let mut user = UserContext {
            _not_send: PhantomData,
        };
        f(&mut user)
    }
}
