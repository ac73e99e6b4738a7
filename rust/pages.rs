// SPDX-License-Identifier: GPL-2.0

//! Driver-owned kernel pages, laid out as the `struct page **` the mm core reads, and copies into
//! and out of pages that userspace may be using at the same time.
//!
//! # Memory model
//!
//! The pages of this module are made to be mapped into userspace, writable on some paths, and a
//! mapped page can be read or written by userspace at any moment, as any user memory can. Kernel
//! copies into such a page therefore run concurrently with userspace by nature. The in-tree
//! [`Page::read_raw`]/[`Page::write_raw`] are `unsafe` because they copy with Rust's
//! `ptr::copy_nonoverlapping`, for which a concurrent access is undefined behaviour. Every copy
//! here is instead a call into C (`memcpy`, `copy_from_user` on the page's kernel address, in
//! `rust/helpers.c`), which Rust treats as opaque: no Rust reference to page memory is ever
//! created, so Rust's aliasing and data-race rules do not apply to it, and the race with
//! userspace (or with another kernel copy into the same bytes) is the one every C driver has with
//! user-mapped memory (`copy_to_user` from such pages, binder, io_uring rings): bytes may come out
//! mixed, the kernel's own state is unaffected. Hence these copies take `&self`, and a kernel-side
//! producer can keep writing into pages it shares through the file's data; if several kernel
//! writers must not interleave, the driver orders them (e.g. a producer lock).

use crate::{
    c_helpers::{
        rmp_page_copy_from_user, rmp_page_copy_page, rmp_page_read, rmp_page_wait_unlocked,
        rmp_page_write, rmp_page_zero, rmp_pin_user_pages, rmp_unpin_user_pages, rmp_user_range_ok,
    },
    user::UserContext,
};
use core::{
    mem::MaybeUninit,
    ptr::{null_mut, NonNull},
};
use kernel::ffi::c_int;
use kernel::{
    alloc::{Flags, KVVec, KVec},
    bindings,
    error::code::{EFAULT, EINVAL, ENOMEM, EOPNOTSUPP},
    page::{BorrowedPage, Page, PAGE_SIZE},
    prelude::*,
    sync::atomic::{Acquire, Atomic, Full, Relaxed},
    transmute::{AsBytes, FromBytes},
    uaccess::{UserPtr, UserSliceReader},
};

/// The bounce buffer of [`PageCopy::copy_from_user_slice`], on the stack.
const BOUNCE: usize = 256;

/// Checks that `[offset, offset + len)` lies inside a page.
#[inline]
fn in_page(offset: usize, len: usize) -> Result {
    match offset.checked_add(len) {
        Some(end) if end <= PAGE_SIZE => Ok(()),
        _ => Err(EINVAL),
    }
}

mod sealed {
    use kernel::page::Page;

    /// A page of the crate's own ([`MappablePage`](super::MappablePage),
    /// [`KernelPage`](super::KernelPage)), which Rust only ever reaches through C copies.
    pub trait OwnPage {
        fn own_page(&self) -> &Page;
    }
}

/// Copies into and out of a page that userspace (or other kernel code) may access concurrently;
/// see the [module documentation](self) for why these are safe and take `&self`.
///
/// Implemented for the crate's own pages only ([`MappablePage`], [`KernelPage`]), and sealed: not
/// for any [`Page`], as a `&Page` may be a page of memory Rust code uses as typed values (a
/// `VBox`'s, from `page_iter()`), and writing bytes into it would be undefined behaviour in safe
/// code.
///
/// Every method checks that the byte range lies inside the page (`EINVAL` otherwise, with
/// nothing copied).
pub trait PageCopy: sealed::OwnPage {
    /// Copies `data` into the page at `offset`.
    fn write_bytes(&self, offset: usize, data: &[u8]) -> Result {
        in_page(offset, data.len())?;
        // SAFETY: The page is valid (`Page` invariants) and the range is inside it (checked);
        // `data` is valid for reading `data.len()` bytes. The page is one of the crate's own
        // (`OwnPage`), which no Rust reference covers, and the copy is C's (see the module
        // documentation for concurrent access).
        unsafe { rmp_page_write(self.own_page().as_ptr(), offset, data.as_ptr(), data.len()) };
        Ok(())
    }

    /// Copies bytes of the page from `offset` into `out`.
    fn read_bytes(&self, offset: usize, out: &mut [u8]) -> Result {
        in_page(offset, out.len())?;
        // SAFETY: As for `write_bytes`; `out` is valid for writing and not aliased.
        unsafe {
            rmp_page_read(
                self.own_page().as_ptr(),
                offset,
                out.as_mut_ptr(),
                out.len(),
            )
        };
        Ok(())
    }

