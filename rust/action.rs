// SPDX-License-Identifier: GPL-2.0

//! The follow-up action of `mmap_prepare` (`struct mmap_action`).
//!
//! C: [`include/linux/mm.h`](srctree/include/linux/mm.h) (`mmap_action_*` helpers),
//! [`mm/util.c`](srctree/mm/util.c) (`mmap_action_prepare`, `mmap_action_complete`),
//! [`mm/memory.c`](srctree/mm/memory.c) (`remap_pfn_range_prepare`, `simple_ioremap_prepare`,
//! `map_kernel_pages_prepare`).

use crate::{
    c_helpers::{
        rmp_page_to_pfn, rmp_pgprot_device, rmp_pgprot_noncached, rmp_pgprot_writecombine,
    },
    flags::VmaFlag,
    flags::VmaFlags,
    pages::KernelPages,
};
use kernel::{
    bindings,
    error::code::{EFAULT, EINVAL},
    page::PAGE_SIZE,
    prelude::*,
};

/// The memory type of the page table entries of a device mapping.
///
/// Anything but [`CacheMode::WriteBack`] is accepted only on the `unsafe` PFN and I/O remaps
/// ([`MmapAction::remap_pfn`], [`MmapAction::ioremap`], [`MmapAction::simple_ioremap`] and their
/// `_full` forms), whose caller vouches that the range is device memory: a user mapping of RAM
/// with another memory type than the kernel's own (write-back) mapping of it is an alias that
/// `Documentation/arch/x86/pat.rst` forbids (and that arm64 and riscv do not correct). The mode
/// applies to the descriptor's own protection: the access bits (read, write, exec, shared) always
/// come from the user's request.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Default)]
pub enum CacheMode {
    /// Normal cached memory: what every mapping gets unless it asks otherwise.
    #[default]
    WriteBack,
    /// Write-combining (`pgprot_writecombine`), e.g. for frame buffers.
    WriteCombine,
    /// Uncached (`pgprot_noncached`), e.g. for registers.
    Uncached,
    /// Device memory (`pgprot_device`; uncached on x86).
    Device,
}

impl CacheMode {
    /// `prot` with this memory type.
    pub(crate) fn apply(self, prot: bindings::pgprot_t) -> bindings::pgprot_t {
        match self {
            CacheMode::WriteBack => prot,
            // SAFETY: Pure functions of their argument (static inlines in C).
            CacheMode::WriteCombine => unsafe { rmp_pgprot_writecombine(prot) },
            // SAFETY: As above.
            CacheMode::Uncached => unsafe { rmp_pgprot_noncached(prot) },
            // SAFETY: As above.
            CacheMode::Device => unsafe { rmp_pgprot_device(prot) },
        }
    }
}

/// Where an action starts in the mapping.
#[derive(Copy, Clone)]
enum At {
    /// The whole mapping.
    Full,
    /// From this address, for `size` bytes.
    Range(usize, usize),
}

#[derive(Copy, Clone)]
enum Kind<'a> {
    Nothing,
    /// Built from arguments that name no memory; refused by `check` with this reason.
    Invalid(&'static str),
    Remap {
        at: At,
        pfn: usize,
        io: bool,
        /// Built by an `unsafe` constructor whose caller vouches for the range (device memory);
        /// `false` for [`MmapAction::remap_kernel_page`] (RAM owned by the file's data).
        device: bool,
    },
    SimpleIoremap {
        phys: u64,
        size: usize,
    },
    MapKernelPages {
        at: At,
        pages: &'a KernelPages,
        first: usize,
    },
}

/// What kind of action a raw `struct mmap_action` holds.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum ActionKind {
    Nothing,
    /// Any action that ends in a PFN remap (it adds `VMA_REMAP_FLAGS`).
    Remap,
    MapKernelPages,
}

