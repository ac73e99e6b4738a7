// SPDX-License-Identifier: GPL-2.0

//! VMA operations (`struct vm_operations_struct`) for mappings set up by `mmap_prepare`.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h).
//!
//! # Who owns the private data
//!
//! `mmap_prepare` hands nothing over: the range may merge with a neighbour or fail, and then
//! nobody would release it. When the mapping becomes a new VMA, the core calls `mapped`, which
//! borrows the open file's data and returns the [`VmOperations::Data`] the VMA will own (in
//! `vm_private_data`). Every copy of the VMA (split, fork, `mremap`) gets its own owner through
//! [`VmaData::duplicate`] in `open`, and `close` releases it. A VMA whose `mapped` never ran
//! successfully has no data, and `close` then releases nothing.

use crate::{
    borrow::IntoRef,
    c_helpers::{rmp_get_page, rmp_page_to_pfn, rmp_put_page},
    flags::{VmaFlag, VmaFlags},
    log::driver_warn,
    pages::{KernelPages, MappablePage},
    vma::{OwnVmArea, VmAreaRef},
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    error::VTABLE_DEFAULT_ERROR,
    fs::File,
    mm::Mm,
    prelude::*,
    sync::{Arc, ArcBorrow},
    types::{ForeignOwnable, Opaque},
};

/// Data a VMA owns: one owner per VMA, duplicated when the VMA is copied.
pub trait VmaData: ForeignOwnable + Send + Sync {
    /// A new owner of the same data, for a copy of the VMA (split, fork, `mremap`). Cannot fail:
    /// the core gives `open` no way to.
    fn duplicate(this: Self::Borrowed<'_>) -> Self;
}

impl VmaData for () {
    fn duplicate(_this: ()) -> Self {}
}

impl<T: Send + Sync + 'static> VmaData for Arc<T> {
    fn duplicate(this: ArcBorrow<'_, T>) -> Self {
        this.into()
    }
}

/// Borrows VMA data from `vm_private_data`; `None` if NULL.
///
/// # Safety
///
/// `ptr` is NULL or came from `D::into_foreign` and is not released during `'a`.
pub(crate) unsafe fn borrow_data<'a, D: ForeignOwnable>(
    ptr: *mut c_void,
) -> Option<D::Borrowed<'a>> {
    // SAFETY: Guaranteed by the caller.
    (!ptr.is_null()).then(|| unsafe { D::borrow(ptr) })
}

/// The new VMA, as `mapped` sees it: no `vm_area_struct` is passed to that callback.
pub struct MappedArea<'a> {
    /// Start address (inclusive).
    pub start: usize,
    /// End address (exclusive).
    pub end: usize,
    /// Offset in the file, in pages.
    pub pgoff: usize,
    /// The file mapped.
    pub file: &'a File,
    /// The VMA's address space: `current->mm`, compared, never dereferenced.
    mm: *const bindings::mm_struct,
}

impl MappedArea<'_> {
    /// Whether the new VMA is in the address space `mm`: e.g. the one a driver recorded when
    /// the file was opened, and into which it will later insert pages.
    ///
    /// `mapped` runs in the task that maps, for a VMA of its own address space: the core calls
    /// it from `mmap_region()` or a stacking `->mmap` through `compat_vma_mmap()`, both on
    /// `current->mm` (whose mmap write lock is held; `mmap_action_finish()` unmaps the VMA again
    /// from `current->mm` when `mapped` fails). Only the identity is offered, not the address
    /// space: any use that locks it would deadlock against that write lock.
    #[inline]
    pub fn is_in_mm(&self, mm: &Mm) -> bool {
        core::ptr::eq(self.mm, mm.as_raw())
    }
}

/// The new copy of a VMA, as `open` sees it: plain values, no reference to the VMA.
///
/// The core calls `open` before it fills the copy's page tables: `dup_mmap()` copies the parent's
/// entries into a fork child's VMA after `open` (`copy_page_range()`), and `copy_vma()` opens
/// the destination of an `mremap()` move before `move_page_tables()` moves the entries into it;
/// after a split the copy shares the original's page tables. An entry inserted into the copy in
/// `open` would be overwritten by the moved or copied ones (leaking its page reference and
/// mapcount, and corrupting the rss counters), so nothing that reaches the VMA, its page tables
/// or its address space is offered.
#[derive(Copy, Clone, Debug)]
pub struct OpeningArea {
    /// Start address (inclusive).
    pub start: usize,
    /// End address (exclusive).
    pub end: usize,
    /// Offset in the file, in pages.
    pub pgoff: usize,
    /// The VMA's flags.
    pub flags: VmaFlags,
}