    /// Zeroes `len` bytes of the page from `offset`.
    fn zero_bytes(&self, offset: usize, len: usize) -> Result {
        in_page(offset, len)?;
        // SAFETY: As for `write_bytes`.
        unsafe { rmp_page_zero(self.own_page().as_ptr(), offset, len) };
        Ok(())
    }

    /// Copies `len` bytes from the calling task's address `src` into the page at `offset`.
    /// `EFAULT` if any byte could not be read: a range outside user memory (`access_ok()`) is
    /// refused with nothing written; after a fault during the copy (an unmapped source page, a
    /// fail-nth injection) the range holds a prefix of the data, then zeros (`copy_from_user()`
    /// clears what it did not copy). The copy may fault the source in, which takes a lock of
    /// the task's address space: hence `user` (see [`UserContext`]).
    fn copy_from_user(
        &self,
        user: &UserContext,
        offset: usize,
        src: UserPtr,
        len: usize,
    ) -> Result {
        let _ = user;
        in_page(offset, len)?;
        let page = self.own_page().as_ptr();
        // SAFETY: As for `write_bytes`; `copy_from_user` checks the user range itself
        // (`access_ok`) and handles faults, which `user` proves may take the task's mm locks.
        let left = unsafe { rmp_page_copy_from_user(page, offset, src.as_const_ptr(), len) };
        if left != 0 {
            return Err(EFAULT);
        }
        Ok(())
    }

    /// Copies `len` bytes from `reader` into the page at `offset`, advancing the reader.
    /// `EFAULT` if the reader has fewer than `len` bytes left (nothing is read) or a user byte
    /// could not be read (the page may then hold part of the data).
    ///
    /// The copy may fault on the calling task's memory, as [`PageCopy::copy_from_user`] does,
    /// hence `user` (see [`UserContext`]): it keeps the copy out of every callback and out of
    /// the closure of [`OwnVmArea::lookup`](crate::OwnVmArea::lookup) and
    /// [`OwnVmArea::try_lookup`](crate::OwnVmArea::try_lookup), whose lock the fault would take
    /// again. (The in-tree `UserSliceReader::read_raw` needs no token; the crate cannot take it
    /// away.) The bytes pass through a small buffer on the stack, so that no Rust reference to
    /// the page is ever made (the in-tree `Page::copy_from_user_slice_raw` makes one, hence is
    /// `unsafe`); [`PageArray::copy_from_user_slice_at`] uses a page-sized one for long copies.
    fn copy_from_user_slice(
        &self,
        user: &UserContext,
        offset: usize,
        reader: &mut UserSliceReader,
        len: usize,
    ) -> Result {
        let _ = user;
        in_page(offset, len)?;
        if reader.len() < len {
            return Err(EFAULT);
        }
        let mut buf = [MaybeUninit::<u8>::uninit(); BOUNCE];
        copy_through(self, offset, reader, len, &mut buf)
    }

    /// Copies `len` bytes of `src` from `src_offset` into this page at `offset`.
    fn copy_from_page(
        &self,
        offset: usize,
        src: &MappablePage<'_>,
        src_offset: usize,
        len: usize,
    ) -> Result {
        in_page(offset, len)?;
        in_page(src_offset, len)?;
        let (dst, src) = (self.own_page().as_ptr(), src.as_ptr());
        // SAFETY: Both pages are valid, both of the crate's own, and both ranges inside them
        // (checked); the C helper copies with `memmove`, so `src == self` with overlapping
        // ranges is defined too (the caller gets mixed bytes at worst, as documented).
        unsafe { rmp_page_copy_page(dst, offset, src, src_offset, len) };
        Ok(())
    }
}

/// Byte offsets across a sequence of the crate's pages (page `offset / PAGE_SIZE`, byte
/// `offset % PAGE_SIZE`): byte and typed copies that may cross page boundaries, made of
/// [`PageCopy`]'s per-page copies (so the same memory model applies).
///
/// A driver implements [`PageArray::page_count`] and [`PageArray::page_at`] for its own page
/// table (e.g. an array whose slots a shrinker may empty, wrapped in a view whose pages the
/// driver keeps in use while the view lives); [`KernelPages`] implements it.
///
/// Every copy first checks that the whole byte range lies inside the array and that each page
/// it touches is present (`EFAULT` otherwise, with nothing copied), so bad input never leaves
/// a partial write. Only a copy from user memory can still fail half way, when a user byte
/// cannot be read.
pub trait PageArray {
    /// The number of pages.
    fn page_count(&self) -> usize;