/// An action the mm core carries out once `mmap_prepare` has returned and the VMA exists.
///
/// Built here, checked and installed with [`VmAreaDesc::set_action`](crate::VmAreaDesc::set_action).
/// `'a` is the lifetime of the open file's private data: memory an action maps must live at least
/// that long, which is longer than any mapping of the file.
///
/// # Examples
///
/// Map the first pages of a driver-owned array into the whole mapping; if it fails, the user
/// sees `EAGAIN` instead of the core's error:
///
/// ```
/// use mmap_prepare::{KernelPages, MmapAction};
///
/// fn action(pages: &KernelPages) -> MmapAction<'_> {
///     MmapAction::map_kernel_pages(pages, 0).error_override(EAGAIN)
/// }
/// # let pages = KernelPages::alloc(2, GFP_KERNEL)?;
/// # let _action = action(&pages);
/// # Ok::<(), Error>(())
/// ```
///
/// Map device memory write-combined (the `unsafe` block is where the driver vouches for the
/// physical range):
///
/// ```
/// use mmap_prepare::{CacheMode, MmapAction};
///
/// /// # Safety
/// ///
/// /// `phys .. phys + size` is device memory that stays usable while the file is mapped.
/// unsafe fn frame_buffer<'a>(phys: u64, size: usize) -> MmapAction<'a> {
///     // SAFETY: Guaranteed by the caller.
///     unsafe { MmapAction::simple_ioremap(phys, size) }.cache_mode(CacheMode::WriteCombine)
/// }
/// ```
#[derive(Copy, Clone)]
pub struct MmapAction<'a> {
    kind: Kind<'a>,
    cache: CacheMode,
    error_override: i32,
    hide_from_rmap: bool,
}

impl<'a> MmapAction<'a> {
    const fn new(kind: Kind<'a>) -> Self {
        Self {
            kind,
            cache: CacheMode::WriteBack,
            error_override: 0,
            hide_from_rmap: false,
        }
    }

    /// No action: the driver populates the mapping itself (e.g. from `fault`).
    pub const fn nothing() -> Self {
        Self::new(Kind::Nothing)
    }

    /// Remaps the PFN range starting at `pfn` over the whole mapping.
    ///
    /// The core marks the VMA `IO | PFNMAP | DONTEXPAND | DONTDUMP`.
    ///
    /// # Safety
    ///
    /// The physical range `pfn .. pfn + mapping pages` must be memory that userspace may access
    /// as long as any mapping of this file exists (device memory, or memory the driver keeps
    /// allocated until the file is released), with the mapping's protection and cache mode; for
    /// a [`CacheMode`] other than write-back it must be device memory, not RAM.
    pub const unsafe fn remap_pfn_full(pfn: usize) -> Self {
        Self::new(Kind::Remap {
            at: At::Full,
            pfn,
            io: false,
            device: true,
        })
    }

    /// Remaps `size` bytes from PFN `pfn` at address `start` of the mapping.
    ///
    /// # Safety
    ///
    /// As for [`MmapAction::remap_pfn_full`], for `size` bytes from `pfn`.
    pub const unsafe fn remap_pfn(start: usize, pfn: usize, size: usize) -> Self {
        Self::new(Kind::Remap {
            at: At::Range(start, size),
            pfn,
            io: false,
            device: true,
        })
    }

    /// Remaps page `index` of `pages` over the whole mapping, which must be exactly one page
    /// (`EINVAL` otherwise, or if the slot is empty), as a PFN mapping: no `struct page`
    /// reference is taken, and GUP cannot reach it. To map several pages, use
    /// [`MmapAction::map_kernel_pages`] or insert PFNs from a fault handler
    /// ([`VmFault::insert_pfn_from`](crate::VmFault::insert_pfn_from)): pages of a
    /// [`KernelPages`] are not physically contiguous.
    ///
    /// Safe because `pages` is borrowed from the file's private data (`'a`), which outlives every
    /// mapping of the file: the page cannot be freed while userspace can reach it.
    ///
    /// Refused (`EINVAL`) on a copy-on-write mapping (private, with `VM_MAYWRITE`): the core would
    /// make the VMA's offset the page's frame number, a kernel physical address that
    /// `/proc/<pid>/maps` shows. A private mapping may use it once `MAYWRITE` is cleared
    /// ([`VmAreaDesc::clear_flags`](crate::VmAreaDesc::clear_flags)).
    ///
    /// `pages` must be borrowed for `'a`: a borrow through the file data's smart pointer
    /// (`&data.pages` on an `ArcBorrow`) only lives as long as the local variable and fails with
    /// E0597; write `&data.into_ref().pages` ([`IntoRef`](crate::IntoRef)) instead:
    ///
    /// ```
    /// use kernel::sync::ArcBorrow;
    /// use mmap_prepare::{IntoRef, KernelPages, MmapAction};
    ///
    /// struct Data {
    ///     pages: KernelPages,
    /// }
    ///
    /// fn action<'a>(data: ArcBorrow<'a, Data>) -> MmapAction<'a> {
    ///     MmapAction::remap_kernel_page(&data.into_ref().pages, 0)
    /// }
    /// ```
    pub fn remap_kernel_page(pages: &'a KernelPages, index: usize) -> Self {
        let Some(page) = pages.page(index) else {
            return Self::new(Kind::Invalid("remap_kernel_page: the slot is empty"));
        };
        // SAFETY: `page` is a valid page.
        let pfn = unsafe { rmp_page_to_pfn(page.as_ptr()) };
        Self::new(Kind::Remap {
            at: At::Full,
            pfn,
            io: false,
            device: false,
        })
    }

