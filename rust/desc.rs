// SPDX-License-Identifier: GPL-2.0

//! The VMA descriptor handed to `f_op->mmap_prepare`.
//!
//! C header: [`include/linux/mm_types.h`](srctree/include/linux/mm_types.h) (`struct vm_area_desc`).
//! Contract: [`Documentation/filesystems/mmap_prepare.rst`](srctree/Documentation/filesystems/mmap_prepare.rst).

use crate::{
    action::{ActionKind, MmapAction},
    c_helpers::{rmp_pgprot_device, rmp_pgprot_noncached, rmp_pgprot_writecombine},
    flags::{VmaFlag, VmaFlags},
    vm_ops::VmOperations,
};
use core::marker::PhantomData;
use kernel::{
    bindings,
    error::code::{EINVAL, EPERM},
    fs::File,
    mm::MmWithUser,
    prelude::*,
    types::{ForeignOwnable, Opaque},
};

/// Each access flag and the `MAY` flag it needs.
const ACCESS_PAIRS: [(VmaFlag, VmaFlag); 3] = [
    (VmaFlag::READ, VmaFlag::MAYREAD),
    (VmaFlag::WRITE, VmaFlag::MAYWRITE),
    (VmaFlag::EXEC, VmaFlag::MAYEXEC),
];

/// Page protection bits of a mapping (`pgprot_t`).
///
/// Only obtained from a descriptor and changed through the cache-mode variants below, so a driver
/// cannot forge protection bits.
#[derive(Copy, Clone)]
pub struct PageProt(bindings::pgprot_t);

impl PageProt {
    /// The same protection, uncached (`pgprot_noncached`).
    #[inline]
    pub fn noncached(self) -> Self {
        // SAFETY: A pure function of its argument.
        Self(unsafe { rmp_pgprot_noncached(self.0) })
    }

    /// The same protection, write-combining (`pgprot_writecombine`).
    #[inline]
    pub fn writecombine(self) -> Self {
        // SAFETY: A pure function of its argument.
        Self(unsafe { rmp_pgprot_writecombine(self.0) })
    }

    /// The same protection, for device memory (`pgprot_device`).
    #[inline]
    pub fn device(self) -> Self {
        // SAFETY: A pure function of its argument.
        Self(unsafe { rmp_pgprot_device(self.0) })
    }

    /// The raw `pgprot_t` value, for diagnostics and tests.
    #[inline]
    pub fn raw(self) -> u64 {
        self.0.pgprot as u64
    }
}

/// Makes `'a` invariant: a driver must not shorten it to pass shorter-lived data to an action.
type Invariant<'a> = fn(&'a ()) -> &'a ();

