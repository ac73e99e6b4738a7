// SPDX-License-Identifier: GPL-2.0

//! Device memory (a PCI BAR, say) mapped to userspace through `mmap_prepare`, revocably.
//!
//! C: [`mm/memory.c`](srctree/mm/memory.c) (`vmf_insert_pfn`, `unmap_mapping_range`),
//! [`drivers/vfio/pci/vfio_pci_core.c`](srctree/drivers/vfio/pci/vfio_pci_core.c) (the same
//! design in C: `vfio_pci_mmap_page_fault()`, and `unmap_mapping_range()` on the device's own
//! address space).
//!
//! A driver that maps device memory must make sure no user mapping of it survives the device:
//! once the driver is unbound the physical range may be given to another device. [`DeviceMemory`]
//! zaps every user mapping when its memory is revoked and refuses new ones, and it is the only
//! way to map device memory without `unsafe`:
//!
//! - [`VmAreaDesc::map_device_memory`](crate::VmAreaDesc::map_device_memory) sets the mapping up
//!   with no entries at all and installs this module's VMA operations. Their `fault` handler
//!   inserts one PFN entry per fault, inside a read-side section of the memory's SRCU, and only
//!   while the memory is not revoked. Nothing is mapped while the mmap call runs, so there is
//!   never a mapping "in flight" for a revocation to wait for (vfio-pci maps its BARs the same
//!   way).
//! - [`DeviceMemory::revoke`] marks the memory revoked, waits for the faults that may not have
//!   seen it ([`Srcu::synchronize`]), then zaps every VMA of every file mapping that maps it
//!   (`unmap_mapping_range()`). Later faults get `SIGBUS`, later mappings `ENODEV`. It takes no
//!   lock of any address space, so it may be called from any callback that may sleep.
//! - [`DeviceMemory::pci_bar`] (with `CONFIG_PCI`) is the safe constructor for (part of) a PCI
//!   BAR. It requests the range for the driver and ties the revocation and the release of the
//!   range to the device's unbind through devres, whatever becomes of the Rust values: leaking
//!   every `Arc` (`mem::forget`) still revokes at unbind.
//!
//! The memory type of the entries is fixed per [`DeviceMemory`] (its [`CacheMode`]), because on
//! x86 the page attribute table keeps one type per physical range: `vmf_insert_pfn()` takes the
//! type of the range's reservation (`pfnmap_setup_cachemode()`, `arch/x86/mm/pat/memtype.c`),
//! uncached (UC-) for a range nobody reserved. A write-combining [`DeviceMemory::pci_bar`]
//! reserves its range as such (`arch_io_reserve_memtype_wc()`) until it is revoked; on arm64 and
//! other architectures without PAT the VMA's protection is used as is, so two types of one range
//! would be mismatched aliases there.
//!
//! The mappings are `VM_DONTCOPY`, a choice rather than a need: a fork child does not inherit
//! access to the device. (A child's copy would not escape a revocation: `dup_mmap()` links it into
//! the file's `i_mmap` right after the parent's VMA and before it copies the entries, under the
//! parent's mmap write lock, so a concurrent zap either empties the parent first or finds the
//! copies.)

use crate::{
    action::CacheMode,
    c_helpers::{
        rmp_io_free_memtype_wc, rmp_io_reserve_memtype_wc, rmp_new_vma_is_linked,
        rmp_release_mem_region, rmp_request_mem_region,
    },
    log::driver_warn,
};
use core::ptr::NonNull;
use kernel::{
    alloc::kvec::PushError,
    bindings,
    error::code::{EINVAL, ENODEV},
    fs::File,
    new_mutex, new_srcu,
    page::PAGE_SIZE,
    prelude::*,
    str::CString,
    sync::{
        atomic::{Acquire, Atomic, Release},
        Arc, ArcBorrow, Mutex, Srcu,
    },
    types::Opaque,
};

/// One file mapping (`struct address_space`) with VMAs of a [`DeviceMemory`], and how many.
struct FileMapping {
    mapping: NonNull<bindings::address_space>,
    vmas: usize,
}

struct State {
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
}