    /// I/O-remaps the PFN range starting at `pfn` over the whole mapping (`io_remap_pfn_range`).
    ///
    /// # Safety
    ///
    /// As for [`MmapAction::remap_pfn_full`].
    pub const unsafe fn ioremap_full(pfn: usize) -> Self {
        Self::new(Kind::Remap {
            at: At::Full,
            pfn,
            io: true,
            device: true,
        })
    }

    /// I/O-remaps `size` bytes from PFN `pfn` at address `start` of the mapping.
    ///
    /// # Safety
    ///
    /// As for [`MmapAction::remap_pfn_full`], for `size` bytes from `pfn`.
    pub const unsafe fn ioremap(start: usize, pfn: usize, size: usize) -> Self {
        Self::new(Kind::Remap {
            at: At::Range(start, size),
            pfn,
            io: true,
            device: true,
        })
    }

    /// Maps the physical range `phys .. phys + size` with the guardrails of `vm_iomap_memory`:
    /// the core checks that the mapping, shifted by its page offset, fits in the range.
    ///
    /// # Safety
    ///
    /// The physical range must be device memory that userspace may access as long as any mapping
    /// of this file exists.
    pub const unsafe fn simple_ioremap(phys: u64, size: usize) -> Self {
        Self::new(Kind::SimpleIoremap { phys, size })
    }

    /// Maps `pages[first..]` over the whole mapping; the VMA becomes `VM_MIXEDMAP`. Every slot
    /// used must hold a page (`EINVAL` otherwise).
    ///
    /// Each page mapped gets a reference of its own. `pages` must be borrowed for `'a`: see
    /// [`MmapAction::remap_kernel_page`] for how (`&data.into_ref().pages`).
    pub const fn map_kernel_pages(pages: &'a KernelPages, first: usize) -> Self {
        Self::new(Kind::MapKernelPages {
            at: At::Full,
            pages,
            first,
        })
    }

    /// Maps `count` pages from `pages[first]` at address `start` of the mapping.
    pub fn map_kernel_pages_at(
        start: usize,
        pages: &'a KernelPages,
        first: usize,
        count: usize,
    ) -> Self {
        match count.checked_mul(PAGE_SIZE) {
            Some(size) => Self::new(Kind::MapKernelPages {
                at: At::Range(start, size),
                pages,
                first,
            }),
            None => Self::new(Kind::Invalid(
                "map_kernel_pages_at: the page count overflows",
            )),
        }
    }

    /// Maps with memory type `mode` instead of write-back. Only the `unsafe` PFN and I/O remaps
    /// accept a mode other than [`CacheMode::WriteBack`]; any other action is refused with
    /// `EINVAL` by [`VmAreaDesc::set_action`](crate::VmAreaDesc::set_action) (see [`CacheMode`]).
    pub const fn cache_mode(mut self, mode: CacheMode) -> Self {
        self.cache = mode;
        self
    }

