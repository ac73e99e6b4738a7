// SPDX-License-Identifier: GPL-2.0

//! Binder's memory model on `mmap_prepare`, in safe Rust.
//!
//! Each open of `/dev/rust_binder_pages` is a receiver context. The receiver maps it once,
//! read-only, at most [`MAX_SIZE`] bytes. A sender holding the same file (for instance a child
//! that inherited it; the mapping itself is not inherited) copies a message into the receiver's
//! buffer with `RBP_IOC_SEND`: the message is copied from the sender straight into fresh pages,
//! which then replace the buffer's pages and are inserted into the receiver's mapping, where the
//! receiver reads the message in place. A SEND that fails (a bad pointer, a mapping that went
//! away) leaves the buffer as it was. `RBP_IOC_FREE` zaps and frees the pages wholly inside a
//! range. ABI: `samples/uapi/rust_binder_pages.h`.
//!
//! `mmap_prepare` allocates nothing. `mapped` creates the mapping's [`Registration`], which *is*
//! the VMA's data: its identity, not the VMA's address, tells the context which VMA is the live
//! one. `mremap` (the callback the core calls once a move is committed) tells the context the
//! new address; `close` unregisters only the VMA that is registered, at the address registered,
//! so neither the source of a move nor a copy whose move failed can unregister a live mapping.
//! A sender reaches the receiver's VMA through the address space recorded at `mapped` time,
//! under the VMA lock (or the mmap read lock), proves it is this registration's own mixed-map
//! VMA, and checks the range again under the context lock that guards the write.
//!
//! Lock order: the receiver's mmap lock (or VMA lock), then [`Context::inner`]. The core calls
//! `mapped`, `mremap` and `close` with the mmap write lock held, and they take `inner`; a sender
//! takes the VMA lock first and `inner` second, never holds `inner` while taking a VMA or mmap
//! lock, and copies from its own memory (which may fault) with no lock held.