    /// The page at `index`; `None` if it is absent (or `index` out of range).
    fn page_at(&self, index: usize) -> Option<MappablePage<'_>>;

    /// Copies the bytes of `value` to `offset`.
    fn write_at<T: AsBytes + ?Sized>(&self, offset: usize, value: &T) -> Result {
        let bytes = value.as_bytes();
        for_each_chunk(self, offset, bytes.len(), |page, at, done, len| {
            page.write_bytes(at, &bytes[done..done + len])
        })
    }

    /// Reads a `T` from `offset`.
    fn read_at<T: FromBytes>(&self, offset: usize) -> Result<T> {
        let mut out = core::mem::MaybeUninit::<T>::zeroed();
        let size = core::mem::size_of::<T>();
        // SAFETY: `out` is valid for `size` bytes and zeroed, so they are initialised `u8`s;
        // the slice is the only access to `out` until it ends.
        let bytes = unsafe { core::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<u8>(), size) };
        for_each_chunk(self, offset, size, |page, at, done, len| {
            page.read_bytes(at, &mut bytes[done..done + len])
        })?;
        // SAFETY: Every byte of `out` is initialised (zeroed, then copied into), and any bytes
        // are a valid `T` (`FromBytes`).
        Ok(unsafe { out.assume_init() })
    }

    /// Zeroes `len` bytes from `offset`.
    fn zero_at(&self, offset: usize, len: usize) -> Result {
        for_each_chunk(self, offset, len, |page, at, _, len| {
            page.zero_bytes(at, len)
        })
    }

    /// Copies `len` bytes from the calling task's address `src` to `offset`, a C
    /// `copy_from_user()` straight into each page (see [`PageCopy::copy_from_user`]). `EFAULT`
    /// if a user byte could not be read: a source range outside user memory (`access_ok()`) is
    /// refused first, with nothing written, as are a range outside the array and an absent page;
    /// after a fault during the copy, the page pieces before the failing one hold their data,
    /// the failing piece a prefix of its data then zeros (`copy_from_user()` clears what it did
    /// not copy), and the pieces after it are untouched.
    ///
    /// The fast way for long copies: [`PageArray::copy_from_user_slice_at`] has to pass the
    /// bytes through a buffer, because the in-tree `UserSliceReader` does not tell its address.
    /// A driver that reads a structure through a `UserSliceReader` and copies the rest of it can
    /// compute the address of the rest: the reader's start plus what it has consumed (its
    /// length at creation minus [`UserSliceReader::len`]), then `skip()` the reader.
    fn copy_from_user_at(
        &self,
        user: &UserContext,
        offset: usize,
        src: UserPtr,
        len: usize,
    ) -> Result {
        // SAFETY: `access_ok()` only compares the range with the task's user address limit.
        if len != 0 && !unsafe { rmp_user_range_ok(src.as_const_ptr(), len) } {
            return Err(EFAULT);
        }
        for_each_chunk(self, offset, len, |page, at, done, len| {
            page.copy_from_user(user, at, src.wrapping_byte_add(done), len)
        })
    }

    /// Copies `len` bytes from `reader` to `offset` (see [`PageCopy::copy_from_user_slice`]).
    /// `EFAULT` if the reader has fewer than `len` bytes left (nothing is read), or a user byte
    /// could not be read (the bytes before it are copied). A copy longer than the stack buffer
    /// goes through a buffer of up to a page, allocated first (`ENOMEM`: nothing is read): a
    /// call per page rather than per 256 bytes (a 1 MiB Binder transaction took twice as long
    /// as the unmodified driver's through the small buffer).
    fn copy_from_user_slice_at(
        &self,
        user: &UserContext,
        offset: usize,
        reader: &mut UserSliceReader,
        len: usize,
    ) -> Result {
        let _ = user;
        if reader.len() < len {
            return Err(EFAULT);
        }
        let mut small = [MaybeUninit::<u8>::uninit(); BOUNCE];
        let mut large = KVec::new();
        let buf: &mut [MaybeUninit<u8>] = if len <= BOUNCE {
            &mut small
        } else {
            large.reserve(len.min(PAGE_SIZE), GFP_KERNEL)?;
            large.spare_capacity_mut()
        };
        for_each_chunk(self, offset, len, |page, at, _, len| {
            in_page(at, len)?;
            copy_through(page, at, reader, len, buf)
        })
    }
}