/// The VMA being closed, as `close` sees it: plain values, no reference to the VMA.
///
/// `close` runs on a VMA that is already detached, possibly from an address space that is being
/// torn down (`exit_mmap()`, where `mm_users` is 0 and the page tables are gone), so nothing that
/// reaches the address space or the page tables is offered.
#[derive(Copy, Clone, Debug)]
pub struct ClosingArea {
    /// Start address (inclusive).
    pub start: usize,
    /// End address (exclusive).
    pub end: usize,
    /// Offset in the file, in pages.
    pub pgoff: usize,
    /// The VMA's flags.
    pub flags: VmaFlags,
}

/// Why a fault failed; the only values a fault handler can return besides [`FaultAnswer`].
///
/// There is deliberately no "handled" (`VM_FAULT_NOPAGE`) or "retry" value: a handler that
/// claimed success without installing anything would make userspace fault forever (and a kernel
/// copy into the mapping loop without end, deaf to `SIGKILL`).
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct FaultError(bindings::vm_fault_t);

impl FaultError {
    /// Send `SIGBUS` to the faulting task (a kernel access gets `EFAULT`).
    pub const SIGBUS: Self = Self(bindings::vm_fault_reason_VM_FAULT_SIGBUS);
    /// Out of memory. A kernel access to the mapping then gets `EFAULT`; a user access is retried
    /// after the OOM killer had its chance (`pagefault_out_of_memory()`), so a handler that
    /// always answers `OOM` keeps the task faulting until it is killed (it stays killable).
    /// Answer it when an allocation just failed, not as a lasting refusal: use `SIGBUS` for that.
    pub const OOM: Self = Self(bindings::vm_fault_reason_VM_FAULT_OOM);
    /// Send `SIGSEGV` to the faulting task.
    pub const SIGSEGV: Self = Self(bindings::vm_fault_reason_VM_FAULT_SIGSEGV);

    /// The raw `vm_fault_t`.
    #[inline]
    pub fn raw(self) -> bindings::vm_fault_t {
        self.0
    }
}

/// `OOM` for `ENOMEM`, `SIGBUS` otherwise, as `vmf_error()` does.
impl From<Error> for FaultError {
    #[inline]
    fn from(err: Error) -> Self {
        if err == ENOMEM {
            Self::OOM
        } else {
            Self::SIGBUS
        }
    }
}

/// Makes `'f` invariant, so that an answer cannot be made to fit another fault.
type InvariantFault<'f> = PhantomData<fn(&'f ()) -> &'f ()>;

/// What the glue installs at the faulting address once the handler has returned.
enum Install {
    /// The page in `vmf->page` (set by `set_page`), which the core maps after `->fault` returns.
    Page,
    /// A PFN entry for this page frame, which the glue inserts after the handler returned.
    Pfn(usize),
}

/// What a fault handler chose to install at the faulting address of *this* fault: the only
/// success value [`VmOperations::fault`] can return.
///
/// Only [`VmFault::set_page`] and [`VmFault::insert_pfn_from`] make one, after checking what
/// they install. It borrows the fault (`'f`, invariant), is neither `Copy` nor `Clone`, and
/// cannot be kept past the handler: an answer of an earlier fault cannot be returned from a
/// later one. The entry is installed only after the handler returned (by the core for a page,
/// by the glue for a PFN), so nothing the handler does can remove it before the fault completes.
#[must_use = "return it from the fault handler"]
pub struct FaultAnswer<'f> {
    install: Install,
    _fault: InvariantFault<'f>,
}

/// What a fault handler returns.
pub type FaultResult<'f> = core::result::Result<FaultAnswer<'f>, FaultError>;

/// A page fault on a VMA of `V` (`struct vm_fault`).
///
/// # Invariants
///
/// `vmf` is the fault being handled by `V`'s `fault` callback: its VMA has `V`'s operations, and
/// the VMA read lock or mmap read lock is held for the duration of the callback. `vmf->page` is
/// NULL or holds a page reference taken by [`VmFault::set_page`].
#[repr(transparent)]
pub struct VmFault<V: VmOperations> {
    vmf: Opaque<bindings::vm_fault>,
    _p: PhantomData<V>,
}