/// The descriptor of a mapping being set up, as seen from `f_op->mmap_prepare`.
///
/// No VMA exists yet. The driver reads what the user asked for and may change only what the
/// contract allows: some flags (see [`VmAreaDesc::set_flags`]), the page offset, the page
/// protection, the VMA operations ([`VmAreaDesc::set_vm_ops`]) and a follow-up
/// [`MmapAction`]. It must allocate nothing and take no reference: the range may still merge
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

    /// The address space the mapping is being made in.
    #[inline]
    pub fn mm(&self) -> &MmWithUser {
        // SAFETY: The caller of `mmap_prepare` holds the mmap write lock of this mm, so it has
        // users (`mm_users > 0`) for the duration of the call.
        unsafe { MmWithUser::from_raw(self.raw().mm) }
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

    /// The page protection of the mapping.
    #[inline]
    pub fn page_prot(&self) -> PageProt {
        PageProt(self.raw().page_prot)
    }

    /// The flags the pending action will add once `mmap_prepare` returns.
    fn action_flags(&self) -> VmaFlags {
        match MmapAction::kind_of(&self.raw().action) {
            ActionKind::Remap => VmaFlags::REMAP,
            ActionKind::MapKernelPages => VmaFlag::MIXEDMAP.set(),
            ActionKind::Nothing => VmaFlags::EMPTY,
        }
    }

    /// Checks that `flags` is a state the kernel accepts for a new mapping.
    fn check_flags(&self, flags: VmaFlags) -> Result {
        let all = flags.union(self.action_flags());
        if all.contains(VmaFlag::MIXEDMAP) && all.contains(VmaFlag::PFNMAP) {
            return Err(EINVAL);
        }
        for (access, may) in ACCESS_PAIRS {
            if flags.contains(access) && !flags.contains(may) {
                return Err(EINVAL);
            }
        }
        Ok(())
    }

    /// Flags a driver may set or clear in `mmap_prepare`. The others belong to the core (`SHARED`,
    /// `ACCOUNT`, `HUGETLB`, `SOFTDIRTY`, ...), which derives them from the request.
    const DRIVER_FLAGS: VmaFlags = VmaFlags::of(&[
        VmaFlag::DONTDUMP,
        VmaFlag::DONTCOPY,
        VmaFlag::DONTEXPAND,
        VmaFlag::IO,
        VmaFlag::PFNMAP,
        VmaFlag::MIXEDMAP,
        VmaFlag::WIPEONFORK,
        VmaFlag::HUGEPAGE,
        VmaFlag::NOHUGEPAGE,
    ]);

    /// Adds `flags` to the mapping.
    ///
    /// Refused, with nothing changed:
    /// - `EPERM` if it would gain a `VM_MAY*` flag or an access flag (`READ`, `WRITE`, `EXEC`):
    ///   only the user's request grants access. The core checks the request before
    ///   `mmap_prepare` (file mode, `MDWE`, overcommit accounting) and not again after it, so a
    ///   gained access would bypass those checks;
    /// - `EINVAL` for a flag the core owns (`SHARED`, `ACCOUNT`, `HUGETLB`, `SOFTDIRTY`, ...), or
    ///   if `MIXEDMAP` and `PFNMAP` would both be set (counting those the pending action adds).
    ///   `LOCKED` is not offered either: the core checks `RLIMIT_MEMLOCK` and decides to populate
    ///   before `mmap_prepare`, yet charges `mm->locked_vm` for a `VM_LOCKED` set in it.
    pub fn set_flags(&mut self, flags: impl Into<VmaFlags>) -> Result {
        let flags = flags.into();
        let old = self.flags();
        let gained = flags.difference(old);
        let access = VmaFlag::READ | VmaFlag::WRITE | VmaFlag::EXEC;
        if gained.intersects(VmaFlags::MAY_FLAGS.union(access)) {
            return Err(EPERM);
        }
        if !Self::DRIVER_FLAGS.contains_all(gained) {
            return Err(EINVAL);
        }
        let new = old.union(flags);
        self.check_flags(new)?;
        self.raw_mut().vma_flags = new.to_raw();
        Ok(())
    }

    /// Removes `flags` from the mapping.
    ///
    /// A `MAY` flag may be cleared (`MAYREAD`, `MAYWRITE`, `MAYEXEC`) so that `mprotect()` cannot
    /// add the access later, but not while the access itself is set: `EINVAL`. The access flags
    /// the user asked for, `MAYSHARE` and the flags the core owns cannot be cleared: `EINVAL`.
    pub fn clear_flags(&mut self, flags: impl Into<VmaFlags>) -> Result {
        let flags = flags.into();
        let old = self.flags();
        let lost = flags.intersection(old);
        let clearable =
            Self::DRIVER_FLAGS | VmaFlag::MAYREAD | VmaFlag::MAYWRITE | VmaFlag::MAYEXEC;
        if !clearable.contains_all(lost) {
            return Err(EINVAL);
        }
        let new = old.difference(flags);
        self.check_flags(new)?;
        self.raw_mut().vma_flags = new.to_raw();
        Ok(())
    }

    /// Sets the page offset the mapping will have.
    #[inline]
    pub fn set_pgoff(&mut self, pgoff: usize) {
        self.raw_mut().pgoff = pgoff;
    }

    /// Sets the page protection, e.g. `desc.set_page_prot(desc.page_prot().writecombine())`.
    ///
    /// Remap actions copy the protection when they are set, so this fails with `EINVAL` once an
    /// action is set: change the protection first.
    pub fn set_page_prot(&mut self, prot: PageProt) -> Result {
        if MmapAction::kind_of(&self.raw().action) != ActionKind::Nothing {
            pr_warn!("mmap_prepare: page protection changed after the action was set\n");
            return Err(EINVAL);
        }
        self.raw_mut().page_prot = prot.0;
        Ok(())
    }

    /// Installs the VMA operations `V` for the new mapping.
    ///
    /// Nothing is handed over here: if the mapping becomes a new VMA, [`VmOperations::mapped`]
    /// receives a borrow of this file's private data and returns the data the VMA will own.
    ///
    /// Fails with `EINVAL` if the VMA's file is not the file being mapped (a stacking file
    /// system changed it): `mapped` could then not find this file's data.
    pub fn set_vm_ops<V: VmOperations<FileData = F>>(&mut self) -> Result {
        let raw = self.raw_mut();
        if raw.vm_file != raw.file {
            return Err(EINVAL);
        }
        raw.vm_ops = V::table().as_raw();
        // `mapped` finds its source through the file; NULL tells `close` that no data was set.
        raw.private_data = core::ptr::null_mut();
        Ok(())
    }

    /// Sets the action the core takes once `mmap_prepare` returns.
    ///
    /// The action is checked against this descriptor first and refused with the errno the core
    /// would return (`EFAULT` for a range outside the mapping, `EINVAL` for a bad alignment or
    /// a `PFNMAP`/`MIXEDMAP` conflict), so that a bad action fails early and loudly instead of
    /// tripping a `WARN` in the core.
    pub fn set_action(&mut self, action: MmapAction<'a>) -> Result {
        // A PFN remap takes no page reference: what it maps must outlive every VMA that can map
        // it, and only a VMA holding this very file keeps the file's data alive.
        if action.is_pfn_remap() && self.raw().vm_file != self.raw().file {
            return Err(EINVAL);
        }
        let prot = self.raw().page_prot;
        let (start, end, flags, pgoff) = (self.start(), self.end(), self.flags(), self.pgoff());
        action.check(start, end, flags)?;
        action.write(&mut self.raw_mut().action, start, end, prot, pgoff);
        Ok(())
    }
}
