// SPDX-License-Identifier: GPL-2.0

//! Borrows of the file's data for their whole lifetime.

use kernel::sync::ArcBorrow;

/// Turns a borrow of the file's private data into a plain reference that keeps the borrow's whole
/// lifetime `'a`.
///
/// `mmap_prepare` receives the file's data as a borrow valid for `'a`, the lifetime of the file's
/// data; dereferencing it yields a reference tied to the local variable instead. Memory handed to
/// an [`MmapAction`](crate::MmapAction) must be borrowed for `'a`, hence this trait.
///
/// # Examples
///
/// ```
/// use kernel::sync::{Arc, ArcBorrow};
/// use mmap_prepare::{IntoRef, KernelPages, MmapAction};
///
/// struct Buffer {
///     pages: KernelPages,
/// }
///
/// fn action<'a>(buf: ArcBorrow<'a, Buffer>) -> MmapAction<'a> {
///     MmapAction::map_kernel_pages(&buf.into_ref().pages, 0)
/// }
/// # let buf = Arc::new(Buffer { pages: KernelPages::alloc(1, GFP_KERNEL)? }, GFP_KERNEL)?;
/// # let _action = action(buf.as_arc_borrow());
/// # Ok::<(), Error>(())
/// ```
pub trait IntoRef<'a> {
    /// What the borrow points to.
    type Target: ?Sized + 'a;

    /// The reference, valid for `'a`.
    fn into_ref(self) -> &'a Self::Target;
}

impl<'a, T: ?Sized + 'a> IntoRef<'a> for ArcBorrow<'a, T> {
    type Target = T;

    #[inline]
    fn into_ref(self) -> &'a T {
        let ptr: *const T = &*self;
        // SAFETY: By the invariants of `ArcBorrow`, the `Arc` it borrows stays alive, and its
        // contents are not mutably borrowed, for all of 'a.
        unsafe { &*ptr }
    }
}

impl<'a, T: ?Sized + 'a> IntoRef<'a> for &'a T {
    type Target = T;

    #[inline]
    fn into_ref(self) -> &'a T {
        self
    }
}
