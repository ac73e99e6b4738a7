// SPDX-License-Identifier: GPL-2.0

//! Driver-owned kernel pages, laid out as the `struct page **` the mm core reads.

use core::ptr::{null_mut, NonNull};
use kernel::{
    alloc::{Flags, KVec},
    bindings,
    error::code::EINVAL,
    page::{BorrowedPage, Page, PAGE_SIZE},
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full, Relaxed},
};

/// An array of slots, each empty or holding an order-0 page the array owns.
///
/// This is the form [`MmapAction::map_kernel_pages`](crate::MmapAction::map_kernel_pages),
/// [`VmAreaMixedMapRef::insert_pages`](crate::VmAreaMixedMapRef::insert_pages) and
/// [`VmFault::insert_pfn_from`](crate::VmFault::insert_pfn_from) need: the core reads the array
/// itself. Through a shared reference a slot can only be filled (see
/// [`KernelPages::get_or_alloc`]), never emptied, so a page reached through `&KernelPages` stays
/// valid as long as the array does; emptying a slot and writing page contents need `&mut`.
///
/// Mapping a page with `insert_pages` or `map_kernel_pages` takes a reference of its own, so such
/// pages may be freed here while still mapped; the memory is released when the last user is gone.
///
/// # Examples
///
/// ```
/// use mmap_prepare::KernelPages;
///
/// let mut pages = KernelPages::new_empty(4)?;
/// assert!(pages.page(2).is_none());
/// pages.get_or_alloc(2, GFP_KERNEL | __GFP_ZERO)?;
/// pages.write(2, 10, b"hello")?;
/// let mut out = [0u8; 5];
/// pages.read(2, 10, &mut out)?;
/// assert_eq!(&out, b"hello");
/// assert!(pages.free(2));
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// Every non-null slot holds a valid order-0 page the array owns one reference to. A non-null
/// slot is only changed (emptied) through `&mut self`.
pub struct KernelPages {
    slots: KVec<Atomic<*mut bindings::page>>,
}

// The core reads the slots as a `struct page *` array.
const _: () = assert!(
    core::mem::size_of::<Atomic<*mut bindings::page>>() == core::mem::size_of::<*mut u8>()
        && core::mem::align_of::<Atomic<*mut bindings::page>>() == core::mem::align_of::<*mut u8>()
);

// SAFETY: Pages have no thread affinity and the array owns them as `Page` does (`Send`).
unsafe impl Send for KernelPages {}
// SAFETY: Through `&KernelPages` slots are only read or filled atomically, and page contents are
// not written.
unsafe impl Sync for KernelPages {}

