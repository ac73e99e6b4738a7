// SPDX-License-Identifier: GPL-2.0

//! Charging pages to a user's locked memory, as `memfd_secret` does in 7.3.
//!
//! C: [`mm/secretmem.c`](srctree/mm/secretmem.c) (`__secretmem_account_pages`).

use crate::c_helpers::{rmp_charge_locked_vm, rmp_get_current_user, rmp_uncharge_locked_vm};
use core::ptr::NonNull;
use kernel::{
    bindings,
    sync::atomic::{Atomic, Relaxed},
};

/// Pages charged to a user's `locked_vm`, each charge checked against the calling task's
/// `RLIMIT_MEMLOCK`. Dropping the account returns whatever is still charged.
///
/// # Examples
///
/// ```
/// use mmap_prepare::LockedMemAccount;
///
/// let account = LockedMemAccount::current_user();
/// if account.try_charge(1) {
///     assert_eq!(account.charged(), 1);
///     account.uncharge(1);
/// }
/// assert_eq!(account.charged(), 0);
/// ```
///
/// # Invariants
///
/// `user` is a `struct user_struct` this account holds a reference to; `charged` pages of its
/// `locked_vm` were added by this account and not yet returned.
pub struct LockedMemAccount {
    user: NonNull<bindings::user_struct>,
    charged: Atomic<usize>,
}

// SAFETY: `user_struct` references may be used and dropped from any thread, and its
// `locked_vm` is atomic.
unsafe impl Send for LockedMemAccount {}
// SAFETY: As above; `charged` is atomic.
unsafe impl Sync for LockedMemAccount {}

impl LockedMemAccount {
    /// An account for the user of the current task (`get_current_user()`).
    pub fn current_user() -> Self {
        // SAFETY: Always safe in process context; returns a new reference to the current
        // task's user, which every task has, so it is never NULL.
        let user = unsafe { NonNull::new_unchecked(rmp_get_current_user()) };
        // INVARIANT: `get_current_user()` returned a reference we now hold.
        Self {
            user,
            charged: Atomic::new(0),
        }
    }

    /// Charges `pages` pages; `false`, with nothing charged, if that would take the user's
    /// locked memory past the current task's `RLIMIT_MEMLOCK`.
    pub fn try_charge(&self, pages: usize) -> bool {
        // SAFETY: By the type invariants `user` is valid.
        if unsafe { rmp_charge_locked_vm(self.user.as_ptr(), pages) } {
            self.charged.fetch_add(pages, Relaxed);
            true
        } else {
            false
        }
    }

    /// Returns `pages` pages of this account's charge (at most what it holds).
    pub fn uncharge(&self, pages: usize) {
        let mut current = self.charged.load(Relaxed);
        loop {
            let take = pages.min(current);
            match self.charged.cmpxchg(current, current - take, Relaxed) {
                Ok(_) => {
                    // SAFETY: `user` is valid and this account had charged `take` pages to it.
                    unsafe { rmp_uncharge_locked_vm(self.user.as_ptr(), take) };
                    return;
                }
                Err(now) => current = now,
            }
        }
    }

    /// The number of pages this account holds.
    pub fn charged(&self) -> usize {
        self.charged.load(Relaxed)
    }
}

impl Drop for LockedMemAccount {
    fn drop(&mut self) {
        self.uncharge(usize::MAX);
        // SAFETY: By the type invariants we hold this reference; it is dropped once.
        unsafe { bindings::free_uid(self.user.as_ptr()) };
    }
}
