// SPDX-License-Identifier: GPL-2.0

//! Live VMAs of a driver: [`VmAreaRef`], [`OwnVmArea`] and [`VmAreaMixedMapRef`].
//!
//! These are the in-tree [`VmaRef`] and [`VmaMixedMap`](kernel::mm::virt::VmaMixedMap)
//! (`kernel::mm::virt`) seen from a driver
//! on `mmap_prepare`: the same lock levels, with what such drivers need — the page offset, typed
//! flags, and a proof that a VMA is the driver's own before anything acts on it. A [`VmAreaRef`]
//! (any VMA under a read lock) only reads; [`VmAreaRef::as_own`] proves the VMA is `V`'s
//! ([`OwnVmArea`]), which hands out its data, zaps its pages and proves it `VM_MIXEDMAP`
//! ([`VmAreaMixedMapRef`]) for inserting pages. So a driver cannot insert pages into, or zap,
//! another driver's VMA that it found by address (a VMA of the same file that merged, or anything
//! at an address userspace chose). They do not dereference to the in-tree types, so that
//! `flags()` means one thing (a typed [`VmaFlags`], as on [`VmAreaDesc`](crate::VmAreaDesc)),
//! and so that what they hand out stays within what the callbacks may do: no `mm()` (whose lock
//! a callback may already hold, and which may have no users left in `close`), and no
//! `vm_insert_page(&Page)`, which would map any page, including memory Rust code uses (only a
//! [`MappablePage`] can be inserted).
//!
//! C header: [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h).

use crate::{
    flags::VmaFlag,
    flags::VmaFlags,
    pages::{KernelPages, MappablePage},
    user::UserContext,
    vm_ops::VmOperations,
};
use core::{marker::PhantomData, ops::Deref};
use kernel::{
    bindings,
    error::{
        code::{EFAULT, EINVAL},
        to_result,
    },
    mm::{virt::VmaRef, MmWithUser},
    page::PAGE_SIZE,
    prelude::*,
    types::ForeignOwnable,
};

/// A VMA under its mmap read lock or its VMA read lock (or stronger).
///
/// Reached in the `mremap` callback (whose VMA may be a neighbour the core merged), or by
/// address through the in-tree lock guards, e.g. [`MmWithUser::lock_vma_under_rcu`] or
/// [`MmapReadGuard::vma_lookup`] followed by [`VmAreaRef::from_vma_ref`]. It only reads: prove
/// the VMA is yours with [`VmAreaRef::as_own`] before acting on it. Never in `open`, whose VMA
/// has no page tables yet (see [`OpeningArea`](crate::OpeningArea)), nor in `close`, where the
/// VMA is already detached (see [`ClosingArea`](crate::ClosingArea)).
///
/// # Invariants
///
/// The same as [`VmaRef`]: the caller holds the mmap read lock or the VMA read lock, or stronger,
/// on a VMA of an address space with users.
///
/// [`MmWithUser::lock_vma_under_rcu`]: kernel::mm::MmWithUser::lock_vma_under_rcu
/// [`MmapReadGuard::vma_lookup`]: kernel::mm::MmapReadGuard::vma_lookup
#[repr(transparent)]
pub struct VmAreaRef {
    vma: VmaRef,
}

