// SPDX-License-Identifier: GPL-2.0

//! An owned array of kernel pages, laid out as the `struct page **` the mm core reads.

use core::ptr::NonNull;
use kernel::{
    alloc::{Flags, KVec},
    bindings,
    page::{BorrowedPage, Page},
    prelude::*,
};

/// Order-0 pages owned by a driver, kept as an array of `struct page *`.
///
/// This is the form [`MmapAction::map_kernel_pages`](crate::MmapAction::map_kernel_pages) and
/// [`VmAreaMixedMapRef::insert_pages`](crate::VmAreaMixedMapRef::insert_pages) need: the core
/// reads the array itself. Mapping a page takes a reference of its own, so dropping the array
/// while the pages are mapped is safe; the pages are freed when the last user is gone.
///
/// # Examples
///
/// ```
/// use mmap_prepare::KernelPages;
///
/// let pages = KernelPages::alloc(4, GFP_KERNEL | __GFP_ZERO)?;
/// assert_eq!(pages.len(), 4);
/// assert!(pages.page(4).is_none());
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// Every entry of `pages` is a valid order-0 page this array owns one reference to.
pub struct KernelPages {
    pages: KVec<*mut bindings::page>,
}

// SAFETY: Pages have no thread affinity; the array owns them like `Page` does, and `Page` is
// `Send`.
unsafe impl Send for KernelPages {}
// SAFETY: `&KernelPages` only hands out shared borrows of pages, like `&Page`, which is `Sync`.
unsafe impl Sync for KernelPages {}

impl KernelPages {
    /// Allocates `count` pages with `flags` (add `__GFP_ZERO` for zeroed pages).
    pub fn alloc(count: usize, flags: Flags) -> Result<Self> {
        let mut pages = KVec::with_capacity(count, GFP_KERNEL)?;
        for _ in 0..count {
            let page = Page::alloc_page(flags)?;
            let ptr = page.as_ptr();
            pages.push(ptr, GFP_KERNEL)?;
            // INVARIANT: the reference `page` owned now belongs to the array; it is dropped in
            // `Drop` below. `push` cannot fail: the capacity was reserved.
            core::mem::forget(page);
        }
        Ok(Self { pages })
    }

    /// The number of pages.
    #[inline]
    pub fn len(&self) -> usize {
        self.pages.len()
    }

    /// Whether there are no pages.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.pages.is_empty()
    }

    /// Borrows page `index`, or `None` past the end.
    pub fn page(&self, index: usize) -> Option<BorrowedPage<'_>> {
        let ptr = NonNull::new(*self.pages.get(index)?)?;
        // SAFETY: By the type invariants the page is valid while `self` is, and the returned
        // borrow cannot outlive `self`.
        Some(unsafe { BorrowedPage::from_raw(ptr) })
    }

    /// The raw array, for the mm core.
    #[inline]
    pub(crate) fn as_raw(&self) -> *mut *mut bindings::page {
        self.pages.as_ptr().cast_mut()
    }
}

impl Drop for KernelPages {
    fn drop(&mut self) {
        for &page in self.pages.iter() {
            // SAFETY: By the type invariants the array owns one reference to each order-0 page.
            unsafe { bindings::__free_pages(page, 0) };
        }
    }
}
