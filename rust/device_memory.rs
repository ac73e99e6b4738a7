// SPDX-License-Identifier: GPL-2.0

//! Device memory (a PCI BAR, say) mapped to userspace through `mmap_prepare`, revocably.
//!
//! C: [`mm/memory.c`](srctree/mm/memory.c) (`simple_ioremap_prepare`, `unmap_mapping_range`).
//!
//! A driver that maps device memory must make sure no user mapping of it survives the device:
//! once the driver is unbound the physical range may be given to another device. The C way
//! (vfio, uio, DRM) is to zap every user mapping on removal and refuse new ones. [`DeviceMemory`]
//! does that for the driver, and it is the only way to map device memory without `unsafe`:
//!
//! - [`VmAreaDesc::map_device_memory`](crate::VmAreaDesc::map_device_memory) sets up the mapping
//!   (a `simple_ioremap` action, so the core checks that the mapping, shifted by its offset, fits
//!   the range) and installs this module's VMA operations, whose `mapped` refuses (`ENODEV`) a
//!   mapping made while the memory was being revoked, and which keep a reference to the
//!   [`DeviceMemory`] and count the VMAs of each file mapping it.
//! - [`DeviceMemory::revoke`] zaps every VMA of every file mapping that maps it
//!   (`unmap_mapping_range()`), and every later mapping is refused; a VMA that was zapped gets
//!   `SIGBUS` on access (it has no fault handler).
//! - [`PciBarMemory`] (with `CONFIG_PCI`) is the safe owner for a PCI BAR: it requests the region
//!   while the driver is bound and revokes before releasing it.
//!
//! The mappings are `VM_DONTCOPY`: a fork copies PFN entries without the rmap locks, so a child
//! could keep entries a concurrent revocation had already walked past.

use crate::{
    action::{CacheMode, MmapAction},
    c_helpers::{rmp_mmap_lock_seq, rmp_new_vma_is_linked},
    log::driver_warn,
};
use core::ptr::NonNull;
use kernel::{
    alloc::kvec::PushError,
    bindings,
    error::code::{EINVAL, ENODEV},
    fs::File,
    mm::{Mm, MmWithUser},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::aref::ARef,
    sync::{Arc, ArcBorrow, Mutex},
    types::Opaque,
};

/// One file mapping (`struct address_space`) with VMAs of a [`DeviceMemory`], and how many.
struct FileMapping {
    mapping: NonNull<bindings::address_space>,
    vmas: usize,
}

struct State {
    revoked: bool,
    /// Every file mapping that has VMAs of this memory.
    ///
    /// INVARIANT: each entry counts live VMAs whose `vm_file->f_mapping` it is; each such VMA
    /// holds its file, hence the inode and its mapping, so the pointer is valid while `vmas > 0`,
    /// and the entry is removed when it drops to 0.
    mappings: KVec<FileMapping>,
    /// Room for `revoke` to list the mappings to zap without allocating (it cannot fail).
    ///
    /// INVARIANT: empty, with a capacity of at least `mappings.len()` until revoked.
    to_zap: KVec<(NonNull<bindings::address_space>, NonNull<bindings::inode>)>,
    /// The address spaces whose mmap call may have a mapping of this memory in flight: one that
    /// got its action from [`DeviceMemory::begin_mapping`] and whose `mapped` has not counted it
    /// yet, with the mmap lock sequence of that call (see `mmap_lock_seq`). Its VMA may not be
    /// linked where `revoke` can find it (`i_mmap`) yet, so `revoke` waits for the call to end
    /// instead, under that address space's mmap lock. An entry may stay after a call that failed
    /// before `mapped`; `revoke` sees from the sequence that the call is over.
    mappers: KVec<(ARef<Mm>, u32)>,
}