impl<V: VmOperations> VmFault<V> {
    /// # Safety
    ///
    /// `vmf` must satisfy the type invariants for `'a`.
    unsafe fn from_raw<'a>(vmf: *mut bindings::vm_fault) -> &'a Self {
        // SAFETY: `repr(transparent)`; the caller guarantees validity.
        unsafe { &*vmf.cast() }
    }

    fn raw(&self) -> &bindings::vm_fault {
        // SAFETY: By the type invariants `vmf` is valid for the callback. The only field written
        // during the callback, `page`, is written by `set_page` through the raw pointer, never
        // while this shared borrow is in use.
        unsafe { &*self.vmf.get() }
    }

    /// The VMA that faulted, `V`'s own.
    pub fn vma(&self) -> &OwnVmArea<V> {
        // SAFETY: By the type invariants the VMA or mmap read lock is held during the callback,
        // which the returned borrow cannot outlive, and the VMA has `V`'s operations.
        unsafe { OwnVmArea::from_raw(self.raw().__bindgen_anon_1.vma) }
    }

    /// The mapped file (the VMA holds a reference to it).
    fn file(&self) -> &File {
        // SAFETY: The VMA has `V`'s operations, set only with `vm_file == file` (see
        // `VmAreaDesc::set_vm_ops`); the VMA holds a reference to `vm_file` while it exists, and
        // no `fdget_pos` region is active on it in the fault path.
        unsafe { File::from_raw_file((*self.vma().as_ptr()).vm_file) }
    }

    /// The faulting address, page aligned.
    pub fn address(&self) -> usize {
        self.raw().__bindgen_anon_1.address
    }

    /// The page offset in the file of the faulting page.
    pub fn pgoff(&self) -> usize {
        self.raw().__bindgen_anon_1.pgoff
    }

    /// Whether the fault is a write.
    pub fn is_write(&self) -> bool {
        self.raw().flags & bindings::fault_flag_FAULT_FLAG_WRITE != 0
    }

    /// The VMA's data. A VMA the core lets fault has had its `mapped` succeed, so `None` is
    /// not expected (unless a stacking driver kept a VMA whose `mapped` failed); the glue turns
    /// it into `SIGBUS` before calling the driver.
    pub fn data(&self) -> Option<<V::Data as ForeignOwnable>::Borrowed<'_>> {
        self.vma().data()
    }

    /// The private data of the mapped file (the registration's per-open data).
    pub fn file_data(&self) -> <V::FileData as ForeignOwnable>::Borrowed<'_> {
        // SAFETY: The VMA has `V`'s operations, which `VmAreaDesc::set_vm_ops` installs only on
        // VMAs whose `vm_file` is a file with `V::FileData` private data; the VMA holds a
        // reference to that file, whose data is released only after the file's last mapping
        // is gone, so it outlives this callback and the returned borrow.
        unsafe { V::FileData::borrow((*self.file().as_ptr()).private_data) }
    }

    /// Hands `page` to the core to map at the faulting address once the handler returns, with a
    /// reference taken here that the new entry keeps (on a write fault in a private mapping the
    /// core maps a copy and drops it, `do_cow_fault`). Return the answer from the fault handler.
    /// A second call replaces the page.
    ///
    /// The core maps the page after the handler returned, outside the driver's locks: a driver
    /// that takes the page out of its [`KernelPages`] meanwhile (and zaps the address) may find
    /// it mapped again once the fault completes, with the entry's own reference. Memory stays
    /// sound (dropping a [`KernelPage`](crate::KernelPage) waits for a fault that holds the
    /// page), but such a driver must expect that entry, e.g. zap before inserting at that
    /// address (`samples/rust_binder_pages.rs` does).
    ///
    /// Only a [`MappablePage`] (a page of [`KernelPages`] or a
    /// [`KernelPage`](crate::KernelPage)) can be mapped: any `&Page` could be memory Rust code
    /// uses, e.g. a page of a vmalloc allocation.
    ///
    /// `SIGBUS`, with a log line, on a `VM_PFNMAP` VMA: the core would install a normal entry
    /// there, and on architectures without `pte_special` (ARMv7 without LPAE, UML)
    /// `vm_normal_page()` decides by the VMA's flags and treats every entry of a `VM_PFNMAP` VMA
    /// as special, so the page's reference would never be dropped. Use
    /// [`VmFault::insert_pfn_from`] there.
    pub fn set_page(&self, page: &MappablePage<'_>) -> FaultResult<'_> {
        if self.vma().flags().contains(VmaFlag::PFNMAP) {
            driver_warn!(self.file(), "fault", "set_page on a VM_PFNMAP VMA (SIGBUS)");
            return Err(FaultError::SIGBUS);
        }
        // SAFETY: `page` is a valid order-0 page. The reference taken here goes to the core with
        // `vmf->page` (the contract of `__do_fault()`): the entry `finish_fault()` installs keeps
        // it, a copy-on-write fault drops it once it copied the page (`do_cow_fault()`), and the
        // glue drops it if the handler does not return success.
        unsafe { rmp_get_page(page.as_ptr()) };
        let vmf = self.vmf.get();
        // SAFETY: By the type invariants `vmf` is the fault of this callback; nothing else reads
        // or writes `page` during it, and no Rust reference to that field is alive (`raw()`
        // borrows end with the calls that take them).
        // INVARIANT: `vmf->page` now holds the reference taken above.
        let old = unsafe { core::ptr::replace(&raw mut (*vmf).page, page.as_ptr()) };
        if !old.is_null() {
            // SAFETY: `old` was set by an earlier call, which took this reference.
            unsafe { rmp_put_page(old) };
        }
        Ok(FaultAnswer {
            install: Install::Page,
            _fault: PhantomData,
        })
    }
}