    /// Replaces the errors of completing the action (once the VMA exists) and of
    /// [`mapped`](crate::VmOperations::mapped) with `err`. Errors of `mmap_prepare` itself and the
    /// core's validation of the action (`mmap_action_prepare()`, right after `mmap_prepare`
    /// returns) are not replaced, nor is any error on the stacked-caller path
    /// (`compat_vma_mmap()`).
    ///
    /// An [`Error`] is always a valid errno, which is what the core requires.
    pub fn error_override(mut self, err: Error) -> Self {
        self.error_override = err.to_errno();
        self
    }

    /// Keeps rmap from reaching the VMA until the action completed: `vma_link_file()` keeps the
    /// file's `i_mmap_rwsem` held for writing from the VMA's insertion until `mapped` returned
    /// (`mm/vma.c`, `maybe_rmap_unlock_action()` in `mm/internal.h`). Ignored on the
    /// stacked-caller path (`compat_vma_mmap()`).
    ///
    /// # Safety
    ///
    /// The mapping's `mapped` (and anything it calls) must not take that lock, nor wait for a
    /// task that may be waiting for it: in particular it must not call
    /// [`DeviceMemory::revoke`](crate::DeviceMemory::revoke) or zap a mapping of the same file
    /// (`unmap_mapping_range()` takes `i_mmap_rwsem` for reading: the task deadlocks on itself),
    /// nor allocate memory whose reclaim could wait for such a task.
    pub const unsafe fn hide_from_rmap_until_complete(mut self) -> Self {
        self.hide_from_rmap = true;
        self
    }

    /// Whether the action installs PFN entries, which hold no page reference.
    pub(crate) fn is_pfn_remap(&self) -> bool {
        matches!(self.kind, Kind::Remap { .. } | Kind::SimpleIoremap { .. })
    }

    /// Whether the driver vouched (in `unsafe`) that what the action maps is device memory.
    fn is_device(&self) -> bool {
        matches!(
            self.kind,
            Kind::Remap { device: true, .. } | Kind::SimpleIoremap { .. }
        )
    }

    /// The range `[start, end)` of the mapping this action covers.
    fn range(at: At, start: usize, end: usize) -> Result<(usize, usize), (Error, &'static str)> {
        let (from, size) = match at {
            At::Full => (start, end - start),
            At::Range(from, size) => (from, size),
        };
        if from % PAGE_SIZE != 0 || size % PAGE_SIZE != 0 || size == 0 {
            return Err((EINVAL, "the action's range is empty or not page aligned"));
        }
        let to = from
            .checked_add(size)
            .ok_or((EFAULT, "the action's range overflows"))?;
        if from < start || to > end {
            return Err((EFAULT, "the action's range is outside the mapping"));
        }
        Ok((from, to))
    }

    /// Checks the action against a mapping `[start, end)` with `flags`, refusing what the core
    /// would refuse (or warn about) with the errno it would use, and what would be unsound.
    pub(crate) fn check(
        &self,
        start: usize,
        end: usize,
        flags: VmaFlags,
    ) -> Result<(), (Error, &'static str)> {
        if self.cache != CacheMode::WriteBack && !self.is_device() {
            return Err((
                EINVAL,
                "a cache mode other than write-back is only for device memory (unsafe remaps)",
            ));
        }
        match self.kind {
            Kind::Nothing => Ok(()),
            Kind::Invalid(why) => Err((EINVAL, why)),
            Kind::Remap { at, device, .. } => {
                Self::range(at, start, end)?;
                if !device && end - start != PAGE_SIZE {
                    return Err((
                        EINVAL,
                        "remap_kernel_page needs a mapping of exactly one page",
                    ));
                }
                // For a copy-on-write remap the core makes the VMA's offset the page frame number
                // (`get_remap_pgoff()`, `mm/memory.c`), which `/proc/<pid>/maps` shows to the
                // mapping's owner: the physical address of a kernel page, which the kernel hides
                // from unprivileged `pagemap` readers.
                if !device && !flags.contains(VmaFlag::SHARED) && flags.contains(VmaFlag::MAYWRITE)
                {
                    return Err((
                        EINVAL,
                        "remap_kernel_page on a copy-on-write mapping (the offset would be the page's PFN)",
                    ));
                }
                // The core adds PFNMAP: MIXEDMAP and PFNMAP are never set together (the PFN
                // insertion paths `BUG()` on a VMA with both).
                if flags.contains(VmaFlag::MIXEDMAP) {
                    return Err((EINVAL, "a PFN remap on a VM_MIXEDMAP mapping"));
                }
                Ok(())
            }
            Kind::SimpleIoremap { phys, size } => {
                if flags.contains(VmaFlag::MIXEDMAP) {
                    return Err((EINVAL, "a PFN remap on a VM_MIXEDMAP mapping"));
                }
                if size == 0 || phys.checked_add(size as u64).is_none() {
                    return Err((EINVAL, "simple_ioremap: an empty or overflowing range"));
                }
                Ok(())
            }
            Kind::MapKernelPages { at, pages, first } => {
                let (from, to) = Self::range(at, start, end)?;
                let count = (to - from) / PAGE_SIZE;
                // Filled slots stay filled while `pages` is borrowed, up to when the core reads
                // them after `mmap_prepare` returned.
                if !pages.are_present(first, count) {
                    return Err((EINVAL, "map_kernel_pages: not every slot used holds a page"));
                }
                // The core adds MIXEDMAP and warns if PFNMAP is set.
                if flags.contains(VmaFlag::PFNMAP) {
                    return Err((EINVAL, "map_kernel_pages on a VM_PFNMAP mapping"));
                }
                Ok(())
            }
        }
    }

