// SPDX-License-Identifier: GPL-2.0

//! A file whose `file_operations` are built by hand (an anonymous inode's, as binderfs files
//! are not misc devices), mapped through [`mmap_prepare::file::mmap_prepare_entry`]; the
//! own-VMA lookups (`OwnVmArea::lookup`, `try_lookup`) on its mapping; and the copies across
//! pages ([`PageArray`]) and from a `UserSliceReader`.

use kernel::prelude::*;

#[kunit_tests(mmap_prepare_file_ops)]
mod tests {
    use crate::util::*;
    use core::ptr;
    use kernel::{
        bindings,
        error::{from_err_ptr, to_result},
        fs::File,
        mm::Mm,
        page::PAGE_SIZE,
        prelude::*,
        sync::{
            atomic::{Atomic, Relaxed},
            Arc, ArcBorrow,
        },
        types::ForeignOwnable,
        uaccess::{UserPtr, UserSlice},
    };
    use mmap_prepare::{
        file::{mmap_prepare_entry, MmapPrepareFile},
        ClosingArea, KernelPages, MappedArea, OwnVmArea, PageArray, PageCopy, UserContext,
        VmAreaDesc, VmOperations, VmaFlag,
    };

    /// The private data of a hand-built file; counts what the callbacks saw.
    struct HandFile {
        /// The address space `mmap_prepare` and `mapped` compare against.
        mm: *const bindings::mm_struct,
        prepared: Atomic<usize>,
        desc_in_mm: Atomic<usize>,
        mapped: Atomic<usize>,
        mapped_in_mm: Atomic<usize>,
        closed: Atomic<usize>,
        /// A page offset `mmap_prepare` sets (`VmAreaDesc::set_pgoff`), unless 0.
        pgoff: Atomic<usize>,
    }

    // SAFETY: `mm` is only compared, never dereferenced; the counters are atomics.
    unsafe impl Send for HandFile {}
    // SAFETY: See `Send`.
    unsafe impl Sync for HandFile {}

    impl HandFile {
        /// The address space to compare with (the test thread's, or another one).
        fn mm(&self) -> &Mm {
            // SAFETY: `mm` is the test thread's mm (kunit_attach_mm() keeps it until the case
            // ends) or one the case holds a reference to until the file is released; both
            // outlive every file that records them.
            unsafe { Mm::from_raw(self.mm.cast_mut()) }
        }
    }

    impl MmapPrepareFile for HandFile {
        type FileData = Arc<HandFile>;