impl<T: Send + Sync + 'static, V: VmOperations<Data = Arc<T>>> VmFault<V> {
    /// Maps a page owned by the VMA's data at the faulting address as a PFN ("special") entry,
    /// which `get_user_pages` and its kin refuse to follow, once the handler returns. The VMA must be `VM_PFNMAP` (set it in
    /// `mmap_prepare`), not `VM_IO` (an I/O mapping may have another memory type than the page's),
    /// and not copy-on-write (private with `VM_MAYWRITE`); otherwise (with a log line), or if
    /// `select` returns `None`, the fault gets `SIGBUS`.
    ///
    /// `select` picks the page from the data, and can only return pages borrowed from it (or
    /// `'static` ones): every VMA that can hold this entry, including copies made by fork and
    /// `mremap`, holds a reference to the same data, and the data is dropped only after the
    /// VMA's page tables are gone, so the page outlives every entry that maps it.
    pub fn insert_pfn_from(
        &self,
        select: impl for<'d> FnOnce(&'d T) -> Option<(&'d KernelPages, usize)>,
    ) -> FaultResult<'_> {
        let data = self.data().ok_or(FaultError::SIGBUS)?;
        let page = select(data.into_ref())
            .and_then(|(pages, index)| pages.page(index))
            .ok_or(FaultError::SIGBUS)?;
        let vma = self.vma();
        let flags = vma.flags();
        // The core `BUG()`s on the first three; the last keeps RAM out of I/O mappings, whose
        // memory type may differ.
        if !flags.contains(VmaFlag::PFNMAP)
            || flags.contains(VmaFlag::MIXEDMAP)
            || !flags.contains(VmaFlag::SHARED) && flags.contains(VmaFlag::MAYWRITE)
            || flags.contains(VmaFlag::IO)
        {
            driver_warn!(
                self.file(),
                "fault",
                "insert_pfn_from on a VMA that is not a non-I/O, non-COW VM_PFNMAP VMA ({}) (SIGBUS)",
                flags
            );
            return Err(FaultError::SIGBUS);
        }
        // SAFETY: `page` is valid.
        let pfn = unsafe { rmp_page_to_pfn(page.as_ptr()) };
        // INVARIANT (of `Install::Pfn`): checked above: the VMA is `VM_PFNMAP`, not `VM_MIXEDMAP`,
        // not `VM_IO`, not copy-on-write, and the page belongs to this VMA's data, which the VMA
        // holds until its page tables are gone.
        Ok(FaultAnswer {
            install: Install::Pfn(pfn),
            _fault: PhantomData,
        })
    }
}