/// Calls `f(page, offset in the page, bytes done, length)` for each page piece of
/// `[offset, offset + len)`, after checking that the range is inside `pages` and that every
/// page it touches is present (`EFAULT`).
fn for_each_chunk<A: PageArray + ?Sized>(
    pages: &A,
    offset: usize,
    len: usize,
    mut f: impl FnMut(&MappablePage<'_>, usize, usize, usize) -> Result,
) -> Result {
    if len == 0 {
        return Ok(());
    }
    let end = offset.checked_add(len).ok_or(EFAULT)?;
    let (first, last) = (offset / PAGE_SIZE, (end - 1) / PAGE_SIZE);
    if last >= pages.page_count() || (first..=last).any(|index| pages.page_at(index).is_none()) {
        return Err(EFAULT);
    }
    let mut done = 0;
    while done < len {
        let at = offset + done;
        let in_page = at % PAGE_SIZE;
        let chunk = (PAGE_SIZE - in_page).min(len - done);
        // A page may have gone since the check only where the implementation lets it; then the
        // copy stops here.
        let page = pages.page_at(at / PAGE_SIZE).ok_or(EFAULT)?;
        f(&page, in_page, done, chunk)?;
        done += chunk;
    }
    Ok(())
}

impl PageArray for KernelPages {
    fn page_count(&self) -> usize {
        self.len()
    }

    fn page_at(&self, index: usize) -> Option<MappablePage<'_>> {
        self.page(index)
    }
}

/// Copies `len` bytes from `reader` into `page` at `offset` (checked by the caller), through
/// `buf`, as many of its bytes at a time as fit.
fn copy_through<P: PageCopy + ?Sized>(
    page: &P,
    offset: usize,
    reader: &mut UserSliceReader,
    len: usize,
    buf: &mut [MaybeUninit<u8>],
) -> Result {
    let mut done = 0;
    while done < len {
        let chunk = (len - done).min(buf.len());
        reader.read_raw(&mut buf[..chunk])?;
        // SAFETY: `read_raw` succeeded, so it initialised the first `chunk` bytes of `buf`.
        let bytes = unsafe { core::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), chunk) };
        page.write_bytes(offset + done, bytes)?;
        done += chunk;
    }
    Ok(())
}

impl sealed::OwnPage for MappablePage<'_> {
    fn own_page(&self) -> &Page {
        self
    }
}

impl PageCopy for MappablePage<'_> {}

impl sealed::OwnPage for KernelPage {
    fn own_page(&self) -> &Page {
        self
    }
}

impl PageCopy for KernelPage {}

/// A page of a [`KernelPages`] slot or a [`KernelPage`], borrowed: the only kind of page the
/// crate maps into userspace ([`VmFault::set_page`](crate::VmFault::set_page),
/// [`VmAreaMixedMapRef::insert_page`](crate::VmAreaMixedMapRef::insert_page)).
///
/// Any other `&Page` could be a page of memory Rust code uses (e.g. a vmalloc allocation's
/// pages, from `VVec::page_iter()`), which userspace must never read or write; the pages of
/// [`KernelPages`] and [`KernelPage`] are only ever accessed by Rust through the C copies of
/// [`PageCopy`]. Dereferences to [`Page`] for the in-tree API.
pub struct MappablePage<'a> {
    page: BorrowedPage<'a>,
}

impl<'a> MappablePage<'a> {
    /// # Safety
    ///
    /// `ptr` is a valid order-0 page of a `KernelPages` slot or a `KernelPage`, alive for `'a`.
    unsafe fn from_raw(ptr: NonNull<bindings::page>) -> Self {
        // SAFETY: Guaranteed by the caller.
        let page = unsafe { BorrowedPage::from_raw(ptr) };
        Self { page }
    }
}

impl core::ops::Deref for MappablePage<'_> {
    type Target = Page;

    fn deref(&self) -> &Page {
        &self.page
    }
}

/// An order-0 page taken out of (or made for) a [`KernelPages`]; freed (one reference dropped)
/// when dropped. Implements [`PageCopy`], and dereferences to [`Page`] for the in-tree API.
///
/// Dropping it may sleep: it first takes the page's lock, which a fault holds while it maps the
/// page ([`VmFault::set_page`](crate::VmFault::set_page)), so that the page is never freed
/// under such a fault. (Dropping a [`KernelPages`] may sleep anyway: its array is a `KVVec`.)
///
/// # Invariants
///
/// `ptr` is a valid order-0 page this value owns one reference to, and `page` is a view of it
/// whose `'static` is never exposed: [`Deref`](core::ops::Deref) ties it to a borrow of `self`.
pub struct KernelPage {
    ptr: NonNull<bindings::page>,
    page: BorrowedPage<'static>,
}

