// SPDX-License-Identifier: GPL-2.0

//! Binder's memory model on `mmap_prepare`, in safe Rust.
//!
//! Each open of `/dev/rust_binder_pages` is a receiver context. The receiver maps it once,
//! read-only, at most [`MAX_SIZE`] bytes. A sender holding the same file (for instance a child
//! that inherited it; the mapping itself is not inherited) copies a message into the receiver's
//! buffer with `RBP_IOC_SEND`, where the receiver reads it in place. The sender's message is
//! pinned first ([`PinnedUserBuffer`]), so a bad pointer fails before anything changes and the
//! copies cannot fault half way: a SEND that fails leaves the buffer as it was. Pages that exist
//! are written in place under the context lock alone; missing ones are allocated and inserted
//! into the receiver's mapping first. A page the receiver dropped (`MADV_DONTNEED`) comes back
//! on its next fault. `RBP_IOC_FREE` zaps and frees the pages wholly inside a range (a fault
//! racing it may still map a freed page once more, which stays valid through that entry; a SEND
//! zaps before it inserts). ABI: `samples/uapi/rust_binder_pages.h`.
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
    sync::{
        aref::ARef,
        atomic::{Atomic, Relaxed},
        Arc, ArcBorrow, Mutex,
    },
    transmute::FromBytes,
    uaccess::{UserPtr, UserSlice},
};
use mmap_prepare::{
    ClosingArea, FaultError, FaultResult, KernelPage, KernelPages, MappedArea, MmapMiscDevice,
    MmapMiscDeviceRegistration, OwnVmArea, PinnedUserBuffer, UserContext, VmAreaDesc, VmAreaRef,
    VmFault, VmOperations, VmaFlag,
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
    /// The current registration's size, 0 without one: read without the lock, to refuse a SEND
    /// outside the buffer before its message is pinned (the check under the lock decides).
    size: Atomic<usize>,
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

/// Copies `message` into `buffer` at byte `offset`. The caller checked, under the lock that keeps
/// slots from emptying, that every page the message touches exists, so this cannot fail half way.
fn write_message(buffer: &KernelPages, offset: usize, message: &PinnedUserBuffer) -> Result {
    let mut done = 0;
    for index in touched_pages(offset, message.len()) {
        let page = buffer.page(index).ok_or(EINVAL)?;
        let at = (offset + done) % PAGE_SIZE;
        let chunk = (PAGE_SIZE - at).min(message.len() - done);
        message.copy_to_page(done, &page, at, chunk)?;
        done += chunk;
    }
    Ok(())
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
        f: impl FnOnce(&OwnVmArea<BinderVm>, &mut Current, &mut Inner) -> Result<R>,
    ) -> Result<R> {
        let mm: ARef<MmWithUser> = reg.mm.mmget_not_zero().ok_or(ESRCH)?;
        let check = |vma: &VmAreaRef| -> Result<R> {
            // The own-VMA proof: our operations, this very registration, at its start.
            let vma = vma.as_own::<BinderVm>().ok_or(ESRCH)?;
            let ours = vma.data().is_some_and(|r| core::ptr::eq(&*r, &**reg));
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

    fn send(&self, arg: usize, user: &UserContext) -> Result {
        let [offset, len, data]: RbpSend = read_arg(arg)?;
        if len == 0 {
            // Touches nothing; only the range is checked.
            self.target(offset, 0)?;
            return Ok(());
        }
        // The errno of a SEND outside the buffer is EINVAL (ESRCH without one), whatever the
        // pointer: check before pinning.
        match self.size.load(Relaxed) {
            0 => return Err(ESRCH),
            size => checked_range(offset, len, size)?,
        };
        // Pin the whole message first: a bad pointer fails here, before anything is changed,
        // and the copies below cannot fault, so none of them can fail half way.
        let message = PinnedUserBuffer::pin(user, UserPtr::from_addr(data as usize), len as usize)?;

        // Every touched page exists (the common case): write in place, under the context lock
        // only. The pages are in the receiver's mapping, or come back on a fault.
        let (reg, start, offset, len) = {
            let mut inner = self.inner.lock();
            let cur = inner.current.as_ref().ok_or(ESRCH)?;
            let (offset, len) = checked_range(offset, len, cur.reg.size)?;
            let pages = touched_pages(offset, len);
            if cur.buffer.are_present(pages.start, pages.len()) {
                write_message(&cur.buffer, offset, &message)?;
                inner.bytes_sent += len as u64;
                return Ok(());
            }
            (cur.reg.clone(), cur.start, offset, len)
        };

        // Some pages are new: allocate them, insert them into the receiver's VMA, then write.
        let pages = touched_pages(offset, len);
        let mut new = KVec::with_capacity(pages.len(), GFP_KERNEL)?;
        self.with_own_vma(&reg, start, |vma, cur, inner| {
            let mixed = vma.check_mixedmap().ok_or(ESRCH)?;
            // All allocations first: if one fails, nothing was changed.
            for index in pages.clone() {
                if cur.buffer.page(index).is_none() {
                    new.push(
                        (index, KernelPage::alloc(GFP_KERNEL | __GFP_ZERO)?),
                        GFP_KERNEL,
                    )?;
                }
            }
            let mut inserted = Ok(());
            for (index, page) in new.drain_all() {
                // The slot was empty: nothing is replaced.
                let _ = cur.buffer.replace(index, page)?;
                if inserted.is_ok() {
                    let at = start + index * PAGE_SIZE;
                    // A fault that handed out this slot's old page before a FREE took it may
                    // have mapped it after (the core maps a `set_page` answer once the handler
                    // returned, outside `inner`): that stale entry would make the insertion fail
                    // with `EBUSY`. No entry of ours is there by the driver's account: zap it.
                    inserted = vma
                        .zap_range(at, PAGE_SIZE)
                        .and_then(|()| mixed.insert_pages(at, &cur.buffer, index, 1));
                }
            }
            if let Err(err) = inserted {
                // Take the new pages out again: the failed SEND changes nothing.
                for index in pages.clone() {
                    if !cur.inserted[index] && cur.buffer.page(index).is_some() {
                        vma.zap_range(start + index * PAGE_SIZE, PAGE_SIZE)?;
                        drop(cur.buffer.take(index));
                    }
                }
                return Err(err);
            }
            for index in pages.clone() {
                if !cur.inserted[index] {
                    cur.inserted[index] = true;
                    inner.pages_allocated += 1;
                    inner.pages_mapped += 1;
                }
            }
            write_message(&cur.buffer, offset, &message)?;
            inner.bytes_sent += len as u64;
            Ok(())
        })
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
                size: Atomic::new(0),
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

    fn ioctl(
        ctx: ArcBorrow<'_, Context>,
        _file: &File,
        cmd: u32,
        arg: usize,
        user: &mut UserContext,
    ) -> Result<isize> {
        match cmd {
            RBP_IOC_SEND => ctx.send(arg, user)?,
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
    #[inline]
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
        reg.ctx.size.store(size, Relaxed);
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
            reg.ctx.size.store(0, Relaxed);
            inner.pages_allocated = 0;
            inner.pages_mapped = 0;
            drop(inner);
            // The buffer's pages, and the context's reference to the registration (which holds
            // the context), go outside the lock.
            drop(gone);
        }
    }

    /// Maps a buffer page again after the receiver dropped it (`madvise(MADV_DONTNEED)`); SEND
    /// writes existing pages in place and does not insert them again. A page never sent gets
    /// `SIGBUS`.
    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let reg = vmf.data().ok_or(FaultError::SIGBUS)?;
        let start = vmf.vma().start();
        let index = (vmf.address() - start) / PAGE_SIZE;
        let mut inner = reg.ctx.inner.lock();
        let Inner {
            current,
            pages_mapped,
            ..
        } = &mut *inner;
        let cur = current
            .as_mut()
            .filter(|cur| core::ptr::eq(&*cur.reg, &*reg) && cur.start == start)
            .ok_or(FaultError::SIGBUS)?;
        let page = cur.buffer.page(index).ok_or(FaultError::SIGBUS)?;
        let answer = vmf.set_page(&page)?;
        if !cur.inserted[index] {
            cur.inserted[index] = true;
            *pages_mapped += 1;
        }
        Ok(answer)
    }

    /// One VMA per context: partial unmapping or `mprotect` of a part is refused.
    fn may_split(_vma: &OwnVmArea<Self>, _address: usize) -> Result {
        Err(EINVAL)
    }
}