/// A physical range of device memory that userspace may map until it is revoked.
///
/// # Invariants
///
/// `phys .. phys + len` is device memory that userspace may access, with any cache mode, until
/// [`DeviceMemory::revoke`] has returned; after that no user mapping of it exists or can be made.
#[pin_data]
pub struct DeviceMemory {
    phys: u64,
    len: usize,
    #[pin]
    state: Mutex<State>,
    /// Held by `revoke` from start to end: the first call takes the records of the mmap calls
    /// in flight, and a concurrent call must not return before the first one waited for them.
    #[pin]
    revoking: Mutex<()>,
}

// SAFETY: The raw mapping pointers are only dereferenced under the mutex, by any thread.
unsafe impl Send for State {}

impl DeviceMemory {
    /// Makes `phys .. phys + len` mappable.
    ///
    /// `EINVAL` unless `phys` and `len` are page aligned and `len` is not 0: the core maps whole
    /// pages (`simple_ioremap` rounds the range out to pages), so a range that ends inside a page
    /// would map the rest of that page too, which may be another device's registers.
    ///
    /// # Safety
    ///
    /// The range must be device memory (not RAM) that userspace may read and write with any cache
    /// mode, reserved for the caller (e.g. a requested PCI region), until [`DeviceMemory::revoke`]
    /// has returned: the caller must call it before giving the range up. Nothing else may hold a
    /// mapping of it with another memory type meanwhile (on x86 the kernel's own `ioremap()` of
    /// the range would decide the type of every user mapping: see [`PciBarMemory`]).
    pub unsafe fn new(phys: u64, len: usize) -> Result<Arc<Self>> {
        let page = PAGE_SIZE as u64;
        if len == 0 || phys % page != 0 || len as u64 % page != 0 {
            return Err(EINVAL);
        }
        Arc::pin_init(
            try_pin_init!(Self {
                phys,
                len,
                state <- new_mutex!(State {
                    revoked: false,
                    mappings: KVec::new(),
                    to_zap: KVec::new(),
                    mappers: KVec::new(),
                }),
                revoking <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// The physical start of the range.
    pub fn phys(&self) -> u64 {
        self.phys
    }

    /// The length of the range in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the range is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether the memory was revoked.
    pub fn is_revoked(&self) -> bool {
        self.state.lock().revoked
    }

    /// Zaps every user mapping of the memory and refuses new ones (`ENODEV`). Idempotent; may
    /// sleep, and takes the mmap lock of address spaces that were mapping the memory: call it
    /// without holding any mmap lock or a lock taken under one (not from `mmap_prepare`, a VMA
    /// callback or a fault handler): calls are serialized, so another task's `revoke` could wait
    /// for this one while holding the mmap lock this one waits for. Lockdep reports the inverted
    /// order.
    ///
    /// When it returns, no page table entry maps the range, even if another `revoke` runs at the
    /// same time (calls are serialized).
    pub fn revoke(&self) {
        let _serial = self.revoking.lock();
        // A mapping whose `mapped` ran before `revoked` is set below is counted in `mappings`;
        // one whose `mapped` runs after it refuses the VMA, which the core then unmaps before
        // its mmap call returns. Such a call may not have linked its VMA into `i_mmap` yet, so a
        // zap could miss its entries: wait for each call in flight to end, under its mmap lock.
        let mappers = {
            let mut state = self.state.lock();
            if state.revoked {
                // An earlier call, which this one waited for, did it all; nothing was mapped
                // since.
                return;
            }
            state.revoked = true;
            core::mem::take(&mut state.mappers)
        };
        for (mm, seq) in mappers {
            // Still in the write-locked section that recorded it: the call is in flight.
            if mmap_lock_seq(&mm) != seq {
                continue;
            }
            if let Some(mm) = mm.mmget_not_zero() {
                // Dropped through `mmput_async()`: the last user gone, its address space is torn
                // down by a worker, not here (maybe under the caller's locks).
                let mm = MmWithUser::into_mmput_async(mm);
                drop(mm.mmap_read_lock());
            }
        }
        // The mappings are listed under the mutex, each kept alive by a reference to the inode
        // that owns it, and zapped after the mutex is dropped: `mapped` takes the mutex with
        // `i_mmap_rwsem` held (the action hides the VMA from rmap until `mapped` returned), so
        // zapping, which takes `i_mmap_rwsem`, under the mutex could deadlock.
        let to_zap = {
            let mut state = self.state.lock();
            let mut to_zap = core::mem::take(&mut state.to_zap);
            for entry in state.mappings.iter() {
                // SAFETY: By the invariants of `State` the mapping is valid while it has VMAs,
                // and the mutex keeps `close` from removing it meanwhile; `host` is the inode
                // that owns it. `igrab` fails only for an inode being evicted, which no file,
                // hence no VMA, refers to any more.
                let inode = unsafe { bindings::igrab((*entry.mapping.as_ptr()).host) };
                if let Some(inode) = NonNull::new(inode) {
                    // Cannot fail: `to_zap` has room for every mapping (`State` invariants).
                    if let Err(PushError((_, inode))) =
                        to_zap.push_within_capacity((entry.mapping, inode))
                    {
                        // SAFETY: The reference `igrab` took just above.
                        unsafe { bindings::iput(inode.as_ptr()) };
                    }
                }
            }
            to_zap
        };
        for (mapping, inode) in to_zap {
            // SAFETY: The inode reference keeps the mapping valid. The lock order is mmap lock,
            // then `i_mmap_rwsem`, as in the core; this mutex is not held.
            unsafe {
                bindings::unmap_mapping_range(mapping.as_ptr(), 0, 0, 1);
                bindings::iput(inode.as_ptr());
            }
        }
    }

    /// The action for a mapping of this memory.
    ///
    /// # Safety
    ///
    /// The action is handed to the core (written into a descriptor whose `mmap_prepare` then
    /// succeeds) only together with [`DEVICE_MEMORY_VM_OPS`] and [`borrowed_tag`] of `self`,
    /// and only after [`DeviceMemory::begin_mapping`] succeeded for that call: then `revoke()`
    /// refuses the mapping in `mapped` or zaps it, and waits for the call.
    pub(crate) unsafe fn action(&self, cache: CacheMode) -> MmapAction<'static> {
        // SAFETY: By the type invariants the range is device memory userspace may access with
        // any cache mode until `revoke()` returned, and by this function's safety requirements
        // no mapping made from the action outlives that. Hidden from rmap until `mapped`
        // returned, so that a zap cannot walk the VMA while `mapped` decides.
        unsafe { MmapAction::simple_ioremap(self.phys, self.len) }
            .cache_mode(cache)
            .hide_from_rmap_until_complete()
    }

    /// Records that the calling task's address space is mapping this memory (see `mappers`);
    /// `ENODEV` if revoked. Called in `mmap_prepare`, under that address space's mmap lock.
    pub(crate) fn begin_mapping(&self) -> Result {
        let mm: ARef<Mm> = ARef::from(&**kernel::current!().mm().ok_or(EINVAL)?);
        let seq = mmap_lock_seq(&mm);
        let mut state = self.state.lock();
        if state.revoked {
            return Err(ENODEV);
        }
        // Entries of address spaces that are gone, and of calls that are over.
        state
            .mappers
            .retain(|(m, seq)| has_users(m) && mmap_lock_seq(m) == *seq);
        match state
            .mappers
            .iter_mut()
            .find(|(m, _)| core::ptr::eq(&**m, &*mm))
        {
            Some(entry) => entry.1 = seq,
            None => state.mappers.push((mm, seq), GFP_KERNEL)?,
        }
        Ok(())
    }

    /// The calling task's mmap call of this memory is over (see `mappers`).
    fn end_mapping(&self) {
        let Some(current) = kernel::current!().mm().map(|mm| mm.as_raw()) else {
            return;
        };
        let mut state = self.state.lock();
        if let Some(i) = state
            .mappers
            .iter()
            .position(|(m, _)| m.as_raw() == current)
        {
            // Not the last reference: the calling task holds its address space.
            let _ = state.mappers.remove(i);
        }
    }

    /// Counts a VMA of `file`'s mapping; `ENODEV` once revoked (only `mapped` uses that).
    fn add_vma(&self, file: &File) -> Result {
        // SAFETY: An open file's `f_mapping` is set at open and valid while the file is.
        let mapping = NonNull::new(unsafe { (*file.as_ptr()).f_mapping }).ok_or(ENODEV)?;
        let mut state = self.state.lock();
        if state.revoked {
            return Err(ENODEV);
        }
        match state.mappings.iter_mut().find(|e| e.mapping == mapping) {
            Some(entry) => entry.vmas += 1,
            None => {
                // INVARIANT: `to_zap` keeps room for every mapping.
                let more = state.mappings.len() + 1;
                state.to_zap.reserve(more, GFP_KERNEL)?;
                state
                    .mappings
                    .push(FileMapping { mapping, vmas: 1 }, GFP_KERNEL)?;
            }
        }
        Ok(())
    }

    /// Counts a copy of a VMA of `mapping`, which is registered already (the original lives).
    fn dup_vma(&self, mapping: *mut bindings::address_space) {
        let mut state = self.state.lock();
        if let Some(entry) = state
            .mappings
            .iter_mut()
            .find(|e| e.mapping.as_ptr() == mapping)
        {
            entry.vmas += 1;
        }
    }

    /// Forgets a VMA of `mapping`.
    fn remove_vma(&self, mapping: *mut bindings::address_space) {
        let mut state = self.state.lock();
        if let Some(i) = state
            .mappings
            .iter()
            .position(|e| e.mapping.as_ptr() == mapping)
        {
            state.mappings[i].vmas -= 1;
            if state.mappings[i].vmas == 0 {
                let _ = state.mappings.remove(i);
            }
        }
    }
}

/// The mmap lock sequence of `mm` (`mm_lock_seq`, `CONFIG_PER_VMA_LOCK`): odd while the lock
/// is held for writing, and changed once it is released, so two equal reads made while a writer
/// held it mean that the same write-locked section still runs. Without `CONFIG_PER_VMA_LOCK` it
/// is always 1, and `revoke` waits for every recorded address space.
fn mmap_lock_seq(mm: &Mm) -> u32 {
    // SAFETY: `mm` is a valid `mm_struct`; the helper only reads its sequence counter.
    unsafe { rmp_mmap_lock_seq(mm.as_raw()) }
}

/// Whether `mm` still has users (tasks, or `mmget` references); once it has none it never
/// gets any again (`mmget_not_zero()`), and its address space is torn down.
fn has_users(mm: &Mm) -> bool {
    // SAFETY: `mm` is a valid `mm_struct` (held by an `mmgrab` reference); `mm_users` is an
    // atomic, read atomically.
    unsafe { bindings::atomic_read(&(*mm.as_raw()).__bindgen_anon_1.mm_users) > 0 }
}

/// The VMA operations of device memory mappings.
///
/// `vm_private_data` of such a VMA starts as a *tagged* pointer (low bit set) to its
/// [`DeviceMemory`], borrowed from the file's data (see [`borrowed_tag`]); `mapped` replaces it
/// with an owned reference (from `Arc::into_raw`), counted in the memory's `mappings`. A VMA
/// whose action or `mapped` failed is closed with the tag still there (the core passes `mapped`
/// a copy of the field and writes it back only on success), and `close` then releases nothing.
pub(crate) struct DeviceMemoryVmOps(Opaque<bindings::vm_operations_struct>);

// SAFETY: Written at compile time, read-only afterwards.
unsafe impl Sync for DeviceMemoryVmOps {}

pub(crate) static DEVICE_MEMORY_VM_OPS: DeviceMemoryVmOps =
    DeviceMemoryVmOps(Opaque::new(bindings::vm_operations_struct {
        mapped: Some(dm_mapped),
        open: Some(dm_open),
        close: Some(dm_close),
        ..pin_init::zeroed()
    }));

impl DeviceMemoryVmOps {
    pub(crate) fn as_raw(&self) -> *const bindings::vm_operations_struct {
        self.0.get()
    }
}

/// The value `map_device_memory` puts in `desc->private_data`: `memory`, borrowed, with the low
/// bit set (a `DeviceMemory` is at least word aligned, so the bit is free).
pub(crate) fn borrowed_tag(memory: &DeviceMemory) -> *mut c_void {
    (core::ptr::from_ref(memory) as usize | 1) as *mut c_void
}

/// The reference a VMA owns, if it owns one (not a borrowed tag, not NULL).
fn owned(ptr: *mut c_void) -> Option<*const DeviceMemory> {
    (!ptr.is_null() && ptr as usize & 1 == 0).then_some(ptr.cast::<DeviceMemory>().cast_const())
}

/// The file mapping of a VMA's file.
///
/// # Safety
///
/// `vma` is valid and holds its `vm_file` for the call.
unsafe fn vma_mapping(vma: *mut bindings::vm_area_struct) -> *mut bindings::address_space {
    // SAFETY: Guaranteed by the caller.
    unsafe { (*(*vma).vm_file).f_mapping }
}

/// # Safety
///
/// Called by the core for a new VMA set up by `VmAreaDesc::map_device_memory`: the initial
/// `*vm_private_data` is [`borrowed_tag`] of a `DeviceMemory` in an `Arc` borrowed from the
/// mapped file's data, which outlives the mmap call; `file` is the VMA's file.
unsafe extern "C" fn dm_mapped(
    start: c_ulong,
    _end: c_ulong,
    _pgoff: c_ulong,
    file: *const bindings::file,
    vm_private_data: *mut *mut c_void,
) -> c_int {
    // SAFETY: `vm_private_data` is valid for reads.
    let tagged = unsafe { *vm_private_data } as usize;
    let ptr = (tagged & !1) as *const DeviceMemory;
    // SAFETY: See the function's safety requirements: `ptr` is the `Arc`'s, alive for the call.
    let borrowed = unsafe { ArcBorrow::<DeviceMemory>::from_raw(ptr) };
    // SAFETY: The mmap call holds `file`; no `fdget_pos` region is active on it.
    let file = unsafe { File::from_raw_file(file) };
    // A revocation finds VMAs through their file's `i_mmap` tree. On the stacked-caller path
    // (`compat_vma_mmap()` from a stacking `->mmap`) the VMA is not linked there until that
    // `->mmap` returns: a revocation in between would miss its entries for good. Refuse it.
    // SAFETY: `mapped` runs in the mmap call, under the mmap write lock of `current->mm`, which
    // `rmp_new_vma_is_linked()` needs; the other arguments are compared, not dereferenced.
    let linked = unsafe {
        rmp_new_vma_is_linked(start, DEVICE_MEMORY_VM_OPS.as_raw(), tagged as *mut c_void)
    };
    if !linked {
        borrowed.end_mapping();
        driver_warn!(
            file,
            "mapped",
            "map_device_memory: the VMA is not linked yet: a stacking ->mmap (EINVAL)"
        );
        return EINVAL.to_errno();
    }
    // After the PTEs were installed: a revocation that started before this check refuses the
    // mapping (the core then unmaps it before the mmap call, which the revocation waits for,
    // returns); one that starts after it finds the VMA counted and zaps it.
    let counted = borrowed.add_vma(file);
    borrowed.end_mapping();
    if let Err(err) = counted {
        // The VMA keeps the tag, which `close` ignores.
        return err.to_errno();
    }
    let owned: Arc<DeviceMemory> = borrowed.into();
    // SAFETY: `vm_private_data` is valid for writes; the VMA now owns this reference.
    unsafe { *vm_private_data = Arc::into_raw(owned).cast_mut().cast() };
    0
}

/// # Safety
///
/// Called by the core, with the mmap write lock held, for a copy of a device memory VMA; its
/// `vm_private_data` is the original's.
unsafe extern "C" fn dm_open(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is valid and exclusively ours (write lock).
    let Some(ptr) = owned(unsafe { (*vma).vm_private_data }) else {
        return;
    };
    // SAFETY: `ptr` came from `Arc::into_raw` in `dm_mapped` and the original VMA still owns it.
    let borrowed = unsafe { ArcBorrow::from_raw(ptr) };
    // SAFETY: The copy holds the same file as the original.
    borrowed.dup_vma(unsafe { vma_mapping(vma) });
    let copy: Arc<DeviceMemory> = borrowed.into();
    // SAFETY: As above; the copy now owns its own reference.
    unsafe { (*vma).vm_private_data = Arc::into_raw(copy).cast_mut().cast() };
}

/// # Safety
///
/// Called by the core once for a device memory VMA being removed (detached, exclusively ours);
/// it still holds its `vm_file`.
unsafe extern "C" fn dm_close(vma: *mut bindings::vm_area_struct) {
    // SAFETY: `vma` is valid and exclusively ours.
    let Some(ptr) = owned(unsafe { (*vma).vm_private_data }) else {
        return;
    };
    // SAFETY: This VMA owned the reference from `Arc::into_raw`; `close` runs once per VMA and
    // the pointer is cleared.
    let owned = unsafe {
        (*vma).vm_private_data = core::ptr::null_mut();
        Arc::from_raw(ptr)
    };
    // SAFETY: The VMA still holds its file.
    owned.remove_vma(unsafe { vma_mapping(vma) });
}

/// A PCI BAR of a bound device, mappable to userspace through
/// [`VmAreaDesc::map_device_memory`](crate::VmAreaDesc::map_device_memory).
///
/// Requesting the region (`pci_request_region()`) reserves the BAR for this driver; this value
/// lives in the driver's bound data (`'bound`), and dropping it (at unbind or removal) first
/// revokes every user mapping, then releases the region. Files that outlive the binding keep only
/// the [`DeviceMemory`], which then refuses mappings (`ENODEV`).
///
/// The BAR is reserved, not mapped into the kernel: on x86, `pci_iomap()` (what
/// [`kernel::pci::Device::iomap_region`] does) reserves the whole BAR as uncached (UC-) in the
/// PAT memory type list, and every user mapping then gets that type whatever it asks for
/// (`reserve_pfn_range()` turns a write-combining request into UC- without an error). A driver
/// that also needs the registers from the kernel maps another BAR, or maps this one with the type
/// its users want.
///
/// Only memory BARs of whole pages are accepted: an I/O port BAR's "start" is a port number, not
/// a physical address (`ENODEV`), and a BAR smaller than a page or not page aligned would expose
/// the rest of its pages (`EINVAL`). An empty or unassigned BAR is refused with `ENODEV`, one
/// that another driver holds with `EBUSY`.
#[cfg(CONFIG_PCI)]
pub struct PciBarMemory<'bound> {
    memory: Arc<DeviceMemory>,
    _region: PciRegion<'bound>,
}

#[cfg(CONFIG_PCI)]
impl<'bound> PciBarMemory<'bound> {
    /// Requests BAR `bar` of `pdev` as `name` and makes it mappable.
    ///
    /// `ENODEV` for an I/O port, empty or unassigned BAR, or if the device is not enabled
    /// (`enable_device_mem()` first); `EINVAL` for a BAR that is not whole pages or an index
    /// past the device's resources; `EBUSY` if the region is taken.
    pub fn new(
        pdev: &'bound kernel::pci::Device<kernel::device::Bound>,
        bar: u32,
        name: &'static CStr,
    ) -> Result<Self> {
        // `resource_start()` refuses an index past the device's resources (EINVAL).
        let phys = pdev.resource_start(bar)?;
        let len = usize::try_from(pdev.resource_len(bar)?)?;
        let raw = pci_dev_of(pdev);
        // SAFETY: `raw` is the bound device's `struct pci_dev`, and `bar` is below
        // `PCI_NUM_RESOURCES` (checked by `resource_start()`); a bound device's resources are not
        // reassigned.
        let flags = unsafe { (*raw).resource[bar as usize].flags };
        let mem = bindings::IORESOURCE_MEM as c_ulong;
        let unset = bindings::IORESOURCE_UNSET as c_ulong;
        if flags & mem == 0 || flags & unset != 0 || len == 0 {
            return Err(ENODEV);
        }
        let page = PAGE_SIZE as u64;
        if phys % page != 0 || len as u64 % page != 0 {
            return Err(EINVAL);
        }
        // A device that does not decode memory answers accesses to its BARs with unsupported
        // requests, which some host bridges turn into a machine check: enable it first
        // (`enable_device_mem()` in `probe`).
        // SAFETY: `raw` is the bound device's `struct pci_dev`; `enable_cnt` is an atomic.
        if unsafe { bindings::atomic_read(&(*raw).enable_cnt) } <= 0 {
            return Err(ENODEV);
        }
        let region = PciRegion::request(pdev, bar, name)?;
        // SAFETY: A memory BAR is device memory; `region` reserves it for this driver until it is
        // dropped, which `Drop` below does only after `revoke()` returned, and nothing in this
        // crate maps it into the kernel.
        let memory = unsafe { DeviceMemory::new(phys, len)? };
        Ok(Self {
            memory,
            _region: region,
        })
    }

    /// The memory, to keep in the files' data.
    pub fn memory(&self) -> &Arc<DeviceMemory> {
        &self.memory
    }
}

#[cfg(CONFIG_PCI)]
impl Drop for PciBarMemory<'_> {
    fn drop(&mut self) {
        // Before `_region` releases the BAR.
        self.memory.revoke();
    }
}

/// The `struct pci_dev` of `pdev`.
#[cfg(CONFIG_PCI)]
fn pci_dev_of<Ctx: kernel::device::DeviceContext>(
    pdev: &kernel::pci::Device<Ctx>,
) -> *mut bindings::pci_dev {
    // `kernel::pci::Device` is `#[repr(transparent)]` over `Opaque<bindings::pci_dev>`
    // (`rust/kernel/pci.rs`), whose own accessor is private.
    core::ptr::from_ref(pdev)
        .cast::<bindings::pci_dev>()
        .cast_mut()
}

/// A PCI BAR reserved with `pci_request_region()`, and released on drop; not mapped.
///
/// # Invariants
///
/// `pdev` is bound for `'bound`, and `pci_request_region(pdev, bar)` succeeded for a memory BAR
/// of non-zero length.
#[cfg(CONFIG_PCI)]
struct PciRegion<'bound> {
    pdev: &'bound kernel::pci::Device<kernel::device::Bound>,
    bar: c_int,
}