impl KernelPage {
    /// Allocates a zeroed page with `flags` (`__GFP_ZERO` is always added: the page may be
    /// mapped to userspace, which must never see what the allocator's last user left in it).
    pub fn alloc(flags: Flags) -> Result<Self> {
        let page = Page::alloc_page(flags | __GFP_ZERO)?;
        Ok(Self::from_zeroed(page))
    }

    /// Takes over `page`, which is zeroed.
    fn from_zeroed(page: Page) -> Self {
        let raw = page.as_ptr();
        // The reference `page` owned is taken over below.
        core::mem::forget(page);
        match NonNull::new(raw) {
            // SAFETY: `page` owned this reference to a valid order-0 page (`Page` invariants).
            Some(ptr) => unsafe { Self::from_raw(ptr) },
            // A `Page` is never NULL.
            None => unreachable!(),
        }
    }

    /// The page, to map into userspace.
    pub fn mappable(&self) -> MappablePage<'_> {
        // SAFETY: A `KernelPage`'s page, alive while `self` is borrowed.
        unsafe { MappablePage::from_raw(self.ptr) }
    }

    /// Gives up ownership: the caller now owns the reference.
    fn into_raw(self) -> NonNull<bindings::page> {
        let ptr = self.ptr;
        core::mem::forget(self);
        ptr
    }

    /// # Safety
    ///
    /// `ptr` is a valid order-0 page whose reference the caller hands over.
    unsafe fn from_raw(ptr: NonNull<bindings::page>) -> Self {
        // SAFETY: The page stays valid as long as this value owns its reference, and the view is
        // only handed out tied to `&self`.
        let page = unsafe { BorrowedPage::from_raw(ptr) };
        // INVARIANT: The caller hands the reference over.
        Self { ptr, page }
    }
}

// SAFETY: A page reference may be used and dropped from any thread (as `Page` is `Send`).
unsafe impl Send for KernelPage {}
// SAFETY: `&KernelPage` only reads the pointer; page contents are copied by C (see the module
// documentation), as `Page` is `Sync`.
unsafe impl Sync for KernelPage {}

/// Zeroes the page: it may be mapped to userspace, which must never see what the allocator's
/// last user left in it (write into it afterwards with [`PageCopy`]).
impl From<Page> for KernelPage {
    fn from(page: Page) -> Self {
        let page = Self::from_zeroed(page);
        // Not zeroed yet, but the crate's own page from here on: only C copies reach it.
        let _ = page.zero_bytes(0, PAGE_SIZE);
        page
    }
}

impl core::ops::Deref for KernelPage {
    type Target = Page;

    fn deref(&self) -> &Page {
        &self.page
    }
}

/// May sleep: see [`KernelPage`].
impl Drop for KernelPage {
    fn drop(&mut self) {
        // A fault may be mapping the page right now: `set_page` hands it to the core, which locks
        // it after the handler returned, maps it (the entry takes over the fault's reference) and
        // unlocks it (`__do_fault()`, `finish_fault()`, `do_read_fault()`), none of it under the
        // driver's locks. A zap in that window drops the entry's reference; freeing ours then
        // would free a locked page the fault is about to unlock ("Bad page state"). Taking the
        // page lock first waits for such a fault, as truncation does for page cache pages
        // (`truncate_inode_pages_range()`).
        // SAFETY: By the type invariants we own a reference to a valid page, dropped once, after
        // waiting for its lock.
        unsafe {
            rmp_page_wait_unlocked(self.ptr.as_ptr());
            bindings::__free_pages(self.ptr.as_ptr(), 0);
        }
    }
}

/// An array of slots, each empty or holding an order-0 page the array owns.
///
/// This is the form [`MmapAction::map_kernel_pages`](crate::MmapAction::map_kernel_pages),
/// [`VmAreaMixedMapRef::insert_pages`](crate::VmAreaMixedMapRef::insert_pages) and
/// [`VmFault::insert_pfn_from`](crate::VmFault::insert_pfn_from) need: the core reads the array
/// itself. Through a shared reference a slot can only be filled (see
/// [`KernelPages::get_or_alloc`]), never emptied, so a page reached through `&KernelPages` stays
/// valid as long as the array does; emptying or replacing a slot needs `&mut`. Page contents are
/// read and written through `&self` (see the [module documentation](self)).
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
/// assert_eq!(pages.write(2, 0, b"gone"), Err(EINVAL));
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// - Every non-null slot holds a valid order-0 page the array owns one reference to. A non-null
///   slot is only changed (emptied or replaced) through `&mut self`.
/// - Every filled slot has an index below `high`.
pub struct KernelPages {
    slots: KVVec<Atomic<*mut bindings::page>>,
    high: Atomic<usize>,
}