/// The operations of VMAs created through [`VmAreaDesc::set_vm_ops`](crate::VmAreaDesc::set_vm_ops).
///
/// Only the callbacks implemented are put in the table (`#[vtable]`), with one exception: when
/// [`Self::Data`] has a destructor, `open` and `close` are always installed, because they carry
/// the ownership of the data. (A VMA with `close` cannot be removed by a merge, so a driver whose
/// VMAs should merge freely keeps `Data = ()`.)
///
/// The table is a `static`, returned by [`VmOperations::table`]: its address is what proves a VMA
/// belongs to `Self` (see [`VmAreaRef::data`]). [`vm_ops_table!`](crate::vm_ops_table) declares
/// both in one line.
///
/// # Examples
///
/// Only the mm core calls these, on a real mapping, so the example is compiled, not run:
///
/// ```no_run
/// use kernel::{prelude::*, sync::{Arc, ArcBorrow}};
/// use mmap_prepare::{MappedArea, VmOperations};
///
/// struct Ctx;
/// struct CtxVm;
///
/// #[vtable]
/// impl VmOperations for CtxVm {
///     type FileData = Arc<Ctx>;
///     type Data = Arc<Ctx>;
///
///     mmap_prepare::vm_ops_table!(CtxVm);
///
///     fn mapped(_area: &MappedArea<'_>, ctx: ArcBorrow<'_, Ctx>) -> Result<Arc<Ctx>> {
///         // The VMA takes its own reference here, never in `mmap_prepare`.
///         Ok(ctx.into())
///     }
/// }
/// ```
#[vtable]
pub trait VmOperations: Sized + Send + Sync + 'static {
    /// The private data of the files this VMA maps (the registration's `Ptr`).
    type FileData: ForeignOwnable;

    /// The data each VMA owns.
    ///
    /// It must not keep the VMA's own address space alive (an `ARef<MmWithUser>`, i.e. `mmget`):
    /// the VMA is closed, and its data dropped, only when that address space is torn down, which
    /// would then never happen. Keep an `ARef<Mm>` (`mmgrab`) and `mmget_not_zero()` it when
    /// needed, as `samples/rust_binder_pages.rs` does.
    type Data: VmaData;

    /// The `static` table for these operations; write [`vm_ops_table!`](crate::vm_ops_table)
    /// instead of implementing it by hand.
    fn table() -> &'static VmOpsTable<Self>;

    /// Called once for a new VMA (not for a range that merged into an existing VMA), after the
    /// action completed, with the mmap write lock held. Returns the data the VMA will own. On
    /// error the VMA is unmapped again and `mmap()` fails; `close` then runs with no data.
    ///
    /// On the stacked-caller path (`compat_vma_mmap()`, a legacy `->mmap` of another driver that
    /// maps this file), a failure here is returned to the stacking `->mmap`; if that `->mmap`
    /// fails, for this or any later reason, `__mmap_new_file_vma()` frees the VMA with no
    /// callback, so the data returned by a successful `mapped` is never dropped (a leaked
    /// reference, not a use after free). Keep what `mapped` allocates small.
    ///
    /// The VMA's range may later grow without another `mapped`: a new mapping of the same file
    /// with the same flags merges into it (merges do not compare `vm_ops`), and `mremap()` may
    /// expand it in place. Data must not assume the range `mapped` saw.
    fn mapped(
        area: &MappedArea<'_>,
        file_data: <Self::FileData as ForeignOwnable>::Borrowed<'_>,
    ) -> Result<Self::Data>;

    /// Called for a copy of a VMA (split, fork, `mremap`) after its data was duplicated, with the
    /// mmap write lock held (on fork, the parent's and the child's). For `mremap` the copy may
    /// still be undone: see [`VmOperations::mremap`]. The copy's page tables are not filled yet,
    /// so `open` only gets its values ([`OpeningArea`]).
    fn open(_area: &OpeningArea, _data: <Self::Data as ForeignOwnable>::Borrowed<'_>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Called when a VMA is removed, before its data is dropped. `data` is `None` if `mapped`
    /// failed or never ran. The VMA is already detached (and during `exit_mmap()` its address
    /// space has no users left), so `close` only gets its values: see [`ClosingArea`].
    fn close(_area: &ClosingArea, _data: Option<<Self::Data as ForeignOwnable>::Borrowed<'_>>) {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Handles a page fault, under the mmap read lock: the table has no `map_pages`, so the core
    /// retries a fault that came in under the VMA lock alone with the mmap read lock
    /// (`vmf_can_call_fault()`, `mm/memory.c`). Success is a [`FaultAnswer`], which
    /// only [`VmFault::set_page`] and [`VmFault::insert_pfn_from`] make.
    ///
    /// Lock context: the mmap lock of the VMA's address space is held for reading (that may be
    /// another task's, for a fault driven by GUP, e.g. `process_vm_readv()`). Taking it again
    /// deadlocks against a waiting writer, which is why the crate's copies from and pins of user
    /// memory need a [`UserContext`](crate::UserContext), which no fault handler gets.
    fn fault<'f>(_vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Whether the VMA may be split at `address` (`EINVAL` or another error refuses), under the
    /// mmap write lock.
    fn may_split(_vma: &OwnVmArea<Self>, _address: usize) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// Whether `mprotect()` may change `[start, end)` to `new_flags`; the VMA is not changed yet.
    /// Under the mmap write lock.
    fn mprotect(
        _vma: &OwnVmArea<Self>,
        _start: usize,
        _end: usize,
        _new_flags: VmaFlags,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }

    /// `mremap()` moved the pages of a VMA to `vma`, a copy made by `open` (with its own data),
    /// under the mmap write lock. Returning `Ok` commits the move: the old VMA is unmapped (closed)
    /// next, unless `MREMAP_DONTUNMAP` keeps it, empty. An error moves the pages back, unmaps
    /// `vma` (closed) and fails `mremap()`. Moves that fail in the core never call this: if
    /// `copy_vma()` fails before it made the copy, nothing is opened or closed; if it fails after
    /// `open` (linking the copy), or `move_page_tables()` moves only part of the range, the copy
    /// is closed (`mm/vma.c`, `mm/mremap.c`). So this is where a driver that tracks where its VMA
    /// is learns the new address.
    ///
    /// `data` is `None` if `vma` is not `Self`'s: the core may have moved the pages into a
    /// neighbour of the same file that it expanded instead of making a copy (merges do not
    /// compare `vm_ops`).
    fn mremap(
        _vma: &VmAreaRef,
        _data: Option<<Self::Data as ForeignOwnable>::Borrowed<'_>>,
    ) -> Result {
        build_error!(VTABLE_DEFAULT_ERROR)
    }
}

/// Implements [`VmOperations::table`] inside an `impl VmOperations for T` block, with a `static`
/// table of its own: `mmap_prepare::vm_ops_table!(T);`.
///
/// The type is named again because a `static` cannot name `Self`.
#[macro_export]
macro_rules! vm_ops_table {
    ($ty:ty) => {
        fn table() -> &'static $crate::VmOpsTable<Self> {
            static TABLE: $crate::VmOpsTable<$ty> = $crate::VmOpsTable::new();
            &TABLE
        }
    };
}