impl VmAreaRef {
    /// Access a VMA given a raw pointer.
    ///
    /// # Safety
    ///
    /// `vma` must be valid for `'a`, and the mmap or VMA read lock (or stronger) must be held for
    /// at least `'a`, on an address space with users (`mm_users > 0`).
    #[inline]
    pub unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `Self` is `repr(transparent)` over `VmaRef`, whose invariants the caller
        // guarantees for 'a.
        unsafe { &*vma.cast() }
    }

    /// Views an in-tree [`VmaRef`] as a [`VmAreaRef`].
    #[inline]
    pub fn from_vma_ref(vma: &VmaRef) -> &Self {
        // SAFETY: `VmaRef` holds the same invariants for the lifetime of the borrow.
        unsafe { Self::from_raw(vma.as_ptr()) }
    }

    /// A raw pointer to the VMA.
    #[inline]
    pub fn as_ptr(&self) -> *mut bindings::vm_area_struct {
        self.vma.as_ptr()
    }

    /// The start address of the VMA (inclusive).
    #[inline]
    pub fn start(&self) -> usize {
        self.vma.start()
    }

    /// The end address of the VMA (exclusive).
    #[inline]
    pub fn end(&self) -> usize {
        self.vma.end()
    }

    /// The offset in the file, in pages, of the VMA's start.
    #[inline]
    pub fn pgoff(&self) -> usize {
        // SAFETY: By the type invariants the VMA is valid and a read lock is held, so `vm_pgoff`
        // is stable.
        unsafe { (*self.as_ptr()).vm_pgoff }
    }

    /// The VMA's flags, typed as on the descriptor ([`VmAreaDesc::flags`]).
    ///
    /// [`VmAreaDesc::flags`]: crate::VmAreaDesc::flags
    #[inline]
    pub fn flags(&self) -> VmaFlags {
        VmaFlags::from_bits(self.vma.flags())
    }

    /// Whether the VMA was set up by [`VmAreaDesc::set_vm_ops::<V>`] (its `vm_ops` are `V`'s
    /// table).
    ///
    /// `V`'s table is a `static`, so its address identifies `V` alone.
    ///
    /// [`VmAreaDesc::set_vm_ops::<V>`]: crate::VmAreaDesc::set_vm_ops
    #[inline]
    pub fn is_owned_by<V: VmOperations>(&self) -> bool {
        // SAFETY: By the type invariants a read lock is held, so `vm_ops` is stable.
        let ops = unsafe { (*self.as_ptr()).vm_ops };
        core::ptr::eq(ops, V::table().as_raw())
    }

    /// Proves that the VMA is `V`'s own (its `vm_ops` are `V`'s table); `None` for any other
    /// VMA.
    ///
    /// This is the check to make before acting on a VMA found by address: the VMA that was
    /// there may have been unmapped and replaced by another one, or be another driver's.
    #[inline]
    pub fn as_own<V: VmOperations>(&self) -> Option<&OwnVmArea<V>> {
        if !self.is_owned_by::<V>() {
            return None;
        }
        // SAFETY: The VMA's `vm_ops` are `V`'s table (checked) and never change while the VMA is
        // locked; our lock is held for the borrow (type invariants).
        Some(unsafe { OwnVmArea::from_raw(self.as_ptr()) })
    }

    /// The data [`VmOperations::mapped`] (or `open`) attached to this VMA, if the VMA is `V`'s
    /// own; `None` for any other VMA. Short for `self.as_own::<V>()?.data()`.
    pub fn data<V: VmOperations>(&self) -> Option<<V::Data as ForeignOwnable>::Borrowed<'_>> {
        self.as_own::<V>()?.data()
    }

    /// The private data of the file this VMA maps, if the VMA is `V`'s own; `None` otherwise.
    pub fn file_data<V: VmOperations>(
        &self,
    ) -> Option<<V::FileData as ForeignOwnable>::Borrowed<'_>> {
        Some(self.as_own::<V>()?.file_data())
    }
}

/// A VMA under its mmap or VMA read lock (or stronger), proved to be `V`'s own: its `vm_ops` are
/// `V`'s table, so its private data is `V::Data`'s and its file's is `V::FileData`'s.
///
/// Reached through [`VmAreaRef::as_own`], and in `V`'s own callbacks that have a VMA
/// (`fault`, `may_split`, `mprotect`). Only here can a driver reach the VMA's data, zap its
/// pages, or prove it `VM_MIXEDMAP` to insert pages. Dereferences to [`VmAreaRef`].
///
/// # Invariants
///
/// The invariants of [`VmAreaRef`] hold, and the VMA's `vm_ops` are `V::table()`.
#[repr(transparent)]
pub struct OwnVmArea<V: VmOperations> {
    vma: VmAreaRef,
    _p: PhantomData<V>,
}