// The core reads the slots as a `struct page *` array.
const _: () = assert!(
    core::mem::size_of::<Atomic<*mut bindings::page>>() == core::mem::size_of::<*mut u8>()
        && core::mem::align_of::<Atomic<*mut bindings::page>>() == core::mem::align_of::<*mut u8>()
);

// SAFETY: Pages have no thread affinity and the array owns them as `Page` does (`Send`).
unsafe impl Send for KernelPages {}
// SAFETY: Through `&KernelPages` slots are only read or filled atomically; page contents are
// copied by C (see the module documentation).
unsafe impl Sync for KernelPages {}

impl KernelPages {
    /// An array of `count` empty slots (one zeroed allocation).
    #[inline]
    pub fn new_empty(count: usize) -> Result<Self> {
        let mut slots = KVVec::with_capacity(count, GFP_KERNEL | __GFP_ZERO)?;
        // SAFETY: The capacity is at least `count` and `__GFP_ZERO` zeroed the allocation; an
        // all-zero `Atomic<*mut page>` is a valid null pointer.
        unsafe { slots.inc_len(count) };
        // INVARIANT: Every slot is empty.
        Ok(Self {
            slots,
            high: Atomic::new(0),
        })
    }

    /// An array of `count` zeroed pages allocated with `flags` (see [`KernelPage::alloc`]).
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

    #[inline]
    fn slot(&self, index: usize) -> Option<*mut bindings::page> {
        let page = self.slots.get(index)?.load(Acquire);
        (!page.is_null()).then_some(page)
    }

    /// Raises `high` to cover `index`.
    fn cover(&self, index: usize) {
        let mut high = self.high.load(Relaxed);
        while high <= index {
            match self.high.cmpxchg(high, index + 1, Relaxed) {
                Ok(_) => break,
                Err(now) => high = now,
            }
        }
    }

