// SPDX-License-Identifier: GPL-2.0

//! Helpers of the end-to-end suites: open a device, map it in the test thread's own mm (made by
//! `kunit_attach_mm()`), read it back as userspace would, look at its VMA.

use kernel::{
    bindings,
    error::from_err_ptr,
    page::PAGE_SIZE,
    prelude::*,
    uaccess::{UserPtr, UserSlice},
};
use kernel::{
    sync::{Arc, ArcBorrow},
    types::ForeignOwnable,
};
use mmap_prepare::VmAreaRef;

// uapi values (asm-generic/mman-common.h, linux/mman.h): bindgen does not bind them.
pub(crate) const PROT_READ: usize = 0x1;
pub(crate) const PROT_WRITE: usize = 0x2;
pub(crate) const MAP_SHARED: usize = 0x01;
pub(crate) const MAP_PRIVATE: usize = 0x02;
pub(crate) const MAP_ANONYMOUS: usize = 0x20;
pub(crate) const MAP_FIXED_NOREPLACE: usize = 0x100000;
pub(crate) const RW: usize = PROT_READ | PROT_WRITE;

// bindgen renders some members of `struct file` as empty structs, which the lint flags; the
// pointer is only passed on.
#[allow(improper_ctypes)]
extern "C" {
    fn rmp_kunit_filp_open(path: *const c_char, flags: c_int) -> *mut bindings::file;
}

/// An open file of the test device, closed on drop.
pub(crate) struct DevFile(*mut bindings::file);

impl DevFile {
    pub(crate) fn open(path: &CStr) -> Result<Self> {
        // SAFETY: The path is a NUL-terminated string; the result is checked.
        let file = unsafe { rmp_kunit_filp_open(path.as_char_ptr(), bindings::O_RDWR as c_int) };
        from_err_ptr(file).map(DevFile).inspect_err(|e| {
            pr_err!("opening {path:?} failed: {e:?}\n");
        })
    }

    pub(crate) fn mmap(
        &self,
        addr: usize,
        pages: usize,
        prot: usize,
        flags: usize,
        off: usize,
    ) -> Result<usize> {
        mmap_raw(self.0, addr, pages, prot, flags, off)
    }
}

impl DevFile {
    /// The private data of the test device's file.
    pub(crate) fn test_file(&self) -> ArcBorrow<'_, crate::test_device::TestFile> {
        // SAFETY: `DevFile`s of `/dev/rmp_kunit` hold `Arc<TestFile>` private data (set in
        // `TestDev::open`), released only when the file is, which `&self` prevents.
        unsafe {
            <Arc<crate::test_device::TestFile> as ForeignOwnable>::borrow((*self.0).private_data)
        }
    }

    /// The raw `struct file`.
    pub(crate) fn as_ptr(&self) -> *mut bindings::file {
        self.0
    }
}

impl Drop for DevFile {
    fn drop(&mut self) {
        // SAFETY: We opened the file and close it once.
        unsafe { bindings::filp_close(self.0, core::ptr::null_mut()) };
        // A kthread's last fput is deferred to a work item: finish it, so that the file's
        // data is released before the test checks for it.
        // SAFETY: Always safe to call from process context.
        unsafe { bindings::flush_delayed_fput() };
    }
}

extern "C" {
    fn rmp_kunit_skip(reason: *const c_char);
}

/// Marks the running test case skipped, with `reason` (KTAP `# SKIP reason`): for a case about
/// another architecture's rules, e.g. x86's page attribute table on arm64.
pub(crate) fn skip(reason: &CStr) {
    // SAFETY: `reason` is a NUL-terminated string; the C side copies it.
    unsafe { rmp_kunit_skip(reason.as_char_ptr()) };
}

/// Gives the test thread an mm of its own if it has none (`kunit_attach_mm()`).
pub(crate) fn attach_mm() -> Result {
    // SAFETY: Always safe to call; it gives the kthread an mm if it has none.
    kernel::error::to_result(unsafe { bindings::kunit_attach_mm() })
        .inspect_err(|e| pr_err!("kunit_attach_mm failed: {e:?}\n"))
}

/// `vm_mmap()` in the test thread's own mm (made by `kunit_attach_mm()`).
pub(crate) fn mmap_raw(
    file: *mut bindings::file,
    addr: usize,
    pages: usize,
    prot: usize,
    flags: usize,
    off: usize,
) -> Result<usize> {
    attach_mm()?;
    // SAFETY: `file` is NULL or an open file; the other arguments are plain values.
    let ret = unsafe { bindings::vm_mmap(file, addr, pages * PAGE_SIZE, prot, flags, off) };
    if ret >= (-(bindings::MAX_ERRNO as isize)) as usize {
        return Err(Error::from_errno(ret as i32));
    }
    Ok(ret)
}

pub(crate) fn munmap(addr: usize, pages: usize) {
    // SAFETY: Unmapping a range of our own mm.
    let ret = unsafe { bindings::vm_munmap(addr, pages * PAGE_SIZE) };
    assert_eq!(ret, 0);
}

/// How many times a fault handler runs for one `read_user()` whose first byte it refuses (the
/// copy fails with nothing copied). x86's `copy_from_user()` gives up after the fault; arm64's
/// (`__arch_copy_from_user`, `arch/arm64/lib/copy_from_user.S`) tries one byte again "before
/// being absolutely sure we couldn't copy anything", which faults a second time.
#[cfg(CONFIG_ARM64)]
pub(crate) const FAULTS_PER_FAILED_READ: usize = 2;
#[cfg(not(CONFIG_ARM64))]
pub(crate) const FAULTS_PER_FAILED_READ: usize = 1;