impl KernelPages {
    /// An array of `count` empty slots.
    pub fn new_empty(count: usize) -> Result<Self> {
        let mut slots = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            slots.push(Atomic::new(null_mut()), GFP_KERNEL)?;
        }
        Ok(Self { slots })
    }

    /// An array of `count` pages allocated with `flags` (add `__GFP_ZERO` for zeroed pages).
    pub fn alloc(count: usize, flags: Flags) -> Result<Self> {
        let pages = Self::new_empty(count)?;
        for index in 0..count {
            pages.get_or_alloc(index, flags)?;
        }
        Ok(pages)
    }

    /// The number of slots.
    #[inline]
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are no slots.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    fn slot(&self, index: usize) -> Option<*mut bindings::page> {
        let page = self.slots.get(index)?.load(Acquire);
        (!page.is_null()).then_some(page)
    }

    /// Borrows the page in slot `index`; `None` if the slot is empty or out of range.
    pub fn page(&self, index: usize) -> Option<BorrowedPage<'_>> {
        let ptr = NonNull::new(self.slot(index)?)?;
        // SAFETY: By the type invariants a filled slot stays filled, with a valid page, while
        // `self` is shared, and the borrow cannot outlive `self`.
        Some(unsafe { BorrowedPage::from_raw(ptr) })
    }

    /// The page in slot `index`, allocated with `flags` if the slot is empty. Concurrent callers
    /// get the same page. `EINVAL` if `index` is out of range.
    pub fn get_or_alloc(&self, index: usize, flags: Flags) -> Result<BorrowedPage<'_>> {
        let slot = self.slots.get(index).ok_or(EINVAL)?;
        if slot.load(Acquire).is_null() {
            let new = Page::alloc_page(flags)?;
            if slot.cmpxchg(null_mut(), new.as_ptr(), Full).is_ok() {
                // INVARIANT: The slot now owns the reference `new` had.
                core::mem::forget(new);
            }
            // Otherwise another caller filled the slot first and `new` is freed here.
        }
        self.page(index).ok_or(EINVAL)
    }

    /// Frees the page in slot `index` and empties the slot; `false` if it was empty.
    pub fn free(&mut self, index: usize) -> bool {
        let Some(slot) = self.slots.get(index) else {
            return false;
        };
        let page = slot.xchg(null_mut(), Relaxed);
        if page.is_null() {
            return false;
        }
        // SAFETY: The slot owned this reference to an order-0 page, and no borrow of it can be
        // alive: borrows need `&self`, and we have `&mut self`.
        unsafe { bindings::__free_pages(page, 0) };
        true
    }

    /// Whether slots `first .. first + count` are all in range and filled.
    pub fn are_present(&self, first: usize, count: usize) -> bool {
        match first.checked_add(count) {
            Some(end) if end <= self.len() => (first..end).all(|i| self.slot(i).is_some()),
            _ => false,
        }
    }

    /// The page in slot `index` and a check that `[offset, offset + len)` lies inside a page.
    fn page_range(&self, index: usize, offset: usize, len: usize) -> Result<BorrowedPage<'_>> {
        match offset.checked_add(len) {
            Some(end) if end <= PAGE_SIZE => self.page(index).ok_or(EINVAL),
            _ => Err(EINVAL),
        }
    }

    // The page-content methods below copy bytes through `Page`'s raw accessors and never create
    // a Rust reference to page memory. `&mut self` (or `&self` for reads, which then cannot
    // overlap a write) rules out concurrent kernel-side writers. Userspace may access a mapped
    // page at any time, as it may any user memory; that can only mix the bytes it races with.

    /// Copies `data` into slot `index` at `offset` (`EINVAL` if empty or out of the page).
    pub fn write(&mut self, index: usize, offset: usize, data: &[u8]) -> Result {
        let page = self.page_range(index, offset, data.len())?;
        // SAFETY: The range is inside the page (checked); no other kernel-side access to this
        // array's pages can run while we hold `&mut self` (see above).
        unsafe { page.write_raw(data.as_ptr(), offset, data.len()) }
    }

    /// Copies bytes of slot `index` from `offset` into `out` (`EINVAL` if empty or out of the
    /// page).
    pub fn read(&self, index: usize, offset: usize, out: &mut [u8]) -> Result {
        let page = self.page_range(index, offset, out.len())?;
        // SAFETY: The range is inside the page; writers need `&mut self`, so none runs now.
        unsafe { page.read_raw(out.as_mut_ptr(), offset, out.len()) }
    }

    /// Zeroes the page in slot `index` (`EINVAL` if empty).
    pub fn zero(&mut self, index: usize) -> Result {
        let page = self.page_range(index, 0, PAGE_SIZE)?;
        // SAFETY: As for `write`, over the whole page.
        unsafe { page.fill_zero_raw(0, PAGE_SIZE) }
    }

    /// The raw array from slot `first`, for the mm core. The caller checks `are_present`.
    #[inline]
    pub(crate) fn as_raw(&self, first: usize) -> *mut *mut bindings::page {
        self.slots
            .as_ptr()
            .cast::<*mut bindings::page>()
            .cast_mut()
            .wrapping_add(first)
    }
}

impl Drop for KernelPages {
    fn drop(&mut self) {
        for index in 0..self.len() {
            self.free(index);
        }
    }
}