        fn mmap_prepare<'a>(
            data: ArcBorrow<'a, HandFile>,
            _file: &'a File,
            desc: &mut VmAreaDesc<'a, Arc<HandFile>>,
        ) -> Result {
            data.prepared.fetch_add(1, Relaxed);
            if desc.is_in_mm(data.mm()) {
                data.desc_in_mm.fetch_add(1, Relaxed);
            }
            match data.pgoff.load(Relaxed) {
                0 => {}
                pgoff => desc.set_pgoff(pgoff)?,
            }
            desc.set_flags(VmaFlag::MIXEDMAP)?;
            desc.set_vm_ops::<HandVm>()
        }
    }

    struct HandVm;

    #[vtable]
    impl VmOperations for HandVm {
        type FileData = Arc<HandFile>;
        type Data = Arc<HandFile>;

        mmap_prepare::vm_ops_table!(HandVm);

        fn mapped(area: &MappedArea<'_>, data: ArcBorrow<'_, HandFile>) -> Result<Arc<HandFile>> {
            data.mapped.fetch_add(1, Relaxed);
            if area.is_in_mm(data.mm()) {
                data.mapped_in_mm.fetch_add(1, Relaxed);
            }
            Ok(data.into())
        }

        fn close(_area: &ClosingArea, data: Option<ArcBorrow<'_, HandFile>>) {
            if let Some(data) = data {
                data.closed.fetch_add(1, Relaxed);
            }
        }
    }

    /// Another driver's operations on the same kind of file: lookups for it must not find
    /// `HandVm`'s VMAs.
    struct OtherVm;

    #[vtable]
    impl VmOperations for OtherVm {
        type FileData = Arc<HandFile>;
        type Data = ();

        mmap_prepare::vm_ops_table!(OtherVm);

        fn mapped(_area: &MappedArea<'_>, _data: ArcBorrow<'_, HandFile>) -> Result {
            Ok(())
        }
    }

    /// # Safety
    ///
    /// `file` is a file of `FOPS` being released; its private data came from `hand_file`.
    unsafe extern "C" fn release(_inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
        // SAFETY: `hand_file` gave the file an `Arc<HandFile>`, taken back once, here.
        drop(unsafe { Arc::<HandFile>::from_foreign((*file).private_data) });
        0
    }

    /// The hand-built table: only `mmap_prepare` and `release`.
    struct Fops(bindings::file_operations);
    // SAFETY: Written once at compile time, then only read.
    unsafe impl Sync for Fops {}

    static FOPS: Fops = Fops(bindings::file_operations {
        // SAFETY: The files of this table are made by `hand_file`, which gives each an
        // `Arc<HandFile>` as private data, released only in `release`.
        mmap_prepare: Some(unsafe { mmap_prepare_entry::<HandFile>() }),
        release: Some(release),
        ..pin_init::zeroed()
    });

    /// The same, for files whose offsets are unsigned (`FOP_UNSIGNED_OFFSET`, as DRM's):
    /// `do_mmap()`'s `file_mmap_ok()` lets their byte offset plus length reach 2^64.
    static FOPS_UNSIGNED_OFFSET: Fops = Fops(bindings::file_operations {
        // SAFETY: As for `FOPS`.
        mmap_prepare: Some(unsafe { mmap_prepare_entry::<HandFile>() }),
        release: Some(release),
        fop_flags: bindings::FOP_UNSIGNED_OFFSET,
        ..pin_init::zeroed()
    });

    // bindgen renders some members of `struct file` as empty structs, which the lint flags; the
    // pointers are only passed on.
    #[allow(improper_ctypes)]
    extern "C" {
        fn rmp_kunit_anon_file(
            fops: *const bindings::file_operations,
            private: *mut c_void,
        ) -> *mut bindings::file;
        fn rmp_kunit_mmap_write_lock_vma(addr: c_ulong) -> c_int;
        fn rmp_kunit_mmap_write_unlock();
        fn rmp_kunit_mm_alloc() -> *mut bindings::mm_struct;
        fn rmp_kunit_mmput(mm: *mut bindings::mm_struct);
    }

    /// A file of `FOPS` and its data; closed on drop.
    struct HandOpen {
        file: *mut bindings::file,
        data: Arc<HandFile>,
    }

    impl HandOpen {
        /// A file whose data records the test thread's address space.
        fn new() -> Result<Self> {
            attach_mm()?;
            let task = kernel::current!();
            let mm = task.mm().ok_or(ESRCH)?.as_raw();
            Self::with_mm(mm)
        }

        /// A file whose data records `mm`.
        fn with_mm(mm: *const bindings::mm_struct) -> Result<Self> {
            Self::with_fops(mm, &FOPS)
        }

        /// A file of `fops` (`FOPS` or `FOPS_UNSIGNED_OFFSET`) whose data records `mm`.
        fn with_fops(mm: *const bindings::mm_struct, fops: &'static Fops) -> Result<Self> {
            let data = Arc::new(
                HandFile {
                    mm,
                    prepared: Atomic::new(0),
                    desc_in_mm: Atomic::new(0),
                    mapped: Atomic::new(0),
                    mapped_in_mm: Atomic::new(0),
                    closed: Atomic::new(0),
                    pgoff: Atomic::new(0),
                },
                GFP_KERNEL,
            )?;
            let private = data.clone().into_foreign();
            // SAFETY: `fops` lives forever; the file owns `private` from here on (released by
            // `release`), or we take it back if no file was made.
            let file = unsafe { rmp_kunit_anon_file(&fops.0, private) };
            match from_err_ptr(file) {
                Ok(file) => Ok(Self { file, data }),
                Err(err) => {
                    // SAFETY: No file took `private`.
                    drop(unsafe { Arc::<HandFile>::from_foreign(private) });
                    Err(err)
                }
            }
        }
    }

    impl Drop for HandOpen {
        fn drop(&mut self) {
            // SAFETY: We made the file and close it once; a kthread's last fput is deferred,
            // so finish it before the test looks at what `release` did.
            unsafe {
                bindings::filp_close(self.file, ptr::null_mut());
                bindings::flush_delayed_fput();
            }
        }
    }

    #[test]
    fn hand_built_fops_map_through_the_crate() -> Result {
        let f = HandOpen::new()?;
        let addr = mmap_raw(f.file, 0, 2, PROT_READ, MAP_SHARED, 0)?;
        assert_eq!(f.data.prepared.load(Relaxed), 1);
        assert_eq!(f.data.desc_in_mm.load(Relaxed), 1);
        assert_eq!(f.data.mapped.load(Relaxed), 1);
        assert_eq!(f.data.mapped_in_mm.load(Relaxed), 1);
        let flags = with_vma(addr, |vma| vma.map(|v| v.flags())).ok_or(EFAULT)?;
        assert!(flags.contains(VmaFlag::MIXEDMAP));
        munmap(addr, 2);
        assert_eq!(f.data.closed.load(Relaxed), 1);
        // The file's data and the VMA's reference are all that is left besides ours.
        drop(f);
        Ok(())
    }

    /// `set_pgoff` keeps `do_mmap()`'s rules for a file with `FOP_UNSIGNED_OFFSET` too: the
    /// byte offset plus the length must fit 64 bits (`file_mmap_ok()`), the last page offset
    /// must not wrap. The crate skipped both for such a file, so `usize::MAX` was accepted and
    /// the VMA went into the `i_mmap` tree with its last offset below its first.
    #[test]
    fn set_pgoff_never_wraps_on_unsigned_offset_files() -> Result {
        attach_mm()?;
        let task = kernel::current!();
        let mm = task.mm().ok_or(ESRCH)?.as_raw();
        let f = HandOpen::with_fops(mm, &FOPS_UNSIGNED_OFFSET)?;
        // The largest offset `do_mmap()` takes for one page of such a file: 2^64 - PAGE_SIZE
        // bytes (64-bit kernels, where the offset is an unsigned long).
        let largest = (0u64.wrapping_sub(PAGE_SIZE as u64) >> bindings::PAGE_SHIFT) as usize;
        let refused = [
            (usize::MAX, 1),
            (usize::MAX - 1, 1),
            (largest + 1, 1),
            (largest, 2),
        ];
        for (pgoff, pages) in refused {
            f.data.pgoff.store(pgoff, Relaxed);
            assert_eq!(
                mmap_raw(f.file, 0, pages, PROT_READ, MAP_SHARED, 0),
                Err(EOVERFLOW)
            );
        }
        assert_eq!(f.data.mapped.load(Relaxed), 0);
        f.data.pgoff.store(largest, Relaxed);
        let addr = mmap_raw(f.file, 0, 1, PROT_READ, MAP_SHARED, 0)?;
        let pgoff = with_vma(addr, |vma| vma.map(|v| v.pgoff()));
        munmap(addr, 1);
        assert_eq!(pgoff, Some(largest));
        assert_eq!(f.data.mapped.load(Relaxed), 1);
        Ok(())
    }

    #[test]
    fn is_in_mm_tells_other_address_spaces_apart() -> Result {
        attach_mm()?;
        // A file whose recorded address space is another one, made for the test.
        // SAFETY: Always safe to call; the result is checked.
        let other = unsafe { rmp_kunit_mm_alloc() };
        if other.is_null() {
            return Err(ENOMEM);
        }
        let g = match HandOpen::with_mm(other) {
            Ok(g) => g,
            Err(err) => {
                // SAFETY: Ours, and nothing recorded it.
                unsafe { rmp_kunit_mmput(other) };
                return Err(err);
            }
        };
        let addr = mmap_raw(g.file, 0, 1, PROT_READ, MAP_SHARED, 0)?;
        assert_eq!(g.data.prepared.load(Relaxed), 1);
        assert_eq!(g.data.desc_in_mm.load(Relaxed), 0);
        assert_eq!(g.data.mapped.load(Relaxed), 1);
        assert_eq!(g.data.mapped_in_mm.load(Relaxed), 0);
        munmap(addr, 1);
        drop(g);
        // SAFETY: Our reference from `rmp_kunit_mm_alloc()`; the file that recorded it is
        // closed and released (`HandOpen::drop` flushes the deferred fput).
        unsafe { rmp_kunit_mmput(other) };
        Ok(())
    }

    #[test]
    fn lookup_finds_only_its_own_vma() -> Result {
        let f = HandOpen::new()?;
        let addr = mmap_raw(f.file, 0, 2, PROT_READ, MAP_SHARED, 0)?;
        let anon = mmap_raw(ptr::null_mut(), 0, 1, RW, MAP_PRIVATE | MAP_ANONYMOUS, 0)?;
        let task = kernel::current!();
        let mm = task.mm().ok_or(ESRCH)?;
        // SAFETY: A KUnit case holds no lock of its address space and may sleep.
        let (own, own_end, in_anon, other) = unsafe {
            UserContext::with(|user| {
                (
                    OwnVmArea::<HandVm>::lookup(user, mm, addr + PAGE_SIZE, |vma| {
                        vma.data().map(|d| ptr::eq(&*d, &*f.data))
                    }),
                    OwnVmArea::<HandVm>::lookup(user, mm, addr + 2 * PAGE_SIZE - 1, |vma| {
                        vma.start()
                    }),
                    OwnVmArea::<HandVm>::lookup(user, mm, anon, |_| ()),
                    OwnVmArea::<OtherVm>::lookup(user, mm, addr, |_| ()),
                )
            })
        };
        assert_eq!(own, Some(Some(true)));
        assert_eq!(own_end, Some(addr));
        assert_eq!(in_anon, None);
        assert_eq!(other, None);
        munmap(addr, 2);
        // SAFETY: As above.
        let gone = unsafe {
            UserContext::with(|user| OwnVmArea::<HandVm>::lookup(user, mm, addr, |_| ()))
        };
        assert_eq!(gone, None);
        munmap(anon, 1);
        Ok(())
    }

    #[test]
    fn try_lookup_never_waits() -> Result {
        let f = HandOpen::new()?;
        let addr = mmap_raw(f.file, 0, 1, PROT_READ, MAP_SHARED, 0)?;
        let anon = mmap_raw(ptr::null_mut(), 0, 1, RW, MAP_PRIVATE | MAP_ANONYMOUS, 0)?;
        let task = kernel::current!();
        let mm = task.mm().ok_or(ESRCH)?;
        let found = OwnVmArea::<HandVm>::try_lookup(mm, addr, |vma| vma.map(|v| v.start()));
        assert_eq!(found, Some(Some(addr)));
        // Under the lock, an address with no VMA of ours is `Some(None)`: known to be absent.
        let absent = OwnVmArea::<HandVm>::try_lookup(mm, anon, |vma| vma.is_some());
        assert_eq!(absent, Some(false));
        // The VMA write-locked under the mmap write lock, as while it is being changed: both
        // locks are contended and `try_lookup` returns at once (a wait would hang this case).
        // SAFETY: Our own mm, attached; released just below.
        to_result(unsafe { rmp_kunit_mmap_write_lock_vma(addr as c_ulong) })?;
        let contended = OwnVmArea::<HandVm>::try_lookup(mm, addr, |_| ());
        // SAFETY: Locked by this thread above.
        unsafe { rmp_kunit_mmap_write_unlock() };
        assert_eq!(contended, None);
        munmap(addr, 1);
        munmap(anon, 1);
        Ok(())
    }

    #[test]
    fn typed_copies_cross_pages() -> Result {
        let pages = KernelPages::alloc(2, GFP_KERNEL)?;
        let at = PAGE_SIZE - 3;
        pages.write_at(at, &0x1122_3344_5566_7788u64)?;
        assert_eq!(pages.read_at::<u64>(at)?, 0x1122_3344_5566_7788);
        let mut tail = [0u8; 5];
        pages.read(1, 0, &mut tail)?;
        // Little or big endian, the five bytes after the boundary are the value's last five.
        let bytes = 0x1122_3344_5566_7788u64.to_ne_bytes();
        assert_eq!(tail, bytes[3..]);
        let fill = KVec::from_elem(0xaau8, 2 * PAGE_SIZE, GFP_KERNEL)?;
        pages.write_at(0, &fill[..])?;
        pages.zero_at(at, 6)?;
        assert_eq!(
            pages.read_at::<[u8; 8]>(at - 1)?,
            [0xaa, 0, 0, 0, 0, 0, 0, 0xaa]
        );
        Ok(())
    }

    #[test]
    fn copies_out_of_range_or_absent_change_nothing() -> Result {
        let pages = KernelPages::new_empty(2)?;
        pages.get_or_alloc(0, GFP_KERNEL)?;
        pages.write_at(PAGE_SIZE - 4, &0x0102_0304u32)?;
        // Page 1 is absent: the copy across the boundary fails and leaves page 0 alone.
        assert_eq!(pages.write_at(PAGE_SIZE - 4, &u64::MAX), Err(EFAULT));
        assert_eq!(pages.read_at::<u32>(PAGE_SIZE - 4)?, 0x0102_0304);
        assert_eq!(pages.zero_at(PAGE_SIZE - 4, 8), Err(EFAULT));
        assert_eq!(pages.read_at::<u32>(PAGE_SIZE - 4)?, 0x0102_0304);
        assert_eq!(pages.read_at::<u64>(PAGE_SIZE - 4), Err(EFAULT));
        // Past the end, and an offset that overflows.
        assert_eq!(pages.write_at(2 * PAGE_SIZE, &1u8), Err(EFAULT));
        assert_eq!(pages.write_at(usize::MAX - 1, &1u32), Err(EFAULT));
        // Nothing to copy is fine anywhere.
        assert_eq!(pages.zero_at(usize::MAX, 0), Ok(()));
        Ok(())
    }

    #[test]
    fn copy_from_user_slice_crosses_pages() -> Result {
        // SAFETY: A KUnit case holds no lock of its address space and may sleep.
        unsafe { UserContext::with(|ctx| copy_from_user_slice_body(ctx)) }
    }

    /// The case itself, with the proof that the test thread holds no lock of its mm.
    fn copy_from_user_slice_body(ctx: &UserContext) -> Result {
        let len = 3 * PAGE_SIZE;
        let user = mmap_raw(ptr::null_mut(), 0, 3, RW, MAP_PRIVATE | MAP_ANONYMOUS, 0)?;
        let mut src = KVec::with_capacity(len, GFP_KERNEL)?;
        for i in 0..len {
            src.push((i * 7 + 3) as u8, GFP_KERNEL)?;
        }
        UserSlice::new(UserPtr::from_addr(user), len)
            .writer()
            .write_slice(&src)?;
        let pages = KernelPages::alloc(3, GFP_KERNEL)?;
        let (at, n) = (PAGE_SIZE / 2, 2 * PAGE_SIZE);
        let mut reader = UserSlice::new(UserPtr::from_addr(user + 5), n + 1).reader();
        pages.copy_from_user_slice_at(ctx, at, &mut reader, n)?;
        // The reader advanced by exactly `n`.
        assert_eq!(reader.len(), 1);
        let mut back = KVec::from_elem(0u8, n, GFP_KERNEL)?;
        for (i, b) in back.iter_mut().enumerate() {
            *b = pages.read_at::<u8>(at + i)?;
        }
        assert_eq!(&back[..], &src[5..5 + n]);
        // A reader shorter than the copy: EFAULT before anything is read.
        let mut short = UserSlice::new(UserPtr::from_addr(user), 10).reader();
        assert_eq!(
            pages.copy_from_user_slice_at(ctx, 0, &mut short, 11),
            Err(EFAULT)
        );
        assert_eq!(short.len(), 10);
        assert_eq!(pages.read_at::<u8>(0)?, 0);
        // One page, straight: the per-page copy checks its range.
        let page = pages.page(0).ok_or(EINVAL)?;
        let mut one = UserSlice::new(UserPtr::from_addr(user), 16).reader();
        assert_eq!(
            page.copy_from_user_slice(ctx, PAGE_SIZE - 8, &mut one, 16),
            Err(EINVAL)
        );
        page.copy_from_user_slice(ctx, 8, &mut one, 16)?;
        assert_eq!(
            pages.read_at::<[u8; 4]>(8)?,
            [src[0], src[1], src[2], src[3]]
        );
        // Unmapped user memory: EFAULT.
        munmap(user, 3);
        let mut gone = UserSlice::new(UserPtr::from_addr(user), 8).reader();
        assert_eq!(page.copy_from_user_slice(ctx, 0, &mut gone, 8), Err(EFAULT));
        Ok(())
    }

    #[test]
    fn copy_from_user_at_crosses_pages() -> Result {
        // SAFETY: A KUnit case holds no lock of its address space and may sleep.
        unsafe { UserContext::with(|ctx| copy_from_user_at_body(ctx)) }
    }

    /// The case itself, with the proof that the test thread holds no lock of its mm.
    fn copy_from_user_at_body(ctx: &UserContext) -> Result {
        let len = 3 * PAGE_SIZE;
        let user = mmap_raw(ptr::null_mut(), 0, 3, RW, MAP_PRIVATE | MAP_ANONYMOUS, 0)?;
        let mut src = KVec::with_capacity(len, GFP_KERNEL)?;
        for i in 0..len {
            // No period that divides a page: a piece read from the wrong page shows.
            src.push((i * 11 + (i >> 8) * 29 + 1) as u8, GFP_KERNEL)?;
        }
        UserSlice::new(UserPtr::from_addr(user), len)
            .writer()
            .write_slice(&src)?;
        // Two pages and a bit, from an odd user address to an odd offset: three page pieces.
        let pages = KernelPages::alloc(3, GFP_KERNEL)?;
        let (at, n) = (PAGE_SIZE / 2 + 3, 2 * PAGE_SIZE + 7);
        pages.copy_from_user_at(ctx, at, UserPtr::from_addr(user + 5), n)?;
        let mut back = KVec::from_elem(0u8, n, GFP_KERNEL)?;
        for (i, b) in back.iter_mut().enumerate() {
            *b = pages.read_at::<u8>(at + i)?;
        }
        assert_eq!(&back[..], &src[5..5 + n]);
        // The bytes around the copy are untouched.
        assert_eq!(pages.read_at::<u8>(at - 1)?, 0);
        assert_eq!(pages.read_at::<u8>(at + n)?, 0);
        // Past the end of the array: EFAULT, nothing copied.
        assert_eq!(
            pages.copy_from_user_at(ctx, 3 * PAGE_SIZE - 4, UserPtr::from_addr(user), 8),
            Err(EFAULT)
        );
        assert_eq!(pages.read_at::<u32>(3 * PAGE_SIZE - 4)?, 0);
        // An absent page on the way: EFAULT, nothing copied into the present one.
        let holes = KernelPages::new_empty(2)?;
        holes.get_or_alloc(0, GFP_KERNEL)?;
        assert_eq!(
            holes.copy_from_user_at(ctx, PAGE_SIZE - 4, UserPtr::from_addr(user + 1), 8),
            Err(EFAULT)
        );
        assert_eq!(holes.read_at::<u32>(PAGE_SIZE - 4)?, 0);
        // User memory that ends half way: the bytes before the hole are copied, then EFAULT.
        munmap(user + 2 * PAGE_SIZE, 1);
        let fresh = KernelPages::alloc(2, GFP_KERNEL)?;
        assert_eq!(
            fresh.copy_from_user_at(ctx, 0, UserPtr::from_addr(user + PAGE_SIZE), 2 * PAGE_SIZE),
            Err(EFAULT)
        );
        assert_eq!(fresh.read_at::<u8>(PAGE_SIZE - 1)?, src[2 * PAGE_SIZE - 1]);
        assert_eq!(fresh.read_at::<u8>(PAGE_SIZE)?, 0);
        // A kernel address is refused before anything is written (`copy_from_user()` itself
        // would zero the bytes it did not copy).
        let kernel = back.as_ptr() as usize;
        assert_eq!(
            fresh.copy_from_user_at(ctx, 0, UserPtr::from_addr(kernel), 8),
            Err(EFAULT)
        );
        assert_eq!(
            fresh.read_at::<[u8; 2]>(0)?,
            [src[PAGE_SIZE], src[PAGE_SIZE + 1]]
        );
        let page = fresh.page(0).ok_or(EINVAL)?;
        assert_eq!(
            page.copy_from_user(ctx, 0, UserPtr::from_addr(kernel), 8),
            Err(EFAULT)
        );
        assert_eq!(fresh.read_at::<u8>(7)?, src[PAGE_SIZE + 7]);
        munmap(user, 2);
        Ok(())
    }
}
