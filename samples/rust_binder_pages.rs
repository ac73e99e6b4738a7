// SPDX-License-Identifier: GPL-2.0

//! Binder's memory model on `mmap_prepare`, in safe Rust.
//!
//! Each open of `/dev/rust_binder_pages` is a receiver context. The receiver maps it once,
//! read-only, at most [`MAX_SIZE`] bytes. A sender holding the same file (for instance a child
//! that inherited it; the mapping itself is not inherited) copies a message into the receiver's
//! buffer with `RBP_IOC_SEND`: pages are allocated as needed, written, and inserted into the
//! receiver's mapping, where the receiver reads the message in place. `RBP_IOC_FREE` zaps and
//! frees the pages wholly inside a range. ABI: `samples/uapi/rust_binder_pages.h`.
//!
//! `mmap_prepare` allocates nothing: the context registers its VMA (address space, start, page
//! bookkeeping) in `mapped`, and `close` unregisters it. A sender reaches the receiver's VMA
//! through the address space recorded at `mapped` time, under the VMA lock (or the mmap read
//! lock), and inserts pages only after proving that the VMA at that address is still this
//! context's own mixed-map VMA.
//!
//! Lock order: the receiver's mmap lock (or VMA lock), then [`Context::inner`]. The core calls
//! `mapped`, `open` and `close` with the mmap write lock held, and they take `inner`; a sender
//! takes the VMA lock first and `inner` second, and never holds `inner` while taking a VMA or
//! mmap lock.

use core::mem::size_of;
use kernel::{
    alloc::KVVec,
    fs::File,
    ioctl::{_IOR, _IOW},
    miscdevice::MiscDeviceOptions,
    mm::{Mm, MmWithUser},
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{aref::ARef, Arc, ArcBorrow, Mutex},
    transmute::FromBytes,
    uaccess::{UserPtr, UserSlice},
};
use mmap_prepare::{
    KernelPages, MappedArea, MmapMiscDevice, MmapMiscDeviceRegistration, VmAreaDesc, VmAreaRef,
    VmOperations, VmOpsTable, VmaFlag,
};

module! {
    type: BinderPagesModule,
    name: "rust_binder_pages",
    authors: ["rust-mmap-prepare developers"],
    description: "Binder-style page insertion into a receiver's mapping, in safe Rust",
    license: "GPL",
}

/// The largest mapping a context accepts.
const MAX_SIZE: usize = 4 << 20;

// The ioctl arguments of `samples/uapi/rust_binder_pages.h`, all `__u64` fields, as arrays in
// field order: arrays of `u64` can be read from and written to userspace without `unsafe`.
/// `struct rbp_send { offset, len, data }`: copy `len` bytes from user address `data` to the
/// buffer at `offset`.
type RbpSend = [u64; 3];
/// `struct rbp_free { offset, len }`: zap and free the pages wholly inside the range.
type RbpFree = [u64; 2];
/// `struct rbp_stats { pages_allocated, pages_mapped, bytes_sent }`.
type RbpStats = [u64; 3];

const RBP_IOC_SEND: u32 = _IOW::<RbpSend>(b'r' as u32, 0x01);
const RBP_IOC_FREE: u32 = _IOW::<RbpFree>(b'r' as u32, 0x02);
const RBP_IOC_STATS: u32 = _IOR::<RbpStats>(b'r' as u32, 0x03);

#[pin_data]
struct BinderPagesModule {
    #[pin]
    _dev: MmapMiscDeviceRegistration<BinderPages>,
}

impl kernel::InPlaceModule for BinderPagesModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _dev <- MmapMiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rust_binder_pages",
            }),
        })
    }
}

/// The receiver's VMA, as registered in `mapped`.
struct Mapping {
    /// The receiver's address space (`mmgrab`, not `mmget`: it does not keep it alive).
    mm: ARef<Mm>,
    start: usize,
    /// The buffer's pages, allocated as messages arrive.
    buffer: KernelPages,
    /// Which pages were inserted into the VMA, as far as the driver knows: a page the receiver
    /// zapped itself (`MADV_DONTNEED`) still counts until the next SEND or FREE touches it.
    inserted: KVec<bool>,
}

#[derive(Default)]
struct Inner {
    mapping: Option<Mapping>,
    bytes_sent: u64,
}

impl Inner {
    fn stats(&self) -> RbpStats {
        let (allocated, mapped) = self.mapping.as_ref().map_or((0, 0), |m| {
            let allocated = (0..m.buffer.len())
                .filter(|&i| m.buffer.page(i).is_some())
                .count();
            (allocated, m.inserted.iter().filter(|&&i| i).count())
        });
        [allocated as u64, mapped as u64, self.bytes_sent]
    }
}