impl<V: VmOperations> Deref for OwnVmArea<V> {
    type Target = VmAreaRef;

    #[inline]
    fn deref(&self) -> &VmAreaRef {
        &self.vma
    }
}

impl<V: VmOperations> OwnVmArea<V> {
    /// # Safety
    ///
    /// The invariants of [`VmAreaRef`] hold for `'a`, and the VMA's `vm_ops` are `V::table()`.
    #[inline]
    pub(crate) unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `repr(transparent)` over `VmAreaRef`; the caller guarantees the invariants.
        unsafe { &*vma.cast() }
    }

    /// Finds `V`'s own VMA at `address` in `mm` and calls `f` on it under a read lock: the VMA's
    /// own (`lock_vma_under_rcu()`), or the mmap read lock when that cannot be had (the VMA is
    /// being changed, or the kernel has no per-VMA locks). `None` if no VMA contains `address`,
    /// or the VMA there is not `V`'s (see [`VmAreaRef::as_own`]).
    ///
    /// It may sleep on the mmap lock of `mm`, which may be another task's. `user` proves that
    /// the calling task holds no lock of its own address space (taking the read lock again
    /// would deadlock against a waiting writer when `mm` is its own), and is borrowed mutably
    /// so that nothing that needs the proof runs inside `f`: the crate's copies from user
    /// memory ([`PageCopy::copy_from_user`], [`PageCopy::copy_from_user_slice`],
    /// [`PageArray::copy_from_user_slice_at`], [`PinnedUserBuffer::pin`]) or a nested lookup.
    /// The in-tree `UserSliceReader` copies need no token: `f` must not make them when `mm` may
    /// be the caller's own, as their fault would take the same lock again. Where sleeping is
    /// not allowed, use [`OwnVmArea::try_lookup`].
    ///
    /// [`PageCopy::copy_from_user`]: crate::PageCopy::copy_from_user
    /// [`PageCopy::copy_from_user_slice`]: crate::PageCopy::copy_from_user_slice
    /// [`PageArray::copy_from_user_slice_at`]: crate::PageArray::copy_from_user_slice_at
    /// [`PinnedUserBuffer::pin`]: crate::PinnedUserBuffer::pin
    pub fn lookup<R>(
        user: &mut UserContext,
        mm: &MmWithUser,
        address: usize,
        f: impl FnOnce(&OwnVmArea<V>) -> R,
    ) -> Option<R> {
        let _ = user;
        if let Some(vma) = mm.lock_vma_under_rcu(address) {
            return VmAreaRef::from_vma_ref(&vma).as_own::<V>().map(f);
        }
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(address)?;
        VmAreaRef::from_vma_ref(vma).as_own::<V>().map(f)
    }

    /// As [`OwnVmArea::lookup`], but never sleeps: the VMA lock, else `mmap_read_trylock()`.
    /// `None` when both are contended; otherwise `f` runs under the lock and gets `None` if no
    /// VMA of `V`'s contains `address`, which then stays true while `f` runs (the lock keeps
    /// anyone from mapping there). For reclaim (a shrinker must not wait for an mmap lock
    /// whose holder may be allocating memory) and other atomic contexts: a caller that gets
    /// `None` skips the work, or retries later. A shrinker's `mm` comes from
    /// `Mm::mmget_not_zero()`; put it with `MmWithUser::into_mmput_async()`, as C Binder uses
    /// `mmput_async()`: a last `mmput()` would tear the address space down (`exit_mmap()`,
    /// the VMAs' `close`) inside reclaim.
    ///
    /// `f` must be `Send` although it runs on the calling thread: a [`UserContext`] is neither
    /// `Send` nor `Sync`, so an `ioctl` cannot take its proof under this lock (a copy from user
    /// memory that faults on `mm`, or [`OwnVmArea::lookup`], would take the same lock again).
    /// A shrinker that needs raw pointers inside moves them in a wrapper of its own that is
    /// `Send`. The bound does not reach the in-tree copies that need no token (`UserSlice`
    /// rebuilt from an address, `IovIterSource`/`IovIterDest`): as for
    /// [`OwnVmArea::lookup`], `f` must not make them when `mm` may be the caller's own.
    pub fn try_lookup<R>(
        mm: &MmWithUser,
        address: usize,
        f: impl FnOnce(Option<&OwnVmArea<V>>) -> R + Send,
    ) -> Option<R> {
        if let Some(vma) = mm.lock_vma_under_rcu(address) {
            return Some(f(VmAreaRef::from_vma_ref(&vma).as_own::<V>()));
        }
        let guard = mm.mmap_read_trylock()?;
        let vma = guard.vma_lookup(address);
        Some(f(
            vma.and_then(|vma| VmAreaRef::from_vma_ref(vma).as_own::<V>())
        ))
    }

    /// The data [`VmOperations::mapped`] (or `open`) attached to this VMA; `None` if its
    /// `mapped` failed or never ran (a stacking driver may keep such a VMA).
    pub fn data(&self) -> Option<<V::Data as ForeignOwnable>::Borrowed<'_>> {
        // SAFETY: By the type invariants a read lock is held, so `vm_private_data` is stable.
        let ptr = unsafe { (*self.as_ptr()).vm_private_data };
        // SAFETY: The VMA is `V`'s own (type invariants), so its private data is NULL or was
        // produced by `V::Data::into_foreign`. It is released only in `close`, which the core
        // calls after taking the mmap write lock, detaching the VMA and write-locking it (munmap
        // may then downgrade to the read lock, but the VMA can no longer be found). So `close`
        // cannot run while our lock on this VMA is held, i.e. during '_.
        unsafe { crate::vm_ops::borrow_data::<V::Data>(ptr) }
    }

    /// The private data of the file this VMA maps.
    pub fn file_data(&self) -> <V::FileData as ForeignOwnable>::Borrowed<'_> {
        // SAFETY: The VMA is `V`'s own, so its `vm_file` has `V::FileData` private data (see
        // `VmAreaDesc::set_vm_ops`); the VMA holds the file, whose data is released only after
        // its last mapping is gone, and the VMA cannot go away while our read lock is held.
        unsafe { V::FileData::borrow((*(*self.as_ptr()).vm_file).private_data) }
    }

    /// Zaps (unmaps) the pages of `[address, address + size)`, which must be page aligned and
    /// lie inside the VMA (`EINVAL` otherwise; nothing is zapped).
    pub fn zap_range(&self, address: usize, size: usize) -> Result {
        // Page aligned: `zap_pte_range()` steps by pages until `addr == end`, so an unaligned
        // end is never met and the walk runs on past the range and its page table (the in-tree
        // `zap_vma_range()` checks only the bounds).
        if address % PAGE_SIZE != 0 || size % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        match address.checked_add(size) {
            Some(end) if address >= self.start() && end <= self.end() => {
                self.vma.vma.zap_vma_range(address, size);
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }

    /// Proves that the VMA is `VM_MIXEDMAP`, where pages may be inserted; `None` otherwise.
    #[inline]
    pub fn check_mixedmap(&self) -> Option<&VmAreaMixedMapRef> {
        if self.flags().contains(VmaFlag::MIXEDMAP) {
            // SAFETY: `VM_MIXEDMAP` is set (checked) and never cleared from a VMA that has it
            // (`mmap_prepare` sets it before the VMA exists); the lock is ours (type invariants).
            Some(unsafe { VmAreaMixedMapRef::from_raw(self.as_ptr()) })
        } else {
            None
        }
    }
}

/// A VMA of the driver's own under its mmap or VMA read lock that has `VM_MIXEDMAP` set; pages
/// may be inserted.
///
/// Only reachable through [`OwnVmArea::check_mixedmap`], so a page can only be inserted into a
/// VMA proved to be the driver's own and mixed-map. Dereferences to [`VmAreaRef`].
///
/// # Invariants
///
/// The same as the in-tree [`VmaMixedMap`](kernel::mm::virt::VmaMixedMap): a read lock is held
/// and `VM_MIXEDMAP` is set; and the VMA is the driver's own (its `vm_ops` are the table of the
/// [`VmOperations`] that proved it).
#[repr(transparent)]
pub struct VmAreaMixedMapRef {
    vma: VmAreaRef,
}

impl Deref for VmAreaMixedMapRef {
    type Target = VmAreaRef;

    #[inline]
    fn deref(&self) -> &VmAreaRef {
        &self.vma
    }
}

impl VmAreaMixedMapRef {
    /// # Safety
    ///
    /// The invariants of [`VmAreaRef`] hold for `'a`, and `VM_MIXEDMAP` is set.
    #[inline]
    unsafe fn from_raw<'a>(vma: *const bindings::vm_area_struct) -> &'a Self {
        // SAFETY: `repr(transparent)` over `VmAreaRef`; the caller guarantees the invariants.
        unsafe { &*vma.cast() }
    }

    /// Inserts one page at `address` (`vm_insert_page`); the core takes its own reference. Only a
    /// [`MappablePage`] can be inserted (see [`VmFault::set_page`](crate::VmFault::set_page)).
    /// `EINVAL` if `address` is not page aligned, `EFAULT` if it is not in the VMA.
    pub fn insert_page(&self, address: usize, page: &MappablePage<'_>) -> Result {
        if address % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // SAFETY: By the type invariants a read lock is held and `VM_MIXEDMAP` is set; `page` is
        // a valid order-0 page; the core checks the address and takes its own reference.
        to_result(unsafe { bindings::vm_insert_page(self.as_ptr(), address, page.as_ptr()) })
    }

    /// Inserts `count` pages from `pages[first]` at `address` (`vm_insert_pages`).
    ///
    /// `EINVAL` if the slots are not all filled or `address` is not page aligned; `EFAULT` if the
    /// range is not in the VMA. `count == 0` inserts nothing and succeeds. On
    /// another error some pages may have been inserted: the core returns the error and the
    /// caller may zap the range.
    pub fn insert_pages(
        &self,
        address: usize,
        pages: &KernelPages,
        first: usize,
        count: usize,
    ) -> Result {
        if !pages.are_present(first, count) || address % PAGE_SIZE != 0 {
            return Err(EINVAL);
        }
        // Nothing to insert: `insert_pages()` would still allocate page tables for `address`,
        // which may be `vm_end`, outside the VMA.
        if count == 0 {
            return Ok(());
        }
        // The range check is ours: `vm_insert_pages()` computes the end as `addr + PAGE_SIZE *
        // nr` unchecked and `range_in_vma()` only compares, so an address near the top of the
        // address space wraps the end below `vm_end` and would have `insert_pages()` walk and
        // fill page tables outside the VMA (on x86-64, the kernel's shared ones).
        let end = count
            .checked_mul(PAGE_SIZE)
            .and_then(|len| address.checked_add(len))
            .ok_or(EFAULT)?;
        if address < self.start() || end > self.end() {
            return Err(EFAULT);
        }
        let mut num = count;
        // SAFETY: By the type invariants a read lock is held and `VM_MIXEDMAP` is set. The
        // `count` slots from `first` hold valid order-0 pages (checked; filled slots stay filled
        // while `pages` is borrowed); the core takes its own reference to each page it maps.
        // `[address, address + count * PAGE_SIZE)` lies in the VMA (checked above, without
        // overflow), which the core checks again.
        to_result(unsafe {
            bindings::vm_insert_pages(self.as_ptr(), address, pages.as_raw(first), &mut num)
        })
    }
}
