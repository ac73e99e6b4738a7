// SPDX-License-Identifier: GPL-2.0

//! VMA flags as a typed set.
//!
//! C header: [`include/linux/mm.h`](srctree/include/linux/mm.h) (`VMA_*_BIT`, `vma_flags_t`).
//!
//! 7.3 describes VMA flags by bit number (`VMA_READ_BIT`, ...) in a `vma_flags_t` bitmap. A
//! [`VmaFlag`] is one such bit and [`VmaFlags`] a set of them. Which of them a driver may change,
//! and when, is decided by [`VmAreaDesc`](crate::VmAreaDesc), not here.

use kernel::bindings;

// `vma_flags_t` is one word on every architecture 7.3 supports with Rust (NUM_VMA_FLAG_BITS ==
// BITS_PER_LONG). If that ever grows, `VmaFlags` must grow with it.
const _: () =
    assert!(core::mem::size_of::<bindings::vma_flags_t>() == core::mem::size_of::<usize>());

/// A single VMA flag: a bit number of `vma_flags_t`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub struct VmaFlag(u32);

macro_rules! vma_flags {
    ($($(#[$doc:meta])* $name:ident = $bit:ident,)*) => {
        impl VmaFlag {
            $( $(#[$doc])* pub const $name: Self = Self(bindings::$bit as u32); )*

            /// Every flag this type names, with its name, for tests and diagnostics.
            pub const ALL: &'static [(&'static str, VmaFlag)] = &[$((stringify!($name), Self::$name)),*];
        }
    };
}

vma_flags! {
    /// `VM_READ`: pages may be read.
    READ = VMA_READ_BIT,
    /// `VM_WRITE`: pages may be written.
    WRITE = VMA_WRITE_BIT,
    /// `VM_EXEC`: pages may be executed.
    EXEC = VMA_EXEC_BIT,
    /// `VM_SHARED`: a shared mapping that may be written.
    SHARED = VMA_SHARED_BIT,
    /// `VM_MAYREAD`: `mprotect()` may add `READ`.
    MAYREAD = VMA_MAYREAD_BIT,
    /// `VM_MAYWRITE`: `mprotect()` may add `WRITE`.
    MAYWRITE = VMA_MAYWRITE_BIT,
    /// `VM_MAYEXEC`: `mprotect()` may add `EXEC`.
    MAYEXEC = VMA_MAYEXEC_BIT,
    /// `VM_MAYSHARE`: a shared mapping (`MAP_SHARED`), writable or not.
    MAYSHARE = VMA_MAYSHARE_BIT,
    /// `VM_PFNMAP`: pure PFN mapping; no `struct page` is touched, GUP refuses it.
    PFNMAP = VMA_PFNMAP_BIT,
    /// `VM_IO`: memory-mapped I/O or similar.
    IO = VMA_IO_BIT,
    /// `VM_DONTCOPY`: not copied on fork.
    DONTCOPY = VMA_DONTCOPY_BIT,
    /// `VM_DONTEXPAND`: `mremap()` may not expand the mapping.
    DONTEXPAND = VMA_DONTEXPAND_BIT,
    /// `VM_LOCKONFAULT`: pages are locked as they fault in.
    LOCKONFAULT = VMA_LOCKONFAULT_BIT,
    /// `VM_ACCOUNT`: the mapping is charged to the commit limit.
    ACCOUNT = VMA_ACCOUNT_BIT,
    /// `VM_NORESERVE`: no swap space is reserved.
    NORESERVE = VMA_NORESERVE_BIT,
    /// `VM_HUGETLB`: a hugetlbfs mapping.
    HUGETLB = VMA_HUGETLB_BIT,
    /// `VM_SYNC`: synchronous page faults (DAX).
    SYNC = VMA_SYNC_BIT,
    /// `VM_WIPEONFORK`: the child of a fork sees zeroes.
    WIPEONFORK = VMA_WIPEONFORK_BIT,
    /// `VM_DONTDUMP`: left out of core dumps.
    DONTDUMP = VMA_DONTDUMP_BIT,
    /// `VM_SOFTDIRTY`: soft-dirty tracking state.
    SOFTDIRTY = VMA_SOFTDIRTY_BIT,
    /// `VM_MIXEDMAP`: may hold both `struct page` and pure PFN entries (`vm_insert_page`).
    MIXEDMAP = VMA_MIXEDMAP_BIT,
    /// `VM_HUGEPAGE`: `MADV_HUGEPAGE` was given.
    HUGEPAGE = VMA_HUGEPAGE_BIT,
    /// `VM_NOHUGEPAGE`: `MADV_NOHUGEPAGE` was given.
    NOHUGEPAGE = VMA_NOHUGEPAGE_BIT,
    /// `VM_MERGEABLE`: KSM may merge its pages.
    MERGEABLE = VMA_MERGEABLE_BIT,
}

impl VmaFlag {
    /// The bit number in `vma_flags_t` (the value of `VMA_*_BIT`).
    #[inline]
    pub const fn bit(self) -> u32 {
        self.0
    }

    /// The flag as a one-element set; its [`VmaFlags::bits`] equal the legacy `VM_*` value.
    #[inline]
    pub const fn set(self) -> VmaFlags {
        VmaFlags(1 << self.0)
    }
}

/// A set of VMA flags, the value of a `vma_flags_t`.
#[derive(Copy, Clone, PartialEq, Eq, Default, Debug)]
pub struct VmaFlags(usize);

impl VmaFlags {
    /// The empty set.
    pub const EMPTY: Self = Self(0);

    /// The flags a driver may not gain: only the core grants `VM_MAY*`.
    pub const MAY_FLAGS: Self = Self::of(&[
        VmaFlag::MAYREAD,
        VmaFlag::MAYWRITE,
        VmaFlag::MAYEXEC,
        VmaFlag::MAYSHARE,
    ]);

    /// The flags that make a VMA unmergeable (`VM_SPECIAL`).
    pub const SPECIAL: Self = Self::of(&[
        VmaFlag::IO,
        VmaFlag::DONTEXPAND,
        VmaFlag::PFNMAP,
        VmaFlag::MIXEDMAP,
    ]);

    /// The flags a PFN remap action adds (`VMA_REMAP_FLAGS`).
    pub const REMAP: Self = Self::of(&[
        VmaFlag::IO,
        VmaFlag::PFNMAP,
        VmaFlag::DONTEXPAND,
        VmaFlag::DONTDUMP,
    ]);

    /// Builds a set from a list of flags.
    pub const fn of(flags: &[VmaFlag]) -> Self {
        let mut bits = 0;
        let mut i = 0;
        while i < flags.len() {
            bits |= 1 << flags[i].0;
            i += 1;
        }
        Self(bits)
    }

    /// The set as a `vm_flags_t`-style word: bit `n` is `VMA_*_BIT == n`.
    #[inline]
    pub const fn bits(self) -> usize {
        self.0
    }

    /// Whether `flag` is in the set.
    #[inline]
    pub const fn contains(self, flag: VmaFlag) -> bool {
        self.0 & (1 << flag.0) != 0
    }

    /// Whether any flag of `other` is in the set.
    #[inline]
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// Whether every flag of `other` is in the set.
    #[inline]
    pub const fn contains_all(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the set is empty.
    #[inline]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The union of two sets.
    #[inline]
    pub const fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// The flags in both sets.
    #[inline]
    pub const fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    /// The flags of `self` that are not in `other`.
    #[inline]
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    /// Iterates over the flags of the set that [`VmaFlag`] names.
    pub fn iter(self) -> impl Iterator<Item = (&'static str, VmaFlag)> {
        VmaFlag::ALL
            .iter()
            .copied()
            .filter(move |(_, f)| self.contains(*f))
    }

    /// The set whose bits are `bits` (bit `n` is `VMA_*_BIT == n`, as in a `vm_flags_t`).
    #[inline]
    pub const fn from_bits(bits: usize) -> Self {
        Self(bits)
    }

    #[inline]
    pub(crate) fn from_raw(raw: bindings::vma_flags_t) -> Self {
        Self(raw.__vma_flags[0])
    }

    #[inline]
    pub(crate) fn to_raw(self) -> bindings::vma_flags_t {
        bindings::vma_flags_t {
            __vma_flags: [self.0],
        }
    }
}

impl From<VmaFlag> for VmaFlags {
    #[inline]
    fn from(flag: VmaFlag) -> Self {
        flag.set()
    }
}

impl core::ops::BitOr for VmaFlag {
    type Output = VmaFlags;

    #[inline]
    fn bitor(self, rhs: Self) -> VmaFlags {
        self.set().union(rhs.set())
    }
}

impl core::ops::BitOr<VmaFlag> for VmaFlags {
    type Output = VmaFlags;

    #[inline]
    fn bitor(self, rhs: VmaFlag) -> VmaFlags {
        self.union(rhs.set())
    }
}

impl core::ops::BitOr for VmaFlags {
    type Output = VmaFlags;

    #[inline]
    fn bitor(self, rhs: Self) -> VmaFlags {
        self.union(rhs)
    }
}

/// Names the flags, `VM_A|VM_B` (unnamed bits as a hexadecimal remainder), for log lines.
impl core::fmt::Display for VmaFlags {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut rest = *self;
        let mut sep = "";
        for (name, flag) in self.iter() {
            write!(f, "{sep}VM_{name}")?;
            rest = rest.difference(flag.set());
            sep = "|";
        }
        if !rest.is_empty() || sep.is_empty() {
            write!(f, "{sep}{:#x}", rest.bits())?;
        }
        Ok(())
    }
}