/// One receiver context (one open file).
#[pin_data]
struct Context {
    #[pin]
    inner: Mutex<Inner>,
}

/// Reads an ioctl argument from userspace.
fn read_arg<T: FromBytes>(arg: usize) -> Result<T> {
    UserSlice::new(UserPtr::from_addr(arg), size_of::<T>())
        .reader()
        .read()
}

/// The pages wholly inside `[offset, offset + len)`, as a range of page indices.
fn whole_pages(offset: usize, len: usize) -> core::ops::Range<usize> {
    offset.div_ceil(PAGE_SIZE)..(offset + len) / PAGE_SIZE
}

/// The pages touched by `[offset, offset + len)`.
fn touched_pages(offset: usize, len: usize) -> core::ops::Range<usize> {
    offset / PAGE_SIZE..(offset + len).div_ceil(PAGE_SIZE)
}

impl Context {
    /// Checks `[offset, offset + len)` against the registered mapping: `ESRCH` without one,
    /// `EINVAL` outside it. Returns the mapping's address space and start.
    fn target(&self, offset: u64, len: u64) -> Result<(ARef<Mm>, usize)> {
        let inner = self.inner.lock();
        let mapping = inner.mapping.as_ref().ok_or(ESRCH)?;
        match offset.checked_add(len) {
            Some(end) if end <= (mapping.buffer.len() * PAGE_SIZE) as u64 => {
                Ok((mapping.mm.clone(), mapping.start))
            }
            _ => Err(EINVAL),
        }
    }

    /// Runs `f` on the receiver's VMA at `start`, locked, if it is still this context's own
    /// mixed-map VMA; `ESRCH` otherwise (unmapped, or replaced by another mapping).
    fn with_own_vma<R>(
        self: ArcBorrow<'_, Self>,
        mm: &Mm,
        start: usize,
        f: impl FnOnce(&VmAreaRef, &mut Mapping) -> Result<R>,
    ) -> Result<R> {
        let mm: ARef<MmWithUser> = mm.mmget_not_zero().ok_or(ESRCH)?;
        let check = |vma: &VmAreaRef| -> Result<R> {
            // The own-VMA proof: our operations and our context, at the registered start.
            let ours = vma
                .data::<BinderVm>()
                .is_some_and(|ctx| core::ptr::eq(&*ctx, &*self));
            if !ours || vma.start() != start || vma.check_mixedmap().is_none() {
                return Err(ESRCH);
            }
            let mut inner = self.inner.lock();
            let mapping = inner.mapping.as_mut().ok_or(ESRCH)?;
            if mapping.start != start {
                return Err(ESRCH);
            }
            f(vma, mapping)
        };
        if let Some(vma) = mm.lock_vma_under_rcu(start) {
            return check(VmAreaRef::from_vma_ref(&vma));
        }
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(start).ok_or(ESRCH)?;
        check(VmAreaRef::from_vma_ref(vma))
    }

    fn send(self: ArcBorrow<'_, Self>, arg: usize) -> Result {
        let [offset, len, data]: RbpSend = read_arg(arg)?;
        let (mm, start) = self.target(offset, len)?;
        let (offset, len) = (offset as usize, len as usize);
        // Copy the whole message first: a bad pointer then leaves the buffer as it was.
        let mut message = KVVec::new();
        UserSlice::new(UserPtr::from_addr(data as usize), len)
            .read_all(&mut message, GFP_KERNEL)?;

        self.with_own_vma(&mm, start, |vma, mapping| {
            let mut pos = 0;
            for index in touched_pages(offset, len) {
                mapping
                    .buffer
                    .get_or_alloc(index, GFP_KERNEL | __GFP_ZERO)?;
                let page_offset = (offset + pos) % PAGE_SIZE;
                let chunk = (PAGE_SIZE - page_offset).min(len - pos);
                mapping
                    .buffer
                    .write(index, page_offset, &message[pos..pos + chunk])?;
                pos += chunk;
            }
            let mixed = vma.check_mixedmap().ok_or(ESRCH)?;
            for index in touched_pages(offset, len) {
                // Insert every time: the receiver may have zapped the page behind our back
                // (`madvise(MADV_DONTNEED)` is allowed on a mixed-map VMA). `EBUSY` means the
                // page is still mapped.
                match mixed.insert_pages(start + index * PAGE_SIZE, &mapping.buffer, index, 1) {
                    Ok(()) | Err(EBUSY) => mapping.inserted[index] = true,
                    Err(err) => return Err(err),
                }
            }
            Ok(())
        })?;
        self.inner.lock().bytes_sent += len as u64;
        Ok(())
    }