/// A physical range of device memory that userspace may map until it is revoked.
///
/// # Invariants
///
/// - `phys .. phys + len` is memory that userspace may access with memory type `cache` until
///   [`DeviceMemory::revoke`] has returned; after that no user mapping of it has an entry, and
///   none can get one.
/// - `revoked` only ever goes from `false` to `true`, under `state`'s lock, and is read by every
///   fault inside a read-side section of `faults`.
#[pin_data]
pub struct DeviceMemory {
    phys: u64,
    len: usize,
    cache: CacheMode,
    revoked: Atomic<bool>,
    /// Read-locked by each fault from its check of `revoked` to the end of its insertion.
    #[pin]
    faults: Srcu,
    #[pin]
    state: Mutex<State>,
    /// Held by `revoke` from start to end, so that a second call does not return before the
    /// first one zapped.
    #[pin]
    revoking: Mutex<()>,
}

// SAFETY: The raw mapping pointers are only dereferenced under the mutex, by any thread.
unsafe impl Send for State {}

impl DeviceMemory {
    /// Makes `phys .. phys + len` mappable with memory type `cache`.
    ///
    /// `EINVAL` unless `phys` and `len` are page aligned and `len` is not 0: the core maps whole
    /// pages, so a range that ends inside a page would map the rest of that page too, which may
    /// be another device's registers.
    ///
    /// # Safety
    ///
    /// The range must be memory that userspace may read and write with memory type `cache`,
    /// reserved for the caller (e.g. a requested PCI region), until [`DeviceMemory::revoke`] has
    /// returned: the caller must call it before giving the range up. It must be device memory
    /// for any type but [`CacheMode::WriteBack`]. Nothing may map it with another memory type
    /// meanwhile, and on x86 the type of the range's PAT reservation is the one the entries get
    /// (none means uncached): a write-combining range must be reserved as such (see
    /// [`DeviceMemory::pci_bar`]).
    pub unsafe fn new(phys: u64, len: usize, cache: CacheMode) -> Result<Arc<Self>> {
        let page = PAGE_SIZE as u64;
        if len == 0 || phys % page != 0 || len as u64 % page != 0 {
            return Err(EINVAL);
        }
        phys.checked_add(len as u64).ok_or(EINVAL)?;
        Arc::pin_init(
            try_pin_init!(Self {
                phys,
                len,
                cache,
                revoked: Atomic::new(false),
                faults <- new_srcu!("DeviceMemory::faults"),
                state <- new_mutex!(State {
                    mappings: KVec::new(),
                    to_zap: KVec::new(),
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

    /// Whether the range is empty (never: [`DeviceMemory::new`] refuses that).
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The memory type the mappings of the range ask for. On x86 the entries get the type of
    /// the range's PAT reservation: `arch_io_reserve_memtype_wc()` accepts an existing
    /// reservation of a compatible, stronger type (uncached-minus) without saying so, and the
    /// entries are then uncached. Never a weaker type than asked for.
    pub fn cache_mode(&self) -> CacheMode {
        self.cache
    }

    /// Whether the memory was revoked.
    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Acquire)
    }

    /// Zaps every user mapping of the memory and refuses new ones (`ENODEV`) and new entries
    /// (`SIGBUS`). Idempotent. When it returns, no page table entry maps the range, even if
    /// another `revoke` runs at the same time (calls are serialized).
    ///
    /// It may sleep, and takes no lock of any address space: the memory's own mutexes, its SRCU
    /// (to wait for faults in progress) and each file mapping's `i_mmap_rwsem` for reading (the
    /// zap). So it may be called from `mmap_prepare`, a VMA callback or a fault handler of
    /// another mapping as well as from an ioctl or an unbind; no callback the crate offers runs
    /// with `i_mmap_rwsem` held (only an action marked with the `unsafe`
    /// [`MmapAction::hide_from_rmap_until_complete`](crate::MmapAction::hide_from_rmap_until_complete)
    /// would, and its caller promises not to call this from `mapped`).
    pub fn revoke(&self) {
        let _serial = self.revoking.lock();
        // Marked under the state lock, so that `mapped` either counted its VMA before (and the
        // zap below finds it) or refuses it after.
        let to_zap = {
            let mut state = self.state.lock();
            if self.revoked.load(Acquire) {
                // An earlier call, which this one waited for, did it all; nothing was mapped
                // since.
                return;
            }
            self.revoked.store(true, Release);
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
        // Every fault that read `revoked` as false did so inside a read-side section that started
        // before this point, and has inserted its entry when this returns; every later one sees
        // `true` and inserts nothing (SRCU's grace-period guarantee, `synchronize_srcu()`).
        self.faults.synchronize();
        for (mapping, inode) in to_zap {
            // SAFETY: The inode reference keeps the mapping valid. `unmap_mapping_range()` takes
            // `i_mmap_rwsem` for reading and the page table locks, none of which a caller of
            // `revoke` holds (see above); no lock of this memory is held.
            unsafe {
                bindings::unmap_mapping_range(mapping.as_ptr(), 0, 0, 1);
                bindings::iput(inode.as_ptr());
            }
        }
    }

    /// Counts a VMA of `file`'s mapping; `ENODEV` once revoked (only `mapped` uses that).
    fn add_vma(&self, file: &File) -> Result {
        // SAFETY: An open file's `f_mapping` is set at open and valid while the file is.
        let mapping = NonNull::new(unsafe { (*file.as_ptr()).f_mapping }).ok_or(ENODEV)?;
        let mut state = self.state.lock();
        if self.revoked.load(Acquire) {
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

    /// The page frame of page `pgoff` of the range, if the range has that page.
    fn pfn(&self, pgoff: usize) -> Option<usize> {
        if pgoff >= self.len / PAGE_SIZE {
            return None;
        }
        usize::try_from(self.phys >> bindings::PAGE_SHIFT)
            .ok()?
            .checked_add(pgoff)
    }
}

/// The VMA operations of device memory mappings.
///
/// `vm_private_data` of such a VMA starts as a *tagged* pointer (low bit set) to its
/// [`DeviceMemory`], borrowed from the file's data (see [`borrowed_tag`]); `mapped` replaces it
/// with an owned reference (from `Arc::into_raw`), counted in the memory's `mappings`. A VMA
/// whose `mapped` failed is closed with the tag still there (the core passes `mapped` a copy of
/// the field and writes it back only on success): `close` then releases nothing and `fault`
/// inserts nothing.
pub(crate) struct DeviceMemoryVmOps(Opaque<bindings::vm_operations_struct>);

// SAFETY: Written at compile time, read-only afterwards.
unsafe impl Sync for DeviceMemoryVmOps {}

pub(crate) static DEVICE_MEMORY_VM_OPS: DeviceMemoryVmOps =
    DeviceMemoryVmOps(Opaque::new(bindings::vm_operations_struct {
        mapped: Some(dm_mapped),
        open: Some(dm_open),
        close: Some(dm_close),
        fault: Some(dm_fault),
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
    // On the stacked-caller path (`compat_vma_mmap()` from a stacking `->mmap`) the VMA is not in
    // the address space yet, and if that `->mmap` fails later, `__mmap_new_file_vma()` frees it
    // without `close`: the count taken here would never be returned, and its mapping pointer
    // would outlive the file. Refuse it.
    // SAFETY: `mapped` runs in the mmap call, under the mmap write lock of `current->mm`, which
    // `rmp_new_vma_is_linked()` needs; the other arguments are compared, not dereferenced.
    let linked = unsafe {
        rmp_new_vma_is_linked(start, DEVICE_MEMORY_VM_OPS.as_raw(), tagged as *mut c_void)
    };
    if !linked {
        driver_warn!(
            file,
            "mapped",
            "map_device_memory: the VMA is not linked yet: a stacking ->mmap (EINVAL)"
        );
        return EINVAL.to_errno();
    }
    // Counted before `mmap()` returns, hence before any fault can reach the VMA (it is
    // write-locked until then): every entry a fault inserts is in a VMA that `revoke` finds.
    if let Err(err) = borrowed.add_vma(file) {
        // The VMA keeps the tag, which `close` and `fault` ignore.
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
/// Called by the core once for a device memory VMA being removed (detached, exclusively ours,
/// its entries already unmapped); it still holds its `vm_file`.
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

/// # Safety
///
/// Called by the core for a fault on a device memory VMA, with its VMA lock or the mmap read lock
/// held: the VMA, its `vm_private_data` and its flags are stable for the call.
unsafe extern "C" fn dm_fault(vmf: *mut bindings::vm_fault) -> bindings::vm_fault_t {
    const SIGBUS: bindings::vm_fault_t = bindings::vm_fault_reason_VM_FAULT_SIGBUS;
    // SAFETY: `vmf` is the fault being handled.
    let (vma, address, pgoff) = unsafe {
        let fault = &(*vmf).__bindgen_anon_1;
        (fault.vma, fault.address, fault.pgoff)
    };
    // Only a VMA whose `mapped` counted it owns a reference; a tagged one (its `mapped` failed,
    // or never ran) gets no entry.
    // SAFETY: `vma` is valid and locked (function requirements).
    let Some(ptr) = owned(unsafe { (*vma).vm_private_data }) else {
        return SIGBUS;
    };
    // SAFETY: The VMA owns this reference (`dm_mapped` or `dm_open`) and releases it only in
    // `close`, which cannot run while the fault holds the VMA's lock.
    let memory = unsafe { &*ptr };
    // The mapping fitted the memory at its offset (`map_device_memory`) and cannot grow
    // (`VM_DONTEXPAND`); checked again here all the same.
    let Some(pfn) = memory.pfn(pgoff) else {
        return SIGBUS;
    };
    let _section = memory.faults.read_lock();
    if memory.is_revoked() {
        return SIGBUS;
    }
    // SAFETY: The VMA is locked for the fault and was set up by `map_device_memory`: shared,
    // `VM_IO | VM_PFNMAP`, not `VM_MIXEDMAP` (the core `BUG()`s otherwise), and no flag of those
    // can be changed afterwards. By the invariants of `DeviceMemory` the page frame may be
    // mapped to userspace with the VMA's memory type until `revoke()` returned, and `revoke()`
    // waits for this read-side section before it zaps. `VM_FAULT_NOPAGE` means the entry is in
    // place.
    unsafe { bindings::vmf_insert_pfn(vma, address, pfn) }
}

/// A range of a PCI BAR requested for a [`DeviceMemory`] until the device is unbound: dropped by
/// devres (or on a failure before that), it revokes the memory, if one was made, then gives the
/// memory type reservation and the range back.
///
/// # Invariants
///
/// `start .. start + len` was requested (`request_mem_region()`) for this value, and reserved as
/// write-combining if `wc`; nothing but `memory`, if any, maps it.
#[cfg(CONFIG_PCI)]
struct PciRange {
    memory: Option<Arc<DeviceMemory>>,
    start: bindings::resource_size_t,
    len: bindings::resource_size_t,
    wc: bool,
    /// The region's name, which the resource tree points to; dropped after `drop` released it.
    _name: CString,
}

#[cfg(CONFIG_PCI)]
impl Drop for PciRange {
    fn drop(&mut self) {
        // No entry maps the range once this returns, and none can be made.
        if let Some(memory) = &self.memory {
            memory.revoke();
        }
        // SAFETY: By the type invariants the reservation and the region are ours, and nothing
        // maps the range any more (revoked above).
        unsafe {
            if self.wc {
                rmp_io_free_memtype_wc(self.start, self.len);
            }
            rmp_release_mem_region(self.start, self.len);
        }
    }
}

#[cfg(CONFIG_PCI)]
impl DeviceMemory {
    /// BAR `bar` of a bound device, whole, mappable with memory type `cache`; see
    /// [`DeviceMemory::pci_bar_range`].
    pub fn pci_bar(
        pdev: &kernel::pci::Device<kernel::device::Core<'_>>,
        bar: u32,
        cache: CacheMode,
        name: &'static CStr,
    ) -> Result<Arc<Self>> {
        let len = usize::try_from(pdev.resource_len(bar)?)?;
        Self::pci_bar_range(pdev, bar, 0, len, cache, name)
    }

    /// `len` bytes of BAR `bar` of the device being probed from byte `offset`, mappable to
    /// userspace with memory type `cache` until the device is unbound.
    ///
    /// Only the driver bound to `pdev` can call it: it takes the `Core` context that the PCI core
    /// gives that driver's `probe` (and `unbind`). A `Bound` device is not enough: another
    /// driver reaches its parent as `Bound` (an auxiliary device's `parent()`), and the range,
    /// its release and the crate's code would then hang on a binding that is not the caller's.
    ///
    /// The range is requested as `name` (`request_mem_region()`, so no other driver, and no other
    /// `DeviceMemory`, can hold any of it), and released at unbind, after every user mapping was
    /// revoked: devres owns that, not the returned value, so nothing a driver does with its `Arc`s
    /// (not even leaking them) keeps a mapping past the unbind. Files that outlive the binding keep
    /// only the revoked memory: their mappings get `SIGBUS` and new ones `ENODEV`.
    ///
    /// What the kernel's own BAR mappings allow (`drivers/pci/pci-sysfs.c`, `drivers/pci/mmap.c`)
    /// is what is safe here:
    /// - only the six standard BARs, of memory (`IORESOURCE_MEM`): not the ROM, the SR-IOV or
    ///   bridge windows (`EINVAL` for an index of 6 or more), nor an I/O port BAR, whose "start"
    ///   is a port number (`ENODEV`, as for an empty or unassigned BAR);
    /// - [`CacheMode::Uncached`] or [`CacheMode::Device`] for any memory BAR,
    ///   [`CacheMode::WriteCombine`] only for a prefetchable one (`IORESOURCE_PREFETCH`: reads have
    ///   no side effects), reserved as write-combining in the page attribute table on x86; never
    ///   [`CacheMode::WriteBack`], which on arm64 would be Normal cacheable memory, whose
    ///   speculative reads reach device registers (`EINVAL` for both refusals);
    /// - whole pages inside the BAR (`EINVAL`), of a device that decodes memory (`ENODEV` until
    ///   `enable_device_mem()`).
    ///
    /// `EBUSY` if any of the range is taken, by another driver or an earlier call.
    ///
    /// Handing registers to whoever can open the device node is the driver's decision (a DMA
    /// engine or an MSI-X table there gives them the machine; vfio requires an IOMMU, uio root):
    /// the crate only guarantees that no mapping outlives the binding.
    pub fn pci_bar_range(
        pdev: &kernel::pci::Device<kernel::device::Core<'_>>,
        bar: u32,
        offset: usize,
        len: usize,
        cache: CacheMode,
        name: &'static CStr,
    ) -> Result<Arc<Self>> {
        if bar >= bindings::PCI_STD_NUM_BARS {
            return Err(EINVAL);
        }
        let bar_start = pdev.resource_start(bar)?;
        let bar_len = usize::try_from(pdev.resource_len(bar)?)?;
        let raw = pci_dev_of(pdev);
        // SAFETY: `raw` is the bound device's `struct pci_dev`, and `bar` is below
        // `PCI_STD_NUM_BARS` (checked); a bound device's resources are not reassigned.
        let flags = unsafe { (*raw).resource[bar as usize].flags };
        let has = |flag: u32| flags & flag as c_ulong != 0;
        if !has(bindings::IORESOURCE_MEM) || has(bindings::IORESOURCE_UNSET) || bar_len == 0 {
            return Err(ENODEV);
        }
        let wc = match cache {
            CacheMode::Uncached | CacheMode::Device => false,
            CacheMode::WriteCombine if has(bindings::IORESOURCE_PREFETCH) => true,
            CacheMode::WriteCombine | CacheMode::WriteBack => return Err(EINVAL),
        };
        match offset.checked_add(len) {
            Some(end) if end <= bar_len && len != 0 => {}
            _ => return Err(EINVAL),
        }
        let start = bar_start.checked_add(offset.try_into()?).ok_or(EINVAL)?;
        let size = bindings::resource_size_t::try_from(len)?;
        let page = bindings::resource_size_t::try_from(PAGE_SIZE)?;
        if start % page != 0 || size % page != 0 {
            return Err(EINVAL);
        }
        // A device that does not decode memory answers accesses to its BARs with unsupported
        // requests, which some host bridges turn into a machine check: enable it first.
        // SAFETY: `raw` is the bound device's `struct pci_dev`; `enable_cnt` is an atomic.
        if unsafe { bindings::atomic_read(&(*raw).enable_cnt) } <= 0 {
            return Err(ENODEV);
        }
        // The resource tree keeps a pointer to the name until the region is released: a copy of
        // the crate's own, not a string of the driver's module.
        let name = CString::try_from(name)?;
        // SAFETY: `name` is NUL-terminated, and `range` below keeps it until it released the
        // region.
        if !unsafe { rmp_request_mem_region(start, size, name.as_char_ptr()) } {
            return Err(EBUSY);
        }
        // INVARIANT: requested just above; nothing maps it. From here on, returning early drops
        // `range`, which gives everything back.
        let mut range = PciRange {
            memory: None,
            start,
            len: size,
            wc: false,
            _name: name,
        };
        if wc {
            // SAFETY: The range is ours (requested above) and nothing maps it.
            kernel::error::to_result(unsafe { rmp_io_reserve_memtype_wc(start, size) })?;
            // INVARIANT: reserved as write-combining just above.
            range.wc = true;
        }
        #[allow(clippy::useless_conversion)] // `resource_size_t` is `u32` on some 32-bit configs.
        let phys = u64::from(start);
        // SAFETY: A memory BAR is device memory; the range is requested for this memory and, if
        // write-combining, reserved as such, and both are kept until `range` is dropped, which
        // revokes the memory first. Nothing in this crate maps it into the kernel.
        let memory = unsafe { Self::new(phys, len, cache)? };
        range.memory = Some(memory.clone());
        // On failure devres drops `range` at once, which revokes and releases.
        kernel::devres::register(pdev.as_ref(), range, GFP_KERNEL)?;
        Ok(memory)
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