    /// Borrows the page in slot `index`; `None` if the slot is empty or out of range.
    #[inline]
    pub fn page(&self, index: usize) -> Option<MappablePage<'_>> {
        let ptr = NonNull::new(self.slot(index)?)?;
        // SAFETY: By the type invariants a filled slot stays filled, with a valid page of this
        // array, while `self` is shared, and the borrow cannot outlive `self`.
        Some(unsafe { MappablePage::from_raw(ptr) })
    }

    /// The page in slot `index`, allocated (zeroed, see [`KernelPage::alloc`]) with `flags` if
    /// the slot is empty. Concurrent callers get the same page. `EINVAL` if `index` is out of
    /// range.
    pub fn get_or_alloc(&self, index: usize, flags: Flags) -> Result<MappablePage<'_>> {
        let slot = self.slots.get(index).ok_or(EINVAL)?;
        if slot.load(Acquire).is_null() {
            let new = KernelPage::alloc(flags)?.into_raw();
            // Covered before the page becomes visible, so that `drop` cannot miss it.
            self.cover(index);
            if slot.cmpxchg(null_mut(), new.as_ptr(), Full).is_err() {
                // Another caller filled the slot first.
                // SAFETY: `new` is the reference `into_raw` gave us; nobody else has seen it.
                drop(unsafe { KernelPage::from_raw(new) });
            }
            // INVARIANT: Otherwise the slot now owns the reference.
        }
        self.page(index).ok_or(EINVAL)
    }

    /// Puts `page` into slot `index` and returns the page it held, if any. `EINVAL` (and `page`
    /// is freed) if `index` is out of range.
    pub fn replace(
        &mut self,
        index: usize,
        page: impl Into<KernelPage>,
    ) -> Result<Option<KernelPage>> {
        let page = page.into();
        let slot = self.slots.get(index).ok_or(EINVAL)?;
        self.cover(index);
        // INVARIANT: The slot now owns the reference `page` had.
        let old = slot.xchg(page.into_raw().as_ptr(), Relaxed);
        // SAFETY: The slot owned this reference to an order-0 page, and no borrow of it can be
        // alive: borrows need `&self`, and we have `&mut self`.
        Ok(NonNull::new(old).map(|old| unsafe { KernelPage::from_raw(old) }))
    }

    /// Takes the page out of slot `index`, leaving it empty; `None` if it was empty or out of
    /// range.
    pub fn take(&mut self, index: usize) -> Option<KernelPage> {
        let old = self.slots.get(index)?.xchg(null_mut(), Relaxed);
        // SAFETY: As for `replace`.
        NonNull::new(old).map(|old| unsafe { KernelPage::from_raw(old) })
    }

    /// Frees the page in slot `index` and empties the slot; `false` if it was empty.
    pub fn free(&mut self, index: usize) -> bool {
        self.take(index).is_some()
    }

    /// The filled slots and their pages, in index order.
    pub fn iter_filled(&self) -> impl Iterator<Item = (usize, MappablePage<'_>)> {
        (0..self.high.load(Relaxed).min(self.len())).filter_map(|i| Some((i, self.page(i)?)))
    }

    /// Whether slots `first .. first + count` are all in range and filled.
    #[inline]
    pub fn are_present(&self, first: usize, count: usize) -> bool {
        match first.checked_add(count) {
            Some(end) if end <= self.len() => (first..end).all(|i| self.slot(i).is_some()),
            _ => false,
        }
    }

    /// The page in slot `index` (`EINVAL` if empty).
    fn filled(&self, index: usize) -> Result<MappablePage<'_>> {
        self.page(index).ok_or(EINVAL)
    }

    /// Copies `data` into slot `index` at `offset` (`EINVAL` if empty or out of the page).
    pub fn write(&self, index: usize, offset: usize, data: &[u8]) -> Result {
        self.filled(index)?.write_bytes(offset, data)
    }

    /// Copies bytes of slot `index` from `offset` into `out` (`EINVAL` if empty or out of the
    /// page).
    pub fn read(&self, index: usize, offset: usize, out: &mut [u8]) -> Result {
        self.filled(index)?.read_bytes(offset, out)
    }

    /// Zeroes the page in slot `index` (`EINVAL` if empty).
    pub fn zero(&self, index: usize) -> Result {
        self.filled(index)?.zero_bytes(0, PAGE_SIZE)
    }

    /// Copies `len` bytes from the calling task's address `src` into slot `index` at `offset`
    /// (`EINVAL` if empty or out of the page, `EFAULT` if the user range cannot be read); see
    /// [`PageCopy::copy_from_user`].
    pub fn copy_from_user(
        &self,
        user: &UserContext,
        index: usize,
        offset: usize,
        src: UserPtr,
        len: usize,
    ) -> Result {
        self.filled(index)?.copy_from_user(user, offset, src, len)
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
        // Slots at or above `high` were never filled (type invariants).
        for index in 0..self.high.load(Relaxed).min(self.len()) {
            self.free(index);
        }
    }
}

/// A range of the calling task's memory, pinned for reading (`pin_user_pages_fast()`): copies
/// out of it cannot fault, so a driver can check that a whole user buffer is readable before it
/// changes anything, then copy in place (see `samples/rust_binder_pages.rs`). Unpinned on drop.
///
/// Pinning refuses what `get_user_pages` refuses (`VM_IO`/`VM_PFNMAP` mappings, `memfd_secret`
/// areas): `EFAULT`, as for a bad pointer. The pin is long-term (`FOLL_LONGTERM`), as a driver
/// may keep the value past its call: pages in `ZONE_MOVABLE` or CMA are migrated out first
/// (`ENOMEM` if that fails), and fs-dax memory is refused (`EOPNOTSUPP`). Nothing charges it to
/// `RLIMIT_MEMLOCK`: a driver that keeps pins bounds them itself. The copies are C's, like
/// [`PageCopy`]'s: userspace may change the source meanwhile and the copy then holds mixed
/// bytes.
///
/// # Invariants
///
/// The first `count` pointers of `pages` (inline, or in `heap` when it is not empty) are pages
/// pinned (`FOLL_PIN`) by this value, consecutive pages of the user range starting `offset` bytes
/// into the first; `len` bytes from there are covered.
pub struct PinnedUserBuffer {
    /// Room for messages of up to [`PinnedUserBuffer::INLINE`] pages without an allocation.
    inline: [*mut bindings::page; PinnedUserBuffer::INLINE],
    /// The array for longer messages (`None`: no allocation to free).
    heap: Option<KVec<*mut bindings::page>>,
    count: usize,
    offset: usize,
    len: usize,
}

// SAFETY: Pinned pages may be read and unpinned from any thread.
unsafe impl Send for PinnedUserBuffer {}
// SAFETY: `&PinnedUserBuffer` only reads the pages, through C copies.
unsafe impl Sync for PinnedUserBuffer {}

