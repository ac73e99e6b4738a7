// SPDX-License-Identifier: GPL-2.0

//! The VMA descriptor handed to `f_op->mmap_prepare`.
//!
//! C header: [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h) (`struct vm_area_desc`).
//! Contract: [`Documentation/filesystems/mmap_prepare.rst`](srctree/Documentation/filesystems/mmap_prepare.rst).

use crate::{
    action::{ActionKind, MmapAction},
    device_memory::{borrowed_tag, DeviceMemory, DEVICE_MEMORY_VM_OPS},
    flags::{VmaFlag, VmaFlags},
    log::driver_warn,
    vm_ops::VmOperations,
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    error::code::{EINVAL, ENODEV, EOVERFLOW, EPERM},
    fs::File,
    mm::Mm,
    page::PAGE_SIZE,
    prelude::*,
    sync::ArcBorrow,
    types::{ForeignOwnable, Opaque},
};

/// Each access flag and the `MAY` flag it needs.
const ACCESS_PAIRS: [(VmaFlag, VmaFlag); 3] = [
    (VmaFlag::READ, VmaFlag::MAYREAD),
    (VmaFlag::WRITE, VmaFlag::MAYWRITE),
    (VmaFlag::EXEC, VmaFlag::MAYEXEC),
];

/// `refuse!(desc, err, "why")`: logs (rate-limited per call site) why the driver's request was
/// refused, naming the driver, and evaluates to `err`.
macro_rules! refuse {
    ($desc:expr, $err:expr, $fmt:expr $(, $arg:expr)* $(,)?) => {{
        let err: Error = $err;
        driver_warn!($desc.file(), "mmap_prepare", concat!($fmt, " ({:?})") $(, $arg)*, err);
        err
    }};
}

/// Makes `'a` invariant: a driver must not shorten it to pass shorter-lived data to an action.
type Invariant<'a> = fn(&'a ()) -> &'a ();

/// The descriptor of a mapping being set up, as seen from `f_op->mmap_prepare`.
///
/// No VMA exists yet. The driver reads what the user asked for and may change only what the
/// contract allows: some flags (see [`VmAreaDesc::set_flags`]), the page offset, the VMA
/// operations ([`VmAreaDesc::set_vm_ops`]) and a follow-up [`MmapAction`] (which may carry a
/// [`CacheMode`](crate::CacheMode) for device memory). The protection bits themselves are not
/// reachable: they come from the user's request, and the core recomputes them. It must allocate nothing and take no reference: the range may still merge
/// with a neighbour or fail, and nobody would release them. Ownership of per-VMA data is taken in
/// [`VmOperations::mapped`] instead.
///
/// A `VmAreaDesc` is only ever reached through the `&mut` reference the `mmap_prepare` callback
/// receives, so it cannot be stored or used after the callback returns.
///
/// `F` is the type of the open file's private data, whose borrows (`'a`) live until the file is
/// released, hence longer than any mapping of it: only data borrowed from there may be handed to
/// an action.
///
/// # Invariants
///
/// - `desc` is a `struct vm_area_desc` passed to `f_op->mmap_prepare`, and the callback has not
///   returned yet; the caller holds the mmap write lock of `desc.mm`.
/// - `desc.file` is a file whose `private_data` was produced by `F::into_foreign` and is turned
///   back only in `f_op->release`, which cannot run before every mapping of the file is gone.
/// - `'a` does not outlive that private data.
#[repr(transparent)]
pub struct VmAreaDesc<'a, F: ForeignOwnable> {
    desc: Opaque<bindings::vm_area_desc>,
    _p: PhantomData<(Invariant<'a>, F)>,
}

// SAFETY: A `VmAreaDesc` is only reached through the borrow `mmap_prepare` receives, which cannot
// outlive the callback, and its methods only read and write the descriptor's plain fields (and
// borrow the file, which is `Sync`), whichever thread runs them. The raw pointers of the C struct
// would otherwise make it neither `Send` nor `Sync`, and a driver trying to keep it would get one
// compiler error per pointer field instead of the one that matters: the borrow does not live long
// enough.
unsafe impl<F: ForeignOwnable> Send for VmAreaDesc<'_, F> {}
// SAFETY: See `Send`: through `&VmAreaDesc` only plain fields are read.
unsafe impl<F: ForeignOwnable> Sync for VmAreaDesc<'_, F> {}