/// The `vm_operations_struct` of `V`, returned by [`VmOperations::table`] (see
/// [`vm_ops_table!`](crate::vm_ops_table)).
///
/// It holds an `Opaque`, so it cannot be promoted to an anonymous constant: a `&'static`
/// reference to it can only come from a `static` (or a leaked allocation), whose address is
/// unique.
#[repr(transparent)]
pub struct VmOpsTable<V: VmOperations> {
    ops: Opaque<bindings::vm_operations_struct>,
    _p: PhantomData<V>,
}

// SAFETY: The table is written once, at compile time, and only read afterwards.
unsafe impl<V: VmOperations> Sync for VmOpsTable<V> {}

impl<V: VmOperations> Default for VmOpsTable<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V: VmOperations> VmOpsTable<V> {
    /// The table with the glue for the callbacks `V` implements.
    pub const fn new() -> Self {
        let owns = core::mem::needs_drop::<V::Data>();
        Self {
            ops: Opaque::new(bindings::vm_operations_struct {
                mapped: Some(Self::mapped),
                open: if owns || V::HAS_OPEN {
                    Some(Self::open)
                } else {
                    None
                },
                close: if owns || V::HAS_CLOSE {
                    Some(Self::close)
                } else {
                    None
                },
                fault: if V::HAS_FAULT {
                    Some(Self::fault)
                } else {
                    None
                },
                may_split: if V::HAS_MAY_SPLIT {
                    Some(Self::may_split)
                } else {
                    None
                },
                mprotect: if V::HAS_MPROTECT {
                    Some(Self::mprotect)
                } else {
                    None
                },
                mremap: if V::HAS_MREMAP {
                    Some(Self::mremap)
                } else {
                    None
                },
                ..pin_init::zeroed()
            }),
            _p: PhantomData,
        }
    }

    /// The raw table.
    #[inline]
    pub fn as_raw(&self) -> *const bindings::vm_operations_struct {
        self.ops.get()
    }