use core::{mem::size_of, ops::Range};
use kernel::{
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
    ClosingArea, KernelPage, KernelPages, MappedArea, MmapMiscDevice, MmapMiscDeviceRegistration,
    PageCopy, VmAreaDesc, VmAreaRef, VmOperations, VmaFlag,
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

/// One mapping of a context, made in `mapped`: the data of its VMA (and of the copy an
/// `mremap()` makes). Its address is its identity.
struct Registration {
    /// The context, which holds this registration while it is current.
    ctx: Arc<Context>,
    /// The receiver's address space (`mmgrab`, not `mmget`: it does not keep it alive).
    mm: ARef<Mm>,
    /// The mapping's length in bytes.
    size: usize,
}

/// The context's current registration and the buffer behind it.
struct Current {
    reg: Arc<Registration>,
    /// Where the registered VMA is now (changed by a committed `mremap()`).
    start: usize,
    /// The buffer's pages, allocated as messages arrive.
    buffer: KernelPages,
    /// Which pages were inserted into the VMA, as far as the driver knows: a page the receiver
    /// zapped itself (`MADV_DONTNEED`) still counts until the next SEND or FREE touches it.
    inserted: KVec<bool>,
}

#[derive(Default)]
struct Inner {
    current: Option<Current>,
    pages_allocated: usize,
    pages_mapped: usize,
    bytes_sent: u64,
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
fn whole_pages(offset: usize, len: usize) -> Range<usize> {
    offset.div_ceil(PAGE_SIZE)..(offset + len) / PAGE_SIZE
}

/// The pages touched by `[offset, offset + len)`.
fn touched_pages(offset: usize, len: usize) -> Range<usize> {
    offset / PAGE_SIZE..(offset + len).div_ceil(PAGE_SIZE)
}

/// `[offset, offset + len)` as `usize`s, if it lies inside a buffer of `size` bytes.
fn checked_range(offset: u64, len: u64, size: usize) -> Result<(usize, usize)> {
    match offset.checked_add(len) {
        Some(end) if end <= size as u64 => Ok((offset as usize, len as usize)),
        _ => Err(EINVAL),
    }
}

impl Context {
    /// The current registration, its address and the checked range; `ESRCH` without one.
    fn target(&self, offset: u64, len: u64) -> Result<(Arc<Registration>, usize, usize, usize)> {
        let inner = self.inner.lock();
        let cur = inner.current.as_ref().ok_or(ESRCH)?;
        let (offset, len) = checked_range(offset, len, cur.reg.size)?;
        Ok((cur.reg.clone(), cur.start, offset, len))
    }

    /// Runs `f` on the receiver's VMA at `start`, locked, with the context locked, if that VMA is
    /// `reg`'s own mixed-map VMA and `reg` is still current at `start`; `ESRCH` otherwise
    /// (unmapped, moved, or replaced by another mapping).
    fn with_own_vma<R>(
        &self,
        reg: &Arc<Registration>,
        start: usize,
        f: impl FnOnce(&VmAreaRef, &mut Current, &mut Inner) -> Result<R>,
    ) -> Result<R> {
        let mm: ARef<MmWithUser> = reg.mm.mmget_not_zero().ok_or(ESRCH)?;
        let check = |vma: &VmAreaRef| -> Result<R> {
            // The own-VMA proof: our operations, this very registration, at its start.
            let ours = vma
                .data::<BinderVm>()
                .is_some_and(|r| core::ptr::eq(&*r, &**reg));
            if !ours || vma.start() != start || vma.check_mixedmap().is_none() {
                return Err(ESRCH);
            }
            let mut inner = self.inner.lock();
            let mut cur = inner.current.take().ok_or(ESRCH)?;
            let result = if Arc::ptr_eq(&cur.reg, reg) && cur.start == start {
                f(vma, &mut cur, &mut inner)
            } else {
                Err(ESRCH)
            };
            inner.current = Some(cur);
            result
        };
        if let Some(vma) = mm.lock_vma_under_rcu(start) {
            return check(VmAreaRef::from_vma_ref(&vma));
        }
        let guard = mm.mmap_read_lock();
        let vma = guard.vma_lookup(start).ok_or(ESRCH)?;
        check(VmAreaRef::from_vma_ref(vma))
        // `mm` is dropped (`mmput`) after the locks: a last `mmput` tears the address space down,
        // which calls `close`, which takes `inner`.
    }

    fn send(&self, arg: usize) -> Result {
        let [offset, len, data]: RbpSend = read_arg(arg)?;
        let (reg, start, offset, len) = self.target(offset, len)?;
        if len == 0 {
            return Ok(());
        }
        let pages = touched_pages(offset, len);

        // Copy the message straight from the sender into fresh pages, with no lock held (the
        // copy may fault). A bad pointer fails here, before anything is changed.
        let mut fresh = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        let mut done = 0;
        for _ in pages.clone() {
            let page = KernelPage::alloc(GFP_KERNEL)?;
            let at = (offset + done) % PAGE_SIZE;
            let chunk = (PAGE_SIZE - at).min(len - done);
            page.copy_from_user(at, UserPtr::from_addr(data as usize + done), chunk)?;
            fresh.push(page, GFP_KERNEL)?;
            done += chunk;
        }
        let mut old = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        // The bytes of the first and last page the message does not cover.
        let head = offset % PAGE_SIZE;
        let tail = (offset + len - 1) % PAGE_SIZE + 1;

        self.with_own_vma(&reg, start, |vma, cur, inner| {
            let mixed = vma.check_mixedmap().ok_or(ESRCH)?;
            let last = pages.end - 1;
            let mut any_inserted = false;
            for (index, page) in pages.clone().zip(fresh.drain_all()) {
                // Keep what the message does not overwrite, as a write in place would.
                let keep_head = if index == pages.start { head } else { 0 };
                let keep_tail = if index == last { tail } else { PAGE_SIZE };
                for (from, to) in [(0, keep_head), (keep_tail, PAGE_SIZE)] {
                    if from < to {
                        match cur.buffer.page(index) {
                            Some(prev) => page.copy_from_page(from, &prev, from, to - from)?,
                            None => page.zero_bytes(from, to - from)?,
                        }
                    }
                }
                any_inserted |= cur.inserted[index];
                // Cannot fail: `old` has room for every touched page.
                old.push(cur.buffer.replace(index, page)?, GFP_KERNEL)?;
            }
            let (at, size) = (start + pages.start * PAGE_SIZE, pages.len() * PAGE_SIZE);
            if any_inserted {
                // Entries are replaced, not overwritten: zap the old ones first.
                vma.zap_range(at, size)?;
            }
            if let Err(err) = mixed.insert_pages(at, &cur.buffer, pages.start, pages.len()) {
                // Put the old pages back, as they were: the failed SEND changes nothing.
                vma.zap_range(at, size)?;
                for (index, prev) in pages.clone().zip(old.drain_all()) {
                    let _ = match prev {
                        Some(prev) => cur.buffer.replace(index, prev),
                        None => Ok(cur.buffer.take(index)),
                    };
                    if cur.inserted[index]
                        && mixed
                            .insert_pages(
                                at + (index - pages.start) * PAGE_SIZE,
                                &cur.buffer,
                                index,
                                1,
                            )
                            .is_err()
                    {
                        cur.inserted[index] = false;
                        inner.pages_mapped -= 1;
                    }
                }
                return Err(err);
            }
            for (index, prev) in pages.clone().zip(old.iter()) {
                if prev.is_none() {
                    inner.pages_allocated += 1;
                }
                if !cur.inserted[index] {
                    cur.inserted[index] = true;
                    inner.pages_mapped += 1;
                }
            }
            inner.bytes_sent += len as u64;
            Ok(())
        })
        // The replaced pages (`old`) are freed here, after the locks.
    }

    fn free(&self, arg: usize) -> Result {
        let [offset, len]: RbpFree = read_arg(arg)?;
        let (reg, start, offset, len) = self.target(offset, len)?;
        let pages = whole_pages(offset, len);
        let mut freed = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        self.with_own_vma(&reg, start, |vma, cur, inner| {
            if pages.is_empty() {
                return Ok(());
            }
            vma.zap_range(start + pages.start * PAGE_SIZE, pages.len() * PAGE_SIZE)?;
            for index in pages.clone() {
                if let Some(page) = cur.buffer.take(index) {
                    inner.pages_allocated -= 1;
                    freed.push(page, GFP_KERNEL)?;
                }
                if core::mem::take(&mut cur.inserted[index]) {
                    inner.pages_mapped -= 1;
                }
            }
            Ok(())
        })
        // The pages (`freed`) are freed here, after the locks.
    }

    fn stats(&self) -> RbpStats {
        let inner = self.inner.lock();
        [
            inner.pages_allocated as u64,
            inner.pages_mapped as u64,
            inner.bytes_sent,
        ]
    }
}

struct BinderPages;

#[vtable]
impl MmapMiscDevice for BinderPages {
    type Ptr = Arc<Context>;
    type RegistrationData = ();

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
        if ctx.inner.lock().current.is_some() {
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
                let stats = ctx.stats();
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

#[vtable]
impl VmOperations for BinderVm {
    type FileData = Arc<Context>;
    type Data = Arc<Registration>;

    mmap_prepare::vm_ops_table!(BinderVm);

    /// Registers the new VMA: this is where the context allocates, now that the VMA exists.
    fn mapped(area: &MappedArea<'_>, ctx: ArcBorrow<'_, Context>) -> Result<Arc<Registration>> {
        let size = area.end - area.start;
        let task = kernel::current!();
        let reg = Arc::new(
            Registration {
                ctx: ctx.into(),
                mm: ARef::from(&**task.mm().ok_or(ESRCH)?),
                size,
            },
            GFP_KERNEL,
        )?;
        let current = Current {
            reg: reg.clone(),
            start: area.start,
            buffer: KernelPages::new_empty(size / PAGE_SIZE)?,
            inserted: KVec::zeroed(size / PAGE_SIZE, GFP_KERNEL)?,
        };
        let mut inner = reg.ctx.inner.lock();
        if inner.current.is_some() {
            return Err(EBUSY);
        }
        inner.current = Some(current);
        drop(inner);
        Ok(reg)
    }

    /// A move is committed: the registration follows its VMA to the new address.
    fn mremap(vma: &VmAreaRef, reg: Option<ArcBorrow<'_, Registration>>) -> Result {
        let Some(reg) = reg else { return Ok(()) };
        let mut inner = reg.ctx.inner.lock();
        if let Some(cur) = inner
            .current
            .as_mut()
            .filter(|cur| core::ptr::eq(&*cur.reg, &*reg))
        {
            cur.start = vma.start();
        }
        Ok(())
    }

    /// Unregisters the VMA, and frees its pages, if it is the registered one at the registered
    /// address: not the source of a committed move, nor a copy whose move failed.
    fn close(area: &ClosingArea, reg: Option<ArcBorrow<'_, Registration>>) {
        let Some(reg) = reg else { return };
        let mut inner = reg.ctx.inner.lock();
        let registered = inner
            .current
            .as_ref()
            .is_some_and(|cur| core::ptr::eq(&*cur.reg, &*reg) && cur.start == area.start);
        if registered {
            let gone = inner.current.take();
            inner.pages_allocated = 0;
            inner.pages_mapped = 0;
            drop(inner);
            // The buffer's pages, and the context's reference to the registration (which holds
            // the context), go outside the lock.
            drop(gone);
        }
    }

    /// One VMA per context: partial unmapping or `mprotect` of a part is refused.
    fn may_split(_vma: &VmAreaRef, _address: usize) -> Result {
        Err(EINVAL)
    }
}