    fn free(self: ArcBorrow<'_, Self>, arg: usize) -> Result {
        let [offset, len]: RbpFree = read_arg(arg)?;
        let (mm, start) = self.target(offset, len)?;
        let pages = whole_pages(offset as usize, len as usize);
        self.with_own_vma(&mm, start, |vma, mapping| {
            if !pages.is_empty() {
                vma.zap_range(start + pages.start * PAGE_SIZE, pages.len() * PAGE_SIZE)?;
            }
            for index in pages {
                mapping.inserted[index] = false;
                mapping.buffer.free(index);
            }
            Ok(())
        })
    }
}

struct BinderPages;

#[vtable]
impl MmapMiscDevice for BinderPages {
    type Ptr = Arc<Context>;

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Context>> {
        Arc::pin_init(
            pin_init!(Context {
                inner <- new_mutex!(Inner::default()),
            }),
            GFP_KERNEL,
        )
    }

    fn mmap_prepare<'a>(
        ctx: ArcBorrow<'a, Context>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Context>>,
    ) -> Result {
        if desc.flags().contains(VmaFlag::WRITE) {
            return Err(EPERM);
        }
        if desc.len() > MAX_SIZE {
            return Err(EINVAL);
        }
        // Checked again in `mapped`, which two racing mmap() calls may both reach.
        if ctx.inner.lock().mapping.is_some() {
            return Err(EBUSY);
        }
        // Read-only for good (mprotect cannot add write), not inherited by fork, pages inserted
        // by the driver.
        desc.clear_flags(VmaFlag::MAYWRITE)?;
        desc.set_flags(VmaFlag::DONTCOPY | VmaFlag::MIXEDMAP | VmaFlag::DONTEXPAND)?;
        desc.set_vm_ops::<BinderVm>()
    }

    fn ioctl(ctx: ArcBorrow<'_, Context>, _file: &File, cmd: u32, arg: usize) -> Result<isize> {
        match cmd {
            RBP_IOC_SEND => ctx.send(arg)?,
            RBP_IOC_FREE => ctx.free(arg)?,
            RBP_IOC_STATS => {
                let stats = ctx.inner.lock().stats();
                UserSlice::new(UserPtr::from_addr(arg), size_of::<RbpStats>())
                    .writer()
                    .write(&stats)?;
            }
            _ => return Err(ENOTTY),
        }
        Ok(0)
    }
}

struct BinderVm;

static BINDER_VM_OPS: VmOpsTable<BinderVm> = VmOpsTable::new();

#[vtable]
impl VmOperations for BinderVm {
    type FileData = Arc<Context>;
    type Data = Arc<Context>;

    fn table() -> &'static VmOpsTable<Self> {
        &BINDER_VM_OPS
    }

    /// Registers the new VMA: this is where the context allocates, now that the VMA exists.
    fn mapped(area: &MappedArea<'_>, ctx: ArcBorrow<'_, Context>) -> Result<Arc<Context>> {
        let pages = (area.end - area.start) / PAGE_SIZE;
        let task = kernel::current!();
        let mm = ARef::from(&**task.mm().ok_or(ESRCH)?);
        let mapping = Mapping {
            mm,
            start: area.start,
            buffer: KernelPages::new_empty(pages)?,
            inserted: KVec::from_elem(false, pages, GFP_KERNEL)?,
        };
        let mut inner = ctx.inner.lock();
        if inner.mapping.is_some() {
            return Err(EBUSY);
        }
        inner.mapping = Some(mapping);
        drop(inner);
        Ok(ctx.into())
    }

    /// `mremap` moved the VMA: follow it. (Fork does not copy it: `VM_DONTCOPY`.)
    fn open(vma: &VmAreaRef, ctx: ArcBorrow<'_, Context>) {
        if let Some(mapping) = ctx.inner.lock().mapping.as_mut() {
            mapping.start = vma.start();
        }
    }

    /// Unregisters the VMA, and frees its pages, unless this is the old copy of a moved VMA.
    fn close(vma: &VmAreaRef, ctx: Option<ArcBorrow<'_, Context>>) {
        let Some(ctx) = ctx else { return };
        let mut inner = ctx.inner.lock();
        if inner
            .mapping
            .as_ref()
            .is_some_and(|m| m.start == vma.start())
        {
            inner.mapping = None;
        }
    }

    /// One VMA per context: partial unmapping or `mprotect` of a part is refused.
    fn may_split(_vma: &VmAreaRef, _address: usize) -> Result {
        Err(EINVAL)
    }
}