    /// # Safety
    ///
    /// Called by the core for a new VMA whose `vm_ops` are this table, as set by
    /// `VmAreaDesc::<V::FileData>::set_vm_ops`, so `file` is the mapped file and its
    /// `private_data` came from `V::FileData::into_foreign`; `vm_private_data` is valid.
    unsafe extern "C" fn mapped(
        start: c_ulong,
        end: c_ulong,
        pgoff: c_ulong,
        file: *const bindings::file,
        vm_private_data: *mut *mut c_void,
    ) -> c_int {
        // SAFETY: The mmap call holds the file, and no `fdget_pos` region is active on it.
        let file_ref = unsafe { File::from_raw_file(file) };
        // SAFETY: By the function's safety requirements the private data is `V::FileData`'s,
        // and the file is not released during this call (the mmap path holds a reference).
        let file_data = unsafe { V::FileData::borrow((*file).private_data) };
        let area = MappedArea {
            start,
            end,
            pgoff,
            file: file_ref,
            // SAFETY: `mapped` runs in the task that maps (see `MappedArea::is_in_mm`), whose
            // `mm` pointer is stable while it runs; it is only compared.
            mm: unsafe { (*bindings::get_current()).mm },
        };
        match V::mapped(&area, file_data) {
            Ok(data) => {
                // SAFETY: `vm_private_data` is valid for writes; the VMA now owns `data`.
                unsafe { *vm_private_data = data.into_foreign() };
                0
            }
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the core, with the mmap write lock held, for a new copy of a VMA whose
    /// `vm_ops` are this table; the copy's `vm_private_data` is the original's.
    unsafe extern "C" fn open(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The core holds the mmap write lock and `vma` is valid during the call; these
        // fields are plain values, and the write lock makes the access exclusive.
        let (area, ptr) = unsafe {
            let raw = &*vma;
            (
                OpeningArea {
                    start: raw.__bindgen_anon_1.__bindgen_anon_1.vm_start,
                    end: raw.__bindgen_anon_1.__bindgen_anon_1.vm_end,
                    pgoff: raw.vm_pgoff,
                    flags: VmaFlags::from_bits(raw.__bindgen_anon_2.vm_flags),
                },
                raw.vm_private_data,
            )
        };
        // SAFETY: The pointer is NULL or `V::Data`'s, owned by the original VMA, which stays
        // alive for this call.
        let Some(data) = (unsafe { borrow_data::<V::Data>(ptr) }) else {
            return;
        };
        let copy = V::Data::duplicate(data).into_foreign();
        // SAFETY: The write lock is held; the copy now owns its own data.
        unsafe { (*vma).vm_private_data = copy };
        if V::HAS_OPEN {
            // SAFETY: `copy` came from `into_foreign` just above and is released only in `close`.
            V::open(&area, unsafe { V::Data::borrow(copy) });
        }
    }

    /// # Safety
    ///
    /// Called by the core once, for a VMA whose `vm_ops` are this table, when the VMA has been
    /// detached and write-locked (under the mmap lock, possibly downgraded to read by munmap, or
    /// during teardown of the mm): nobody else can reach it.
    unsafe extern "C" fn close(vma: *mut bindings::vm_area_struct) {
        // SAFETY: The VMA is valid and exclusively ours during the call; these fields are plain
        // values.
        let (area, ptr) = unsafe {
            let raw = &*vma;
            (
                ClosingArea {
                    start: raw.__bindgen_anon_1.__bindgen_anon_1.vm_start,
                    end: raw.__bindgen_anon_1.__bindgen_anon_1.vm_end,
                    pgoff: raw.vm_pgoff,
                    flags: VmaFlags::from_bits(raw.__bindgen_anon_2.vm_flags),
                },
                raw.vm_private_data,
            )
        };
        if V::HAS_CLOSE {
            // SAFETY: NULL or `V::Data`'s, owned by this VMA until released below.
            V::close(&area, unsafe { borrow_data::<V::Data>(ptr) });
        }
        if !ptr.is_null() {
            // SAFETY: This VMA owned the data and `close` runs once per VMA; the pointer is
            // cleared so nothing can reach the released data.
            unsafe {
                (*vma).vm_private_data = core::ptr::null_mut();
                drop(V::Data::from_foreign(ptr));
            }
        }
    }

    /// # Safety
    ///
    /// Called by the core for a fault on a VMA whose `vm_ops` are this table, with the VMA or
    /// mmap read lock held; `vmf->page` is NULL on entry (`__do_fault` does not set it before
    /// calling `->fault`).
    unsafe extern "C" fn fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
        // SAFETY: Guaranteed by the function's safety requirements; the borrow ends with this
        // function, before the core looks at `vmf` again.
        let fault = unsafe { VmFault::<V>::from_raw(vmf) };
        let ret = if fault.data().is_none() {
            FaultError::SIGBUS.0
        } else {
            match V::fault(fault).map(|answer| answer.install) {
                Ok(Install::Page) => 0,
                // SAFETY: The VMA or mmap read lock is still held; `insert_pfn_from` made this
                // answer for this VMA and found it `VM_PFNMAP`, not `VM_MIXEDMAP` and not
                // copy-on-write (the core `BUG()`s otherwise), and the page frame is a page of
                // the VMA's data, which outlives every entry of the VMA. The address is the
                // faulting one. `VM_FAULT_NOPAGE` means the entry is in place.
                Ok(Install::Pfn(pfn)) => unsafe {
                    bindings::vmf_insert_pfn((*vmf).__bindgen_anon_1.vma, fault.address(), pfn)
                },
                Err(err) => err.0,
            }
        };
        // SAFETY: `vmf` is valid; no Rust reference to it is alive any more.
        let page = unsafe { (*vmf).page };
        if ret != 0 {
            // On any other result than a page handed over, the core returns without looking at
            // `vmf->page` (`__do_fault`): release the reference `set_page` took.
            if !page.is_null() {
                // SAFETY: By the type invariants of `VmFault`, this is `set_page`'s reference;
                // the pointer is cleared so the core cannot see it.
                unsafe {
                    (*vmf).page = core::ptr::null_mut();
                    rmp_put_page(page);
                }
            }
            return ret;
        }
        if page.is_null() {
            // Success with no page would make the core map `page_folio(NULL)`. A page answer
            // only comes from `set_page`, so this is a backstop.
            // SAFETY: `vmf` is a fault on a VMA of this table (function requirements).
            let file = unsafe { fault_file(vmf) };
            driver_warn!(file, "fault", "success without a page (SIGBUS)");
            return FaultError::SIGBUS.0;
        }
        0
    }

    /// # Safety
    ///
    /// Called by the core, with the mmap write lock held, for a VMA of this table.
    unsafe extern "C" fn may_split(vma: *mut bindings::vm_area_struct, addr: c_ulong) -> c_int {
        // SAFETY: The VMA is valid and locked during the call, and has this table.
        let area = unsafe { OwnVmArea::from_raw(vma) };
        match V::may_split(area, addr) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by the core, with the mmap write lock held, for a VMA of this table.
    unsafe extern "C" fn mprotect(
        vma: *mut bindings::vm_area_struct,
        start: c_ulong,
        end: c_ulong,
        newflags: c_ulong,
    ) -> c_int {
        // SAFETY: The VMA is valid and locked during the call, and has this table.
        let area = unsafe { OwnVmArea::from_raw(vma) };
        let flags = VmaFlags::from_bits(newflags);
        match V::mprotect(area, start, end, flags) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }

    /// # Safety
    ///
    /// Called by `copy_vma_and_data()`, with the mmap write lock held, on the *old* VMA's
    /// operations (this table) for `vma`, the destination of a move. That is usually the old
    /// VMA's copy (with this table), but `copy_vma()` may instead have expanded a neighbour over
    /// the destination, and merges do not compare `vm_ops`: the neighbour may have another table,
    /// and other data.
    unsafe extern "C" fn mremap(vma: *mut bindings::vm_area_struct) -> c_int {
        // SAFETY: The VMA is valid and locked during the call.
        let area = unsafe { VmAreaRef::from_raw(vma) };
        // `V::Data` only if the VMA is ours; a merged neighbour's data is someone else's type.
        let data = if area.is_owned_by::<V>() {
            // SAFETY: A VMA of this table: NULL or `V::Data`'s, released only in `close`, which
            // cannot run during this call (the write lock is held by our caller).
            unsafe { borrow_data::<V::Data>((*vma).vm_private_data) }
        } else {
            None
        };
        match V::mremap(area, data) {
            Ok(()) => 0,
            Err(err) => err.to_errno(),
        }
    }
}

/// The file of the VMA that faulted.
///
/// # Safety
///
/// `vmf` is a fault being handled on a VMA of one of our tables, which holds `vm_file`.
unsafe fn fault_file<'a>(vmf: *mut bindings::vm_fault) -> &'a File {
    // SAFETY: Guaranteed by the caller; no `fdget_pos` region is active in the fault path.
    unsafe { File::from_raw_file((*(*vmf).__bindgen_anon_1.vma).vm_file) }
}
