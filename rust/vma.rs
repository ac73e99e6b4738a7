// SPDX-License-Identifier: GPL-2.0

//! Live VMAs of a driver: [`VmAreaRef`] and [`VmAreaMixedMapRef`].
//!
//! These extend the in-tree [`VmaRef`] and [`VmaMixedMap`] (`kernel::mm::virt`) and dereference
//! to them, so everything those offer (`start`, `end`, `flags`, `mm`, `zap_vma_range`,
//! `vm_insert_page`) works unchanged; what is added is what `mmap_prepare` drivers need: the page
//! offset, typed flags, and a proof that a VMA is the driver's own before its data is handed out.

use crate::{flags::VmaFlags, pages::KernelPages, vm_ops::VmOperations};
use core::ops::Deref;
use kernel::{
    bindings,
    error::{code::EINVAL, to_result},
    mm::virt::{VmaMixedMap, VmaRef},
    prelude::*,
    types::ForeignOwnable,
};

/// A VMA under its mmap read lock or its VMA read lock (or stronger).
///
/// Reached in VMA callbacks (`open`, `close`, `fault`, ...), or by address through the in-tree
/// lock guards, e.g. [`MmWithUser::lock_vma_under_rcu`] or [`MmapReadGuard::vma_lookup`] followed
/// by [`VmAreaRef::from_vma_ref`].
///
/// # Invariants
///
/// The same as [`VmaRef`]: the caller holds the mmap read lock or the VMA read lock, or stronger.
///
/// [`MmWithUser::lock_vma_under_rcu`]: kernel::mm::MmWithUser::lock_vma_under_rcu
/// [`MmapReadGuard::vma_lookup`]: kernel::mm::MmapReadGuard::vma_lookup
#[repr(transparent)]
pub struct VmAreaRef {
    vma: VmaRef,
}

impl Deref for VmAreaRef {
    type Target = VmaRef;

    #[inline]
    fn deref(&self) -> &VmaRef {
        &self.vma
    }
}

impl VmAreaRef {
    /// Access a VMA given a raw pointer.
    ///
    /// # Safety
    ///
    /// `vma` must be valid for `'a`, and the mmap or VMA read lock (or stronger) must be held for
    /// at least `'a`.
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

    /// The offset in the file, in pages, of the VMA's start.
    #[inline]
    pub fn pgoff(&self) -> usize {
        // SAFETY: By the type invariants the VMA is valid and a read lock is held, so `vm_pgoff`
        // is stable.
        unsafe { (*self.as_ptr()).vm_pgoff }
    }

    /// The VMA's flags as a typed set.
    #[inline]
    pub fn vma_flags(&self) -> VmaFlags {
        VmaFlags::from_bits(self.flags())
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

    /// The data [`VmOperations::mapped`] (or `open`) attached to this VMA, if the VMA is `V`'s
    /// own; `None` for any other VMA.
    ///
    /// This is the check to make before acting on a VMA found by address: the VMA that was
    /// there may have been unmapped and replaced by another one.
    pub fn data<V: VmOperations>(&self) -> Option<<V::Data as ForeignOwnable>::Borrowed<'_>> {
        if !self.is_owned_by::<V>() {
            return None;
        }
        // SAFETY: By the type invariants a read lock is held, so `vm_private_data` is stable.
        let ptr = unsafe { (*self.as_ptr()).vm_private_data };
        // SAFETY: The VMA is `V`'s own, so its private data is NULL or was produced by
        // `V::Data::into_foreign`. It is released only in `close`, which the core calls after
        // taking the mmap write lock, detaching the VMA and write-locking it (munmap may then
        // downgrade to the read lock, but the VMA can no longer be found). So `close` cannot
        // run while our lock on this VMA is held, i.e. during '_.
        unsafe { crate::vm_ops::borrow_data::<V::Data>(ptr) }
    }

    /// The private data of the file this VMA maps, if the VMA is `V`'s own; `None` otherwise.
    pub fn file_data<V: VmOperations>(
        &self,
    ) -> Option<<V::FileData as ForeignOwnable>::Borrowed<'_>> {
        if !self.is_owned_by::<V>() {
            return None;
        }
        // SAFETY: The VMA is `V`'s own, so its `vm_file` has `V::FileData` private data (see
        // `VmAreaDesc::set_vm_ops`); the VMA holds the file, whose data is released only after
        // its last mapping is gone, and the VMA cannot go away while our read lock is held.
        Some(unsafe { V::FileData::borrow((*(*self.as_ptr()).vm_file).private_data) })
    }

    /// Zaps (unmaps) the pages of `[address, address + size)`, which must lie inside the VMA
    /// (`EINVAL` otherwise; nothing is zapped).
    pub fn zap_range(&self, address: usize, size: usize) -> Result {
        match address.checked_add(size) {
            Some(end) if address >= self.start() && end <= self.end() => {
                self.zap_vma_range(address, size);
                Ok(())
            }
            _ => Err(EINVAL),
        }
    }

    /// Proves that the VMA is `VM_MIXEDMAP`, where pages may be inserted; `None` otherwise.
    #[inline]
    pub fn check_mixedmap(&self) -> Option<&VmAreaMixedMapRef> {
        self.as_mixedmap_vma()
            .map(VmAreaMixedMapRef::from_mixed_map)
    }
}

/// A VMA under its mmap or VMA read lock that has `VM_MIXEDMAP` set; pages may be inserted.
///
/// Only reachable through [`VmAreaRef::check_mixedmap`] (or from the in-tree [`VmaMixedMap`]),
/// so a page can only be inserted into a VMA proved mixed-map. Dereferences to [`VmaMixedMap`]
/// for `vm_insert_page`.
///
/// # Invariants
///
/// The same as [`VmaMixedMap`]: a read lock is held and `VM_MIXEDMAP` is set.
#[repr(transparent)]
pub struct VmAreaMixedMapRef {
    vma: VmaMixedMap,
}

impl Deref for VmAreaMixedMapRef {
    type Target = VmaMixedMap;

    #[inline]
    fn deref(&self) -> &VmaMixedMap {
        &self.vma
    }
}

impl VmAreaMixedMapRef {
    /// Views an in-tree [`VmaMixedMap`] as a [`VmAreaMixedMapRef`].
    #[inline]
    pub fn from_mixed_map(vma: &VmaMixedMap) -> &Self {
        // SAFETY: `Self` is `repr(transparent)` over `VmaMixedMap` and has the same invariants.
        unsafe { &*core::ptr::from_ref(vma).cast() }
    }

    /// Inserts `count` pages from `pages[first]` at `address` (`vm_insert_pages`).
    ///
    /// `EINVAL` if the slots are not all filled; `EFAULT` if the range is not in the VMA. On
    /// another error some pages may have been inserted: the core returns the error and the
    /// caller may zap the range.
    pub fn insert_pages(
        &self,
        address: usize,
        pages: &KernelPages,
        first: usize,
        count: usize,
    ) -> Result {
        if !pages.are_present(first, count) {
            return Err(EINVAL);
        }
        let mut num = count;
        // SAFETY: By the type invariants a read lock is held and `VM_MIXEDMAP` is set. The
        // `count` slots from `first` hold valid order-0 pages (checked; filled slots stay filled
        // while `pages` is borrowed); the core takes its own reference to each page it maps and
        // checks the range.
        to_result(unsafe {
            bindings::vm_insert_pages(self.as_ptr(), address, pages.as_raw(first), &mut num)
        })
    }
}