impl<'a, F: ForeignOwnable> VmAreaDesc<'a, F> {
    /// Creates a reference to a [`VmAreaDesc`] from a raw pointer.
    ///
    /// # Safety
    ///
    /// `desc` must satisfy the type invariants for the whole of `'b`, and no other reference to it
    /// may be used during `'b`.
    #[inline]
    pub unsafe fn from_raw<'b>(desc: *mut bindings::vm_area_desc) -> &'b mut Self {
        // SAFETY: `Self` is `repr(transparent)` over the C struct and the caller guarantees the
        // invariants and exclusive access for 'b.
        unsafe { &mut *desc.cast() }
    }

    #[inline]
    fn raw(&self) -> &bindings::vm_area_desc {
        // SAFETY: By the type invariants the descriptor is valid, and `&self` excludes writers.
        unsafe { &*self.desc.get() }
    }

    #[inline]
    fn raw_mut(&mut self) -> &mut bindings::vm_area_desc {
        // SAFETY: By the type invariants the descriptor is valid, and `&mut self` is exclusive.
        unsafe { &mut *self.desc.get() }
    }

    /// The start address of the mapping (inclusive).
    #[inline]
    pub fn start(&self) -> usize {
        self.raw().start
    }

    /// The end address of the mapping (exclusive).
    #[inline]
    pub fn end(&self) -> usize {
        self.raw().end
    }