    /// Writes the action into the descriptor's `struct mmap_action`, with `prot` the protection
    /// the mapping will have (the cache mode already applied). Must follow a successful
    /// [`MmapAction::check`] against the same mapping.
    pub(crate) fn write(
        &self,
        raw: &mut bindings::mmap_action,
        start: usize,
        end: usize,
        prot: bindings::pgprot_t,
        pgoff: usize,
    ) {
        let resolve = |at| match at {
            At::Full => (start, end - start),
            At::Range(from, size) => (from, size),
        };
        match self.kind {
            Kind::Nothing | Kind::Invalid(_) => raw.type_ = bindings::mmap_action_type_MMAP_NOTHING,
            Kind::Remap { at, pfn, io, .. } => {
                let (from, size) = resolve(at);
                raw.__bindgen_anon_1.remap = bindings::mmap_action__bindgen_ty_1__bindgen_ty_1 {
                    start: from,
                    start_pfn: pfn,
                    size,
                    pgprot: prot,
                };
                raw.type_ = if io {
                    bindings::mmap_action_type_MMAP_IO_REMAP_PFN
                } else {
                    bindings::mmap_action_type_MMAP_REMAP_PFN
                };
            }
            Kind::SimpleIoremap { phys, size } => {
                // The core turns this into an I/O remap with the descriptor's protection.
                raw.__bindgen_anon_1.simple_ioremap =
                    bindings::mmap_action__bindgen_ty_1__bindgen_ty_2 {
                        start_phys_addr: phys,
                        size,
                    };
                raw.type_ = bindings::mmap_action_type_MMAP_SIMPLE_IO_REMAP;
            }
            Kind::MapKernelPages { at, pages, first } => {
                let (from, size) = resolve(at);
                raw.__bindgen_anon_1.map_kernel =
                    bindings::mmap_action__bindgen_ty_1__bindgen_ty_3 {
                        start: from,
                        // `check` proved these slots present.
                        pages: pages.as_raw(first),
                        nr_pages: size / PAGE_SIZE,
                        pgoff,
                    };
                raw.type_ = bindings::mmap_action_type_MMAP_MAP_KERNEL_PAGES;
            }
        }
        raw.error_override = self.error_override;
        raw.set_hide_from_rmap_until_complete(self.hide_from_rmap);
    }

    /// The memory type the action asks for.
    pub(crate) fn cache(&self) -> CacheMode {
        self.cache
    }

    /// The kind of action a raw `struct mmap_action` holds.
    pub(crate) fn kind_of(raw: &bindings::mmap_action) -> ActionKind {
        match raw.type_ {
            bindings::mmap_action_type_MMAP_MAP_KERNEL_PAGES => ActionKind::MapKernelPages,
            bindings::mmap_action_type_MMAP_NOTHING => ActionKind::Nothing,
            _ => ActionKind::Remap,
        }
    }
}
