// SPDX-License-Identifier: GPL-2.0

//! Safe Rust abstractions for `f_op->mmap_prepare` (Linux 7.3).
//!
//! A driver's `mmap_prepare` receives a [`VmAreaDesc`] before any VMA exists, may change the
//! fields the contract allows, may ask the core for an [`MmapAction`], and learns about the new
//! VMA in [`VmOperations::mapped`], which is also where the VMA's data is created. Later, VMA
//! lookups see a [`VmAreaRef`], which [`VmAreaRef::as_own`] proves to be the driver's own
//! ([`OwnVmArea`], what `fault`, `may_split` and `mprotect` get) before its data is reached or
//! pages are inserted into it (once proved `VM_MIXEDMAP`: [`VmAreaMixedMapRef`]). What reaches
//! the calling task's own memory takes a [`UserContext`], which no callback that runs under the
//! task's mmap lock gets. [`DeviceMemory`] maps device memory revocably.
//! [`MmapMiscDeviceRegistration`] is a misc device whose files offer `mmap_prepare`.
//!
//! The crate is built as the module `rust_mmap_prepare.ko`; a module that uses it includes
//! `rust/consumer.mk` from its Kbuild file and writes `use mmap_prepare::...`.
//!
//! Reference: [`Documentation/filesystems/mmap_prepare.rst`](srctree/Documentation/filesystems/mmap_prepare.rst).

pub mod action;
pub mod borrow;
mod c_helpers;
pub mod desc;
pub mod device;
pub mod device_memory;
pub mod file;
pub mod flags;
mod log;
pub mod memlock;
pub mod pages;
pub mod user;
pub mod vm_ops;
pub mod vma;

pub use action::{CacheMode, MmapAction};
pub use borrow::IntoRef;
pub use desc::VmAreaDesc;
pub use device::{MmapMiscDevice, MmapMiscDeviceRegistration};
pub use device_memory::DeviceMemory;
pub use file::MmapPrepareFile;
pub use flags::{VmaFlag, VmaFlags};
pub use memlock::LockedMemAccount;
pub use pages::{KernelPage, KernelPages, MappablePage, PageArray, PageCopy, PinnedUserBuffer};
pub use user::UserContext;
pub use vm_ops::{
    ClosingArea, FaultAnswer, FaultError, FaultResult, MappedArea, OpeningArea, VmFault,
    VmOperations, VmOpsTable, VmaData,
};
pub use vma::{OwnVmArea, VmAreaMixedMapRef, VmAreaRef};

/// The prefix of this crate's log lines (`module!` defines it in module crates).
const __LOG_PREFIX: &[u8] = b"mmap_prepare\0";