#[cfg(CONFIG_PCI)]
impl<'bound> PciRegion<'bound> {
    /// Requests memory BAR `bar` of `pdev`, whose length is not 0; `EBUSY` if it is in use.
    fn request(
        pdev: &'bound kernel::pci::Device<kernel::device::Bound>,
        bar: u32,
        name: &'static CStr,
    ) -> Result<Self> {
        let bar = c_int::try_from(bar)?;
        // SAFETY: `pci_request_region()` (drivers/pci/pci.c) needs a valid `struct pci_dev`,
        // which a bound device is, and a NUL-terminated name that outlives the reservation (it
        // is stored in the `struct resource`): `name` is `'static`. It checks the index itself.
        kernel::error::to_result(unsafe {
            bindings::pci_request_region(pci_dev_of(pdev), bar, name.as_char_ptr())
        })?;
        // INVARIANT: the caller checked that `bar` is a memory BAR of non-zero length, for which
        // success means the region is now ours.
        Ok(Self { pdev, bar })
    }
}

#[cfg(CONFIG_PCI)]
impl Drop for PciRegion<'_> {
    fn drop(&mut self) {
        // SAFETY: By the type invariants the region was requested by us and the device is still
        // bound; `pci_release_region()` wants "all use of the PCI regions has ceased", which for
        // the only user, `PciBarMemory`, means after `revoke()` (its `Drop` runs before this
        // field's).
        unsafe { bindings::pci_release_region(pci_dev_of(self.pdev), self.bar) };
    }
}