/// Reads `len` bytes of our own mapping at `addr`, faulting pages in as userspace would.
pub(crate) fn read_user(addr: usize, len: usize) -> Result<KVec<u8>> {
    let mut buf = KVec::from_elem(0u8, len, GFP_KERNEL)?;
    UserSlice::new(UserPtr::from_addr(addr), len)
        .reader()
        .read_slice(&mut buf)?;
    Ok(buf)
}

/// Runs `f` on the VMA at `addr`, under the mmap read lock.
pub(crate) fn with_vma<R>(addr: usize, f: impl FnOnce(Option<&VmAreaRef>) -> R) -> R {
    let task = kernel::current!();
    let mm = task.mm().expect("the test thread has an mm");
    let guard = mm.mmap_read_lock();
    f(guard.vma_lookup(addr).map(VmAreaRef::from_vma_ref))
}

/// Writes `data` to our own mapping at `addr`, faulting pages in as userspace would.
pub(crate) fn write_user(addr: usize, data: &[u8]) -> Result {
    UserSlice::new(UserPtr::from_addr(addr), data.len())
        .writer()
        .write_slice(data)
}

// bindgen renders some members of `struct page` as empty structs; only the pointer is passed.
#[allow(improper_ctypes)]
extern "C" {
    fn rmp_kunit_rmap_probe(file: *mut bindings::file, start: usize, pgoff: usize) -> c_int;
    fn rmp_kunit_locked_vm() -> c_long;
    fn rmp_kunit_page_count(page: *mut bindings::page) -> c_int;
    fn rmp_kunit_page_phys(page: *mut bindings::page) -> u64;
}

/// The physical address of `page` (`page_to_phys()`).
pub(crate) fn page_phys(page: &kernel::page::Page) -> u64 {
    // SAFETY: `page` is a valid page for the call.
    unsafe { rmp_kunit_page_phys(page.as_ptr()) }
}

/// The reference count of `page` (`page_count()`).
pub(crate) fn page_count(page: &kernel::page::Page) -> i32 {
    // SAFETY: `page` is a valid page for the call.
    unsafe { rmp_kunit_page_count(page.as_ptr()) }
}

/// The current user's `locked_vm`, in pages.
pub(crate) fn locked_vm() -> isize {
    // SAFETY: Reads an atomic counter of the current task's user.
    unsafe { rmp_kunit_locked_vm() as isize }
}

/// What rmap can see of the VMA of our mm that starts at `start` and maps `file` at `pgoff`:
/// [`RMAP_IN_TREE`](crate::test_device::RMAP_IN_TREE) if it is in the file's `i_mmap` interval
/// tree, [`RMAP_WALKABLE`](crate::test_device::RMAP_WALKABLE) if a walker could take the tree's
/// lock now (`kunit_helpers.c`).
pub(crate) fn rmap_probe(file: *mut bindings::file, start: usize, pgoff: usize) -> Result<usize> {
    // SAFETY: The callers pass an open file (a `&File`'s, or a VMA's `vm_file` under the mmap
    // lock); the helper only reads its mapping's tree, under `i_mmap_rwsem` (taken unless the
    // caller holds it).
    let ret = unsafe { rmp_kunit_rmap_probe(file, start, pgoff) };
    kernel::error::to_result(ret)?;
    Ok(ret as usize)
}

// bindgen renders some members of `struct file` as empty structs; only pointers are passed.
#[allow(improper_ctypes)]
extern "C" {
    fn rmp_kunit_stack_attach(stack: *mut bindings::file, under: *mut bindings::file) -> c_int;
    fn rmp_kunit_stacker_register() -> c_int;
    fn rmp_kunit_stacker_unregister();
}

/// A stacking file (see [`Stacker`]) and the test device file it maps, to which it holds a
/// reference of its own. Fields drop in order: the stacking file's release drops its reference,
/// then the last one goes with `under`, whose drop flushes the deferred `fput()`.
pub(crate) struct Stacked {
    pub(crate) stack: DevFile,
    pub(crate) under: DevFile,
}

/// Opens the stacking device `path` and a file of the test device for it to map.
pub(crate) fn open_stacked(path: &CStr) -> Result<Stacked> {
    let stack = DevFile::open(path)?;
    let under = DevFile::open(crate::test_device::DEVICE_PATH)?;
    // SAFETY: Both files are open; the stacking file takes a reference of its own.
    kernel::error::to_result(unsafe { rmp_kunit_stack_attach(stack.as_ptr(), under.as_ptr()) })?;
    Ok(Stacked { stack, under })
}

/// The stacking devices `/dev/rmp_stack_same` and `/dev/rmp_stack_other` (`kunit/stacker.c`),
/// registered while this value lives.
pub(crate) struct Stacker(());

impl Stacker {
    pub(crate) fn register() -> Result<Self> {
        // SAFETY: Registers two static misc devices; `Drop` deregisters them.
        kernel::error::to_result(unsafe { rmp_kunit_stacker_register() })?;
        Ok(Stacker(()))
    }
}

impl Drop for Stacker {
    fn drop(&mut self) {
        // SAFETY: They were registered by `register()`.
        unsafe { rmp_kunit_stacker_unregister() };
    }
}