impl PinnedUserBuffer {
    /// Pages pinned without allocating an array for them: small enough that the value stays
    /// a few words, cheap to move (16 KiB of 4 KiB pages).
    pub const INLINE: usize = 4;

    /// Pins the `len` bytes at `src` of the calling task's memory; `EFAULT` unless every page of
    /// the range can be pinned (nothing stays pinned then). Pinning a page that is not present
    /// takes the task's mmap lock: hence `user` (see [`UserContext`]).
    #[inline]
    pub fn pin(user: &UserContext, src: UserPtr, len: usize) -> Result<Self> {
        let _ = user;
        let start = src.as_const_ptr() as usize;
        let offset = start % PAGE_SIZE;
        let count = if len == 0 {
            0
        } else {
            offset.checked_add(len).ok_or(EFAULT)?.div_ceil(PAGE_SIZE)
        };
        let nr = c_int::try_from(count).map_err(|_| EFAULT)?;
        let heap = if count > Self::INLINE {
            Some(KVec::with_capacity(count, GFP_KERNEL)?)
        } else {
            None
        };
        let mut pinned = Self {
            inline: [null_mut(); Self::INLINE],
            heap,
            count: 0,
            offset,
            len,
        };
        let array = match pinned.heap.as_mut() {
            Some(heap) => heap.as_mut_ptr(),
            None => pinned.inline.as_mut_ptr(),
        };
        // SAFETY: `array` has room for `count` pointers; the function pins pages of the current
        // task's address space and writes one pointer per pinned page; `user` proves that its
        // slow path may take the task's mmap lock.
        let got = unsafe { rmp_pin_user_pages(start - offset, nr, array) };
        // INVARIANT: The function pinned `got <= count` pages; if that is not all, `drop` unpins
        // them.
        pinned.count = usize::try_from(got).unwrap_or(0).min(count);
        if pinned.count != count {
            // Two refusals of a long-term pin are not a bad pointer: a page that had to move
            // out of `ZONE_MOVABLE` or CMA first and could not (`ENOMEM`), memory that cannot
            // be pinned long-term (fs-dax, `EOPNOTSUPP`).
            let err = if got < 0 {
                Error::from_errno(got)
            } else {
                EFAULT
            };
            return Err(if err == ENOMEM || err == EOPNOTSUPP {
                err
            } else {
                EFAULT
            });
        }
        Ok(pinned)
    }

    /// The pinned pages.
    #[inline]
    fn pages(&self) -> &[*mut bindings::page] {
        match self.heap.as_ref() {
            // SAFETY: `heap` has capacity for `count` pointers, all written by the pinning (type
            // invariants); `heap.len()` is left at 0 so that dropping it frees only the array.
            Some(heap) => unsafe { core::slice::from_raw_parts(heap.as_ptr(), self.count) },
            None => &self.inline[..self.count],
        }
    }

    /// The length of the range in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Copies `len` bytes of the range from `from` into `dst` at `dst_offset` (`EINVAL` if either
    /// range is out of bounds, with nothing copied). Only into a page of the crate's own: see
    /// [`PageCopy`].
    #[inline]
    pub fn copy_to_page(
        &self,
        from: usize,
        dst: &MappablePage<'_>,
        dst_offset: usize,
        len: usize,
    ) -> Result {
        match from.checked_add(len) {
            Some(end) if end <= self.len => in_page(dst_offset, len)?,
            _ => return Err(EINVAL),
        }
        let pages = self.pages();
        let (mut at, mut to, mut left) = (self.offset + from, dst_offset, len);
        while left > 0 {
            let (index, in_src) = (at / PAGE_SIZE, at % PAGE_SIZE);
            let chunk = left.min(PAGE_SIZE - in_src);
            // SAFETY: `index` is a pinned page of the range (`at` < offset + len, checked), both
            // ranges lie inside their pages; `dst` is one of the crate's own pages, which no Rust
            // reference covers, and the copy is C's (see the module documentation).
            unsafe { rmp_page_copy_page(dst.as_ptr(), to, pages[index], in_src, chunk) };
            at += chunk;
            to += chunk;
            left -= chunk;
        }
        Ok(())
    }
}

impl Drop for PinnedUserBuffer {
    #[inline]
    fn drop(&mut self) {
        let count = self.count;
        let pages = self.pages().as_ptr().cast_mut();
        // SAFETY: By the type invariants these `count` pages were pinned by this value; they are
        // unpinned once. `heap` then frees its array (its length is 0: nothing else to drop).
        unsafe { rmp_unpin_user_pages(pages, count) };
    }
}