    /// The length of the mapping in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.end() - self.start()
    }

    /// Whether the mapping is empty (never, for a mapping being set up).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The number of pages of the mapping.
    #[inline]
    pub fn pages(&self) -> usize {
        self.len() >> bindings::PAGE_SHIFT
    }

    /// The offset into the file, in pages.
    #[inline]
    pub fn pgoff(&self) -> usize {
        self.raw().pgoff
    }

    /// The file being mapped.
    #[inline]
    pub fn file(&self) -> &File {
        // SAFETY: The file is valid while the mapping is being set up, and the mmap path holds no
        // `fdget_pos` region on it.
        unsafe { File::from_raw_file(self.raw().file) }
    }

    /// Whether the mapping is being made in the address space `mm` (`desc->mm`, the caller's
    /// `current->mm`): e.g. to refuse a mapping in an address space other than the one the file
    /// was opened in (a task that exec'd keeps its file but has a new address space).
    ///
    /// Only the identity is offered, not the address space: its mmap write lock is held during
    /// the callback, so any use that locks it would deadlock.
    #[inline]
    pub fn is_in_mm(&self, mm: &Mm) -> bool {
        core::ptr::eq(self.raw().mm, mm.as_raw())
    }

    /// The flags requested for the mapping, as changed so far.
    #[inline]
    pub fn flags(&self) -> VmaFlags {
        VmaFlags::from_raw(self.raw().vma_flags)
    }

    /// Whether the mapping is shared (`MAP_SHARED`, `VM_SHARED` or `VM_MAYSHARE`).
    #[inline]
    pub fn is_shared(&self) -> bool {
        self.flags().intersects(VmaFlag::SHARED | VmaFlag::MAYSHARE)
    }

    /// Whether the mapping is copy-on-write: private and possibly writable.
    #[inline]
    pub fn is_cow(&self) -> bool {
        let flags = self.flags();
        !flags.contains(VmaFlag::SHARED) && flags.contains(VmaFlag::MAYWRITE)
    }

    /// The flags the pending action will add once `mmap_prepare` returns.
    fn action_flags(&self) -> VmaFlags {
        match MmapAction::kind_of(&self.raw().action) {
            ActionKind::Remap => VmaFlags::REMAP,
            ActionKind::MapKernelPages => VmaFlag::MIXEDMAP.set(),
            ActionKind::Nothing => VmaFlags::EMPTY,
        }
    }

    /// Flags a driver may set or clear in `mmap_prepare`; see [`VmAreaDesc::set_flags`] for each.
    /// The others belong to the core, which derives them from the request.
    pub const DRIVER_FLAGS: VmaFlags = VmaFlags::of(&[
        VmaFlag::DONTDUMP,
        VmaFlag::DONTCOPY,
        VmaFlag::DONTEXPAND,
        VmaFlag::IO,
        VmaFlag::PFNMAP,
        VmaFlag::MIXEDMAP,
    ]);

    /// Adds `flags` to the mapping. Only [`VmAreaDesc::DRIVER_FLAGS`] may be added:
    ///
    /// | flag | effect on the VMA | what userspace can still change |
    /// |---|---|---|
    /// | `DONTDUMP` | left out of core dumps | `MADV_DODUMP` clears it unless the VMA is `VM_SPECIAL` (`IO`, `DONTEXPAND`, `PFNMAP`, `MIXEDMAP`) |
    /// | `DONTCOPY` | not copied into a fork child | `MADV_DOFORK` clears it unless the VMA is `VM_SPECIAL` |
    /// | `DONTEXPAND` | `mremap()` cannot grow it, nor `MREMAP_DONTUNMAP` move it; unmergeable | nothing |
    /// | `IO` | I/O memory: GUP, core dumps and `MADV_DOFORK` refuse it; unmergeable; [`VmFault::insert_pfn_from`](crate::VmFault::insert_pfn_from) refuses it | nothing |
    /// | `PFNMAP` | PFN entries without `struct page` references; GUP, `mremap()` growth and `MREMAP_DONTUNMAP`, `MADV_DONTNEED`/`COLD`/`PAGEOUT` refuse it; unmergeable; [`VmFault::set_page`](crate::VmFault::set_page) refuses it | nothing |
    /// | `MIXEDMAP` | pages inserted by the driver (`insert_pages`, `map_kernel_pages`); unmergeable | nothing |
    ///
    /// Refused, with nothing changed and a log line naming the driver:
    /// - `EPERM` if it would gain a `VM_MAY*` flag or an access flag (`READ`, `WRITE`, `EXEC`):
    ///   only the user's request grants access. The core checks the request before
    ///   `mmap_prepare` (file mode, `MDWE`, overcommit accounting) and not again after it, so a
    ///   gained access would bypass those checks;
    /// - `EINVAL` for any other flag, or if `MIXEDMAP` and `PFNMAP` would both be set (counting
    ///   those the pending action adds). Among those: `WIPEONFORK`, which `madvise()` refuses on
    ///   file and shared mappings (a fork child would fault the file's pages back in, e.g. the
    ///   parent's secrets); `LOCKED`, because the core checks `RLIMIT_MEMLOCK` and decides to
    ///   populate before `mmap_prepare`, yet charges `mm->locked_vm` for a `VM_LOCKED` set in
    ///   it; `HUGEPAGE`/`NOHUGEPAGE`, which mean nothing without a `huge_fault` handler; and the
    ///   flags the core owns (`SHARED`, `ACCOUNT`, `HUGETLB`, `SOFTDIRTY`, ...).
    ///
    /// The checks fold away when `flags` is a constant, as it usually is.
    #[inline]
    pub fn set_flags(&mut self, flags: impl Into<VmaFlags>) -> Result {
        self.refuse_if_sealed("set_flags")?;
        let flags = flags.into();
        let old = self.flags();
        let gained = flags.difference(old);
        let access = VmaFlag::READ | VmaFlag::WRITE | VmaFlag::EXEC;
        if gained.intersects(VmaFlags::MAY_FLAGS.union(access)) {
            return Err(refuse!(
                self,
                EPERM,
                "set_flags: access is only granted by the request"
            ));
        }
        if !Self::DRIVER_FLAGS.contains_all(gained) {
            return Err(refuse!(
                self,
                EINVAL,
                "set_flags: {} may not be set by a driver",
                gained.difference(Self::DRIVER_FLAGS)
            ));
        }
        // The descriptor never holds both; only a request naming one of them can change that.
        let special = VmaFlag::MIXEDMAP | VmaFlag::PFNMAP;
        if flags.intersects(special)
            && old
                .union(flags)
                .union(self.action_flags())
                .contains_all(special)
        {
            return Err(refuse!(
                self,
                EINVAL,
                "set_flags: VM_MIXEDMAP together with VM_PFNMAP"
            ));
        }
        self.raw_mut().vma_flags = old.union(flags).to_raw();
        Ok(())
    }

    /// Removes `flags` from the mapping.
    ///
    /// A `MAY` flag may be cleared (`MAYREAD`, `MAYWRITE`, `MAYEXEC`) so that `mprotect()` cannot
    /// add the access later, but not while the access itself is set: `EINVAL`. The access flags
    /// the user asked for, `MAYSHARE` and the flags the core owns cannot be cleared: `EINVAL`.
    #[inline]
    pub fn clear_flags(&mut self, flags: impl Into<VmaFlags>) -> Result {
        self.refuse_if_sealed("clear_flags")?;
        let flags = flags.into();
        let old = self.flags();
        let lost = flags.intersection(old);
        let clearable =
            Self::DRIVER_FLAGS | VmaFlag::MAYREAD | VmaFlag::MAYWRITE | VmaFlag::MAYEXEC;
        if !clearable.contains_all(lost) {
            return Err(refuse!(
                self,
                EINVAL,
                "clear_flags: {} may not be cleared by a driver",
                lost.difference(clearable)
            ));
        }
        let new = old.difference(flags);
        // Only a `MAY` flag cleared here can leave its access without it (the descriptor's
        // flags were consistent before); with constant `flags` the other pairs fold away.
        for (access, may) in ACCESS_PAIRS {
            if lost.contains(may) && new.contains(access) {
                return Err(refuse!(
                    self,
                    EINVAL,
                    "clear_flags: the request has the access that {} grants",
                    may.set()
                ));
            }
        }
        self.raw_mut().vma_flags = new.to_raw();
        Ok(())
    }

    /// The largest byte offset plus length a mapping of the file may reach, as `do_mmap()`'s
    /// `file_mmap_size_max()` (`mm/mmap.c`) says: 0 means no limit.
    fn max_map_size(&self) -> u64 {
        // SAFETY: The file is valid during `mmap_prepare`; `f_inode` and `f_op` are set for an
        // open file and `i_mode`'s type bits never change.
        let (mode, fop_flags) = unsafe {
            let file = self.raw().file;
            (
                u32::from((*(*file).f_inode).i_mode),
                (*(*file).f_op).fop_flags,
            )
        };
        match mode & bindings::S_IFMT {
            bindings::S_IFREG | bindings::S_IFBLK | bindings::S_IFSOCK => {
                // MAX_LFS_FILESIZE
                if cfg!(CONFIG_64BIT) {
                    i64::MAX as u64
                } else {
                    u64::from(u32::MAX) << bindings::PAGE_SHIFT
                }
            }
            _ if fop_flags & bindings::FOP_UNSIGNED_OFFSET != 0 => 0,
            _ => usize::MAX as u64,
        }
    }

    /// Sets the page offset the mapping will have.
    ///
    /// `EOVERFLOW` if the offset and the mapping's length go past what `do_mmap()` accepts from
    /// the user for this file (`file_mmap_ok()`: for a character device, the byte offset plus
    /// the length must fit an `unsigned long`; a larger offset wraps, corrupts the file's
    /// `i_mmap` interval tree, and `unmap_mapping_range()` would then miss the VMA; for a file
    /// with `FOP_UNSIGNED_OFFSET` it must fit 64 bits; for every file the last page offset must
    /// not wrap). `EINVAL`
    /// once an action is set (the action was checked against the old offset): set the offset
    /// first.
    pub fn set_pgoff(&mut self, pgoff: usize) -> Result {
        self.refuse_if_sealed("set_pgoff")?;
        if MmapAction::kind_of(&self.raw().action) != ActionKind::Nothing {
            return Err(refuse!(self, EINVAL, "set_pgoff after set_action"));
        }
        let max = self.max_map_size();
        let len = self.len() as u64;
        // `do_mmap()`'s two checks, as it makes them: a last page offset that wraps (`pgoff +
        // (len >> PAGE_SHIFT) < pgoff`), then `file_mmap_ok()`, whose `maxsize -= len` wraps on
        // purpose for a file with `FOP_UNSIGNED_OFFSET` (`max == 0`): its byte offset plus
        // length must fit 64 bits.
        let wraps = pgoff
            .checked_add(self.len() >> bindings::PAGE_SHIFT)
            .is_none();
        if wraps
            || (max != 0 && len > max)
            || pgoff as u64 > max.wrapping_sub(len) >> bindings::PAGE_SHIFT
        {
            return Err(refuse!(
                self,
                EOVERFLOW,
                "set_pgoff: the offset plus the length is too large"
            ));
        }
        self.raw_mut().pgoff = pgoff;
        Ok(())
    }

    /// Installs the VMA operations `V` for the new mapping.
    ///
    /// Nothing is handed over here: if the mapping becomes a new VMA, [`VmOperations::mapped`]
    /// receives a borrow of this file's private data and returns the data the VMA will own.
    ///
    /// Fails with `EINVAL` if the VMA's file is not the file being mapped (a stacking file
    /// system changed it): `mapped` could then not find this file's data.
    ///
    /// Fails with `EINVAL` after [`VmAreaDesc::map_device_memory`], whose VMA operations keep
    /// the device memory alive, insert its entries and let [`DeviceMemory::revoke`] find the
    /// mapping.
    #[inline]
    pub fn set_vm_ops<V: VmOperations<FileData = F>>(&mut self) -> Result {
        self.refuse_if_sealed("set_vm_ops")?;
        if self.raw().vm_file != self.raw().file {
            return Err(refuse!(
                self,
                EINVAL,
                "set_vm_ops: the VMA will map another file"
            ));
        }
        let raw = self.raw_mut();
        raw.vm_ops = V::table().as_raw();
        // `mapped` finds its source through the file; NULL tells `close` that no data was set.
        raw.private_data = core::ptr::null_mut();
        Ok(())
    }

    /// Sets the action the core takes once `mmap_prepare` returns. One action per mapping: a
    /// second call fails with `EINVAL`.
    ///
    /// The action is checked against this descriptor first and refused with the errno the core
    /// would return (`EFAULT` for a range outside the mapping, `EINVAL` for a bad alignment or
    /// a `PFNMAP`/`MIXEDMAP` conflict), so that a bad action fails early and loudly instead of
    /// tripping a `WARN` in the core; and with `EINVAL` for a [`CacheMode`](crate::CacheMode)
    /// other than write-back on anything but the `unsafe` device remaps, or for a PFN remap when
    /// the VMA will map another file (a stacking caller's VMA does not keep this file's data,
    /// hence the pages, alive).
    ///
    /// The cache mode is applied to the descriptor's own protection, which the mapping keeps.
    pub fn set_action(&mut self, action: MmapAction<'a>) -> Result {
        self.refuse_if_sealed("set_action")?;
        if MmapAction::kind_of(&self.raw().action) != ActionKind::Nothing {
            return Err(refuse!(
                self,
                EINVAL,
                "set_action: an action is already set"
            ));
        }
        if action.is_pfn_remap() && self.raw().vm_file != self.raw().file {
            return Err(refuse!(
                self,
                EINVAL,
                "set_action: a PFN remap for another file's VMA"
            ));
        }
        let (start, end, flags, pgoff) = (self.start(), self.end(), self.flags(), self.pgoff());
        if let Err((err, why)) = action.check(start, end, flags) {
            return Err(refuse!(self, err, "set_action: {}", why));
        }
        let raw = self.raw_mut();
        // The mapping keeps the protection the remap installs (`vm_page_prot`), so that later
        // faults and `mprotect()` use the same memory type.
        raw.page_prot = action.cache().apply(raw.page_prot);
        let prot = raw.page_prot;
        action.write(&mut raw.action, start, end, prot, pgoff);
        Ok(())
    }

    /// Whether [`VmAreaDesc::map_device_memory`] set this mapping up.
    fn maps_device_memory(&self) -> bool {
        core::ptr::eq(self.raw().vm_ops, DEVICE_MEMORY_VM_OPS.as_raw())
    }

    /// `EINVAL` (logged, naming `what`) once [`VmAreaDesc::map_device_memory`] set the mapping up:
    /// its flags, offset, protection and operations are what the device memory's fault handler
    /// and revocation rely on, so nothing may change them afterwards.
    fn refuse_if_sealed(&self, what: &str) -> Result {
        if self.maps_device_memory() {
            return Err(self.refuse_sealed(what));
        }
        Ok(())
    }

    /// The refusal of [`VmAreaDesc::refuse_if_sealed`], out of line, so that the check, inlined
    /// into every change of the descriptor, keeps `what` in registers and needs no stack frame.
    #[cold]
    #[inline(never)]
    fn refuse_sealed(&self, what: &str) -> Error {
        refuse!(self, EINVAL, "{} after map_device_memory", what)
    }

    /// Maps `memory` (device memory, e.g. a PCI BAR: see
    /// [`DeviceMemory::pci_bar`](crate::DeviceMemory::pci_bar)) over the mapping, offset by the
    /// mapping's page offset, with the memory's own [`CacheMode`](crate::CacheMode).
    ///
    /// Nothing is mapped yet: the crate's VMA operations insert one PFN entry per fault while the
    /// memory is not revoked (and `SIGBUS` after), and keep `memory` alive. The VMA becomes
    /// `IO | PFNMAP | DONTEXPAND | DONTDUMP | DONTCOPY`. Afterwards the descriptor is sealed:
    /// every other change ([`VmAreaDesc::set_flags`], [`VmAreaDesc::clear_flags`],
    /// [`VmAreaDesc::set_pgoff`], [`VmAreaDesc::set_vm_ops`], [`VmAreaDesc::set_action`], a second
    /// `map_device_memory`) is refused with `EINVAL`.
    ///
    /// Refused, with nothing changed: `ENODEV` once `memory` is revoked (and in `mapped`, if it
    /// is revoked before the VMA is counted); `EINVAL` for a private mapping (device memory is
    /// shared: a private write would copy the device's bytes into an anonymous page), if an action
    /// is set, on a `VM_MIXEDMAP` mapping, if the mapping does not fit the memory at its offset,
    /// and on the stacked-caller path (`compat_vma_mmap()`): here if the VMA will map another
    /// file, in `mapped` otherwise, because the VMA is not in the address space yet and a
    /// failing stacking `->mmap` would free it without `close`.
    pub fn map_device_memory(&mut self, memory: ArcBorrow<'a, DeviceMemory>) -> Result {
        self.refuse_if_sealed("map_device_memory")?;
        if memory.is_revoked() {
            return Err(refuse!(
                self,
                ENODEV,
                "map_device_memory: the memory is revoked"
            ));
        }
        if MmapAction::kind_of(&self.raw().action) != ActionKind::Nothing {
            return Err(refuse!(
                self,
                EINVAL,
                "map_device_memory: an action is already set"
            ));
        }
        if !self.is_shared() {
            return Err(refuse!(
                self,
                EINVAL,
                "map_device_memory: a private mapping"
            ));
        }
        if self.flags().contains(VmaFlag::MIXEDMAP) {
            return Err(refuse!(
                self,
                EINVAL,
                "map_device_memory: a VM_MIXEDMAP mapping"
            ));
        }
        // A stacked caller that gave the VMA to this file (`vm_file == file`) is refused in
        // `mapped`, where the VMA is seen not to be linked.
        if self.raw().vm_file != self.raw().file {
            return Err(refuse!(
                self,
                EINVAL,
                "map_device_memory: the VMA will map another file"
            ));
        }
        let pages = memory.len() / PAGE_SIZE;
        if self.pgoff() > pages || self.pages() > pages - self.pgoff() {
            return Err(refuse!(
                self,
                EINVAL,
                "map_device_memory: the mapping does not fit the memory at its offset"
            ));
        }
        let flags = self.flags().union(
            VmaFlag::IO
                | VmaFlag::PFNMAP
                | VmaFlag::DONTEXPAND
                | VmaFlag::DONTDUMP
                | VmaFlag::DONTCOPY,
        );
        let cache = memory.cache_mode();
        let raw = self.raw_mut();
        raw.vma_flags = flags.to_raw();
        raw.page_prot = cache.apply(raw.page_prot);
        raw.vm_ops = DEVICE_MEMORY_VM_OPS.as_raw();
        raw.private_data = borrowed_tag(&memory);
        Ok(())
    }
}
