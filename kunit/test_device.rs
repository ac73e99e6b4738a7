// SPDX-License-Identifier: GPL-2.0

//! A misc device whose mappings exercise the abstractions, for the end-to-end suite.
//!
//! The file offset of a mapping selects what `mmap_prepare` does (see [`Mode`]), so a test picks
//! the behaviour with the offset it passes to `vm_mmap`. Every callback counts its calls in the
//! statics below, which the tests read; userspace reads them with `RMP_KUNIT_IOC_STATS`
//! (`kunit/userspace/rmp_kunit.h`), with the caller's locked memory, which the fault-injection
//! sweeps and stress tests check after every step.

use crate::util::{page_count, rmap_probe};
use core::mem::size_of;
use kernel::{
    fs::{File, Kiocb},
    ioctl::{_IO, _IOR},
    iov::{IovIterDest, IovIterSource},
    new_mutex, new_poll_condvar,
    page::PAGE_SIZE,
    prelude::*,
    seq_file::{seq_print, SeqFile},
    sync::{
        atomic::{Atomic, Relaxed},
        poll::{PollCondVar, PollTable},
        Arc, ArcBorrow, Mutex,
    },
    uaccess::{UserPtr, UserSlice},
};
use mmap_prepare::{
    CacheMode, ClosingArea, DeviceMemory, FaultError, FaultResult, IntoRef, KernelPages,
    MappedArea, MmapAction, MmapMiscDevice, MmapMiscDeviceRegistration, OpeningArea, OwnVmArea,
    UserContext, VmAreaDesc, VmAreaRef, VmFault, VmOperations, VmaFlag, VmaFlags,
};

/// The device node the tests open.
pub(crate) const DEVICE_PATH: &CStr = c"/dev/rmp_kunit";

/// Pages each open file owns.
pub(crate) const PAGES: usize = 4;

/// What `mmap_prepare` does, chosen by the mapping's page offset: `pgoff = mode * MODE_STRIDE + n`.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub(crate) enum Mode {
    /// vm_ops only; pages come from `fault`.
    Fault = 0,
    /// `mapped` fails with `ENOMEM`; the action overrides the error with `EAGAIN`.
    MappedFails = 1,
    /// The action maps the file's pages from index `n`.
    MapKernelPages = 2,
    /// The action remaps page `n` at the start of the mapping (PFN mapping).
    RemapPage = 3,
    /// `VM_MIXEDMAP` is set and nothing is mapped: pages are inserted later.
    MixedMap = 4,
    /// The action asks for a range past the end of the mapping.
    BadRange = 5,
    /// `VM_PFNMAP` is set; `fault` inserts the file's pages as PFN entries.
    PfnFault = 6,
    /// `fault` hands page `n` to the core, then fails anyway (the glue must drop the reference).
    SetPageThenFail = 7,
    /// `VM_PFNMAP` is set, yet `fault` hands a page to the core (refused: `SIGBUS`).
    SetPageOnPfnmap = 8,
    /// `VM_IO | VM_PFNMAP` is set; `fault` inserts PFNs of RAM (refused: `SIGBUS`).
    PfnIntoIo = 9,
    /// `mmap_prepare` asks for `VM_WIPEONFORK` (refused: `EINVAL`).
    WipeOnFork = 10,
    /// The file's [`DeviceMemory`] (page 0, RAM standing in for a BAR) is mapped.
    DeviceMemory = 11,
    /// Page `n` with [`TestVm`] if `n` is even, [`OtherVm`] if odd: same file, same flags.
    MixedTypes = 12,
    /// Like `PfnFault`, but `fault` zaps the faulting address after choosing the PFN (the entry
    /// must still be there when the fault completes: no endless refault).
    PfnThenZap = 13,
    /// The action maps the file's pages from index `n`, and `mapped` records what it sees: the
    /// reference count of page `n` ([`MAPPED_PAGE_COUNT`]) and what rmap can see of the VMA
    /// ([`MAPPED_RMAP`]).
    Observe = 14,
    /// `Observe`, with [`MmapAction::hide_from_rmap_until_complete`].
    ObserveHidden = 15,
    /// The action maps the file's pages from index `n`; no VMA operations.
    BareMapPages = 16,
    /// The action remaps page `n` (PFN mapping); no VMA operations. The one mode that accepts
    /// private mappings (a copy-on-write one is refused by the crate).
    BareRemapPage = 17,
    /// `mmap_prepare` maps the file's [`DeviceMemory`], then revokes it (under the mmap write
    /// lock): the mapping is refused (`ENODEV`).
    RevokeInPrepare = 18,
    /// `mapped` revokes the file's [`DeviceMemory`] (under the mmap write lock).
    RevokeInMapped = 19,
    /// `fault` revokes the file's [`DeviceMemory`] (under the VMA or mmap read lock), then
    /// answers `SIGBUS`.
    RevokeInFault = 20,
    /// `fault` hands the core the page in the file's spare slot ([`TestFile::spare`]), which
    /// the driver may take out and free at any time; `SIGBUS` if the slot is empty.
    SparePage = 21,
}

pub(crate) const MODE_STRIDE: usize = 0x100;

impl Mode {
    fn of(pgoff: usize) -> Option<Self> {
        Some(match pgoff / MODE_STRIDE {
            0 => Mode::Fault,
            1 => Mode::MappedFails,
            2 => Mode::MapKernelPages,
            3 => Mode::RemapPage,
            4 => Mode::MixedMap,
            5 => Mode::BadRange,
            6 => Mode::PfnFault,
            7 => Mode::SetPageThenFail,
            8 => Mode::SetPageOnPfnmap,
            9 => Mode::PfnIntoIo,
            10 => Mode::WipeOnFork,
            11 => Mode::DeviceMemory,
            12 => Mode::MixedTypes,
            13 => Mode::PfnThenZap,
            14 => Mode::Observe,
            15 => Mode::ObserveHidden,
            16 => Mode::BareMapPages,
            17 => Mode::BareRemapPage,
            18 => Mode::RevokeInPrepare,
            19 => Mode::RevokeInMapped,
            20 => Mode::RevokeInFault,
            21 => Mode::SparePage,
            _ => return None,
        })
    }

    /// The byte offset to pass to `vm_mmap` for this mode, starting at page `n`.
    pub(crate) const fn offset(self, n: usize) -> usize {
        (self as usize * MODE_STRIDE + n) * PAGE_SIZE
    }
}

/// The byte at `offset` of page `index` of every file's pages.
pub(crate) fn pattern(index: usize, offset: usize) -> u8 {
    (index * 61 + offset * 7 + 1) as u8
}

macro_rules! counters {
    ($($name:ident),*) => {
        $(pub(crate) static $name: Atomic<usize> = Atomic::new(0);)*
        /// Zeroes every counter, at the start of a test.
        pub(crate) fn reset_counters() {
            $($name.store(0, Relaxed);)*
        }
    };
}
counters!(
    PREPARE,
    MAPPED,
    OPEN,
    CLOSE,
    CLOSE_NO_DATA,
    FAULT,
    VMA_DATA_LIVE,
    FILES_LIVE,
    MAPPED_PAGE_COUNT,
    MAPPED_RMAP
);

/// [`MAPPED_RMAP`]: `mapped` ran and looked.
pub(crate) const RMAP_SEEN: usize = 1 << 2;
/// [`MAPPED_RMAP`]: the VMA was in its file's `i_mmap` tree.
pub(crate) const RMAP_IN_TREE: usize = 1 << 0;
/// [`MAPPED_RMAP`]: a walker could take the tree's lock (`i_mmap_rwsem`), hence reach the VMA.
pub(crate) const RMAP_WALKABLE: usize = 1 << 1;

pub(crate) fn count(counter: &Atomic<usize>) -> usize {
    counter.load(Relaxed)
}

/// `struct rmp_kunit_stats` of `kunit/userspace/rmp_kunit.h`, all `__u64` fields in order.
type Stats = [u64; 9];
const RMP_KUNIT_IOC_STATS: u32 = _IOR::<Stats>(b'k' as u32, 0x01);
const RMP_KUNIT_IOC_LEAK_CANARY: u32 = _IO(b'k' as u32, 0x02);
/// Makes the file readable and wakes its pollers.
const RMP_KUNIT_IOC_PRODUCE: u32 = _IO(b'k' as u32, 0x03);
/// What the test device's own `compat_ioctl` answers to any command: it is not `ioctl`'s.
pub(crate) const COMPAT_IOCTL_ANSWER: isize = 0x5a;

/// `EPOLLIN`, `EPOLLOUT`, `EPOLLRDNORM`, `EPOLLWRNORM` (`include/uapi/linux/eventpoll.h`).
const EPOLLIN: u32 = 0x001;
const EPOLLOUT: u32 = 0x004;
const EPOLLRDNORM: u32 = 0x040;
const EPOLLWRNORM: u32 = 0x100;

/// What `show_fdinfo` adds to `/proc/<pid>/fdinfo/<fd>`.
const FDINFO_KEY: &str = "rmp_kunit_pages";

/// The bytes of the object `RMP_KUNIT_IOC_LEAK_CANARY` leaks on purpose: the leak scan at the end
/// of a test run must report it (or it could not have reported a real leak either), and nothing
/// else. Its first 16 bytes show in the ASCII column of kmemleak's hex dump.
pub(crate) const LEAK_CANARY: &[u8; 32] = b"RMP-CANARY-LEAK!planted on purpo";

fn stats() -> Stats {
    let locked = crate::util::locked_vm().max(0) as u64;
    let counters = [
        &PREPARE,
        &MAPPED,
        &OPEN,
        &CLOSE,
        &CLOSE_NO_DATA,
        &FAULT,
        &VMA_DATA_LIVE,
        &FILES_LIVE,
    ];
    let mut out = [locked; 9];
    for (slot, counter) in out[1..].iter_mut().zip(counters) {
        *slot = count(counter) as u64;
    }
    out
}

/// The private data of an open file.
pub(crate) struct TestFile {
    pub(crate) pages: KernelPages,
    /// Page 0 of `pages` as "device memory": RAM stands in for a BAR, which the guest has not,
    /// mapped write-back only (the contract of `DeviceMemory::new` wants device memory for other
    /// cache modes); `pages` keeps the page alive longer than any mapping of the file.
    pub(crate) device_memory: Arc<DeviceMemory>,
    /// Readers of the file wait here (`poll`) until `RMP_KUNIT_IOC_PRODUCE` makes it readable.
    readable: Arc<PollCondVar>,
    /// One page that `Mode::SparePage` faults hand out, and that a test takes out and frees.
    pub(crate) spare: Arc<Mutex<KernelPages>>,
    ready: Atomic<bool>,
}

impl TestFile {
    fn new() -> Result<Arc<Self>> {
        let pages = KernelPages::alloc(PAGES, GFP_KERNEL)?;
        let mut bytes = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        for index in 0..PAGES {
            for (offset, byte) in bytes.iter_mut().enumerate() {
                *byte = pattern(index, offset);
            }
            pages.write(index, 0, &bytes)?;
        }
        let page = pages.page(0).ok_or(ENOMEM)?;
        // SAFETY: Test-only stand-in (see `TestFile::device_memory`): one page of `pages`, which
        // outlives every mapping of the file (the file's data holds it and is dropped at
        // release), mapped write-back only by `Mode::DeviceMemory`.
        let device_memory = unsafe {
            DeviceMemory::new(
                crate::util::page_phys(&page),
                PAGE_SIZE,
                CacheMode::WriteBack,
            )?
        };
        let readable = Arc::pin_init(new_poll_condvar!("rmp_kunit readable"), GFP_KERNEL)?;
        let spare = Arc::pin_init(
            new_mutex!(KernelPages::alloc(1, GFP_KERNEL)?, "rmp_kunit spare"),
            GFP_KERNEL,
        )?;
        FILES_LIVE.add(1, Relaxed);
        Ok(Arc::new(
            TestFile {
                pages,
                device_memory,
                readable,
                spare,
                ready: Atomic::new(false),
            },
            GFP_KERNEL,
        )?)
    }
}

impl Drop for TestFile {
    fn drop(&mut self) {
        FILES_LIVE.fetch_sub(1, Relaxed);
    }
}

/// What each VMA owns.
pub(crate) struct VmaState {
    pub(crate) file: Arc<TestFile>,
    pub(crate) start: usize,
}

impl VmaState {
    fn new(file: Arc<TestFile>, start: usize) -> Result<Arc<Self>> {
        // Counted before the value exists: if `Arc::new` fails, dropping the value uncounts it.
        // (Counting after it let a failed allocation take the count below zero: found by the
        // fault-injection sweep, kunit_mmap_fault.)
        VMA_DATA_LIVE.add(1, Relaxed);
        Ok(Arc::new(VmaState { file, start }, GFP_KERNEL)?)
    }
}

impl Drop for VmaState {
    fn drop(&mut self) {
        VMA_DATA_LIVE.fetch_sub(1, Relaxed);
    }
}

pub(crate) struct TestDev;

#[vtable]
impl MmapMiscDevice for TestDev {
    type Ptr = Arc<TestFile>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<TestFile>> {
        TestFile::new()
    }

    fn mmap_prepare<'a>(
        dev: ArcBorrow<'a, TestFile>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<TestFile>>,
    ) -> Result {
        PREPARE.add(1, Relaxed);
        let dev = dev.into_ref();
        let n = desc.pgoff() % MODE_STRIDE;
        let mode = Mode::of(desc.pgoff()).ok_or(EINVAL)?;
        if !desc.is_shared() && mode != Mode::BareRemapPage {
            return Err(EINVAL);
        }
        if mode == Mode::MixedTypes && n % 2 == 1 {
            return desc.set_vm_ops::<OtherVm>();
        }
        // The device memory mapping brings its own VMA operations; the bare modes have none.
        if !matches!(
            mode,
            Mode::DeviceMemory | Mode::BareMapPages | Mode::BareRemapPage | Mode::RevokeInPrepare
        ) {
            desc.set_vm_ops::<TestVm>()?;
        }
        match mode {
            Mode::Fault => Ok(()),
            Mode::MappedFails => desc.set_action(MmapAction::nothing().error_override(EAGAIN)),
            Mode::MapKernelPages => desc.set_action(MmapAction::map_kernel_pages(&dev.pages, n)),
            Mode::RemapPage => desc.set_action(MmapAction::remap_kernel_page(&dev.pages, n)),
            Mode::MixedMap => desc.set_flags(VmaFlag::MIXEDMAP),
            Mode::BadRange => {
                let end = desc.end();
                desc.set_action(MmapAction::map_kernel_pages_at(end, &dev.pages, 0, 1))
            }
            Mode::PfnFault | Mode::SetPageOnPfnmap | Mode::PfnThenZap => {
                desc.set_flags(VmaFlag::PFNMAP | VmaFlag::DONTEXPAND)
            }
            Mode::SetPageThenFail => Ok(()),
            Mode::PfnIntoIo => desc.set_flags(VmaFlag::IO | VmaFlag::PFNMAP | VmaFlag::DONTEXPAND),
            Mode::WipeOnFork => desc.set_flags(VmaFlag::WIPEONFORK),
            Mode::MixedTypes => Ok(()),
            Mode::Observe | Mode::BareMapPages => {
                desc.set_action(MmapAction::map_kernel_pages(&dev.pages, n))
            }
            Mode::ObserveHidden => {
                // SAFETY: `TestVm::mapped` only records the reference count and probes rmap with
                // a trylock (`rmap_probe()`); it takes no `i_mmap_rwsem` and revokes nothing in
                // this mode.
                let action = unsafe {
                    MmapAction::map_kernel_pages(&dev.pages, n).hide_from_rmap_until_complete()
                };
                desc.set_action(action)
            }
            Mode::BareRemapPage => desc.set_action(MmapAction::remap_kernel_page(&dev.pages, n)),
            Mode::DeviceMemory => {
                // The offset selects the mode; the memory is mapped from `n`.
                desc.set_pgoff(n)?;
                desc.map_device_memory(dev.device_memory.as_arc_borrow())
            }
            Mode::RevokeInPrepare => {
                desc.set_pgoff(n)?;
                desc.map_device_memory(dev.device_memory.as_arc_borrow())?;
                dev.device_memory.revoke();
                Ok(())
            }
            Mode::RevokeInMapped | Mode::RevokeInFault | Mode::SparePage => Ok(()),
        }
    }

    fn ioctl(
        dev: ArcBorrow<'_, TestFile>,
        _file: &File,
        cmd: u32,
        arg: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        match cmd {
            RMP_KUNIT_IOC_STATS => UserSlice::new(UserPtr::from_addr(arg), size_of::<Stats>())
                .writer()
                .write(&stats())?,
            // Leaked on purpose, for the leak scan to find (see `LEAK_CANARY`).
            RMP_KUNIT_IOC_LEAK_CANARY => {
                KBox::leak(KBox::new(*LEAK_CANARY, GFP_KERNEL)?);
            }
            RMP_KUNIT_IOC_PRODUCE => {
                dev.ready.store(true, Relaxed);
                dev.readable.notify_all();
            }
            _ => return Err(ENOTTY),
        };
        Ok(0)
    }

    /// A command of a 32-bit task: answered apart, so that a test can tell the two glues apart.
    #[cfg(CONFIG_COMPAT)]
    fn compat_ioctl(
        _dev: ArcBorrow<'_, TestFile>,
        _file: &File,
        _cmd: u32,
        _arg: usize,
        _user: &mut UserContext,
    ) -> Result<isize> {
        Ok(COMPAT_IOCTL_ANSWER)
    }

    /// Reads page 0 of the file, from the file position.
    fn read_iter(
        mut kiocb: Kiocb<'_, Arc<TestFile>>,
        iov: &mut IovIterDest<'_>,
        _user: &mut UserContext,
    ) -> Result<usize> {
        let mut page = KVec::from_elem(0u8, PAGE_SIZE, GFP_KERNEL)?;
        kiocb.file().pages.read(0, 0, &mut page)?;
        iov.simple_read_from_buffer(kiocb.ki_pos_mut(), &page)
    }

    /// Writes into page 1 of the file, from the file position.
    fn write_iter(
        mut kiocb: Kiocb<'_, Arc<TestFile>>,
        iov: &mut IovIterSource<'_>,
        _user: &mut UserContext,
    ) -> Result<usize> {
        let pos = usize::try_from(kiocb.ki_pos()).map_err(|_| EINVAL)?;
        let room = PAGE_SIZE.checked_sub(pos).ok_or(ENOSPC)?;
        let mut buf = KVec::from_elem(0u8, room.min(iov.len()), GFP_KERNEL)?;
        let len = iov.copy_from_iter(&mut buf);
        kiocb.file().pages.write(1, pos, &buf[..len])?;
        *kiocb.ki_pos_mut() += len as i64;
        Ok(len)
    }

    /// Always writable; readable once produced.
    fn poll(dev: ArcBorrow<'_, TestFile>, file: &File, table: PollTable<'_>) -> u32 {
        table.register_wait(file, &dev.readable);
        let readable = if dev.ready.load(Relaxed) {
            EPOLLIN | EPOLLRDNORM
        } else {
            0
        };
        readable | EPOLLOUT | EPOLLWRNORM
    }

    fn show_fdinfo(_dev: ArcBorrow<'_, TestFile>, m: &SeqFile, _file: &File) {
        seq_print!(m, "{}:\t{}\n", FDINFO_KEY, PAGES);
    }
}

pub(crate) struct TestVm;

#[vtable]
impl VmOperations for TestVm {
    type FileData = Arc<TestFile>;
    type Data = Arc<VmaState>;

    mmap_prepare::vm_ops_table!(TestVm);

    fn mapped(area: &MappedArea<'_>, file: ArcBorrow<'_, TestFile>) -> Result<Arc<VmaState>> {
        MAPPED.add(1, Relaxed);
        let mode = Mode::of(area.pgoff);
        if mode == Some(Mode::MappedFails) {
            return Err(ENOMEM);
        }
        if matches!(mode, Some(Mode::Observe | Mode::ObserveHidden)) {
            let n = area.pgoff % MODE_STRIDE;
            let count = file.pages.page(n).map_or(0, |page| page_count(&page));
            MAPPED_PAGE_COUNT.store(count as usize, Relaxed);
            let rmap = rmap_probe(area.file.as_ptr(), area.start, area.pgoff)?;
            MAPPED_RMAP.store(RMAP_SEEN | rmap, Relaxed);
        }
        if mode == Some(Mode::RevokeInMapped) {
            file.device_memory.revoke();
        }
        VmaState::new(file.into(), area.start)
    }

    fn open(_area: &OpeningArea, _data: ArcBorrow<'_, VmaState>) {
        OPEN.add(1, Relaxed);
    }

    fn close(_area: &ClosingArea, data: Option<ArcBorrow<'_, VmaState>>) {
        CLOSE.add(1, Relaxed);
        if data.is_none() {
            CLOSE_NO_DATA.add(1, Relaxed);
        }
    }

    /// Refuses to make a mapping executable; anything else may change.
    fn mprotect(_vma: &OwnVmArea<Self>, _start: usize, _end: usize, new_flags: VmaFlags) -> Result {
        if new_flags.contains(VmaFlag::EXEC) {
            return Err(EACCES);
        }
        Ok(())
    }

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        FAULT.add(1, Relaxed);
        let index = vmf.pgoff() % PAGES;
        let mode = Mode::of(vmf.pgoff());
        if mode == Some(Mode::SparePage) {
            let state = vmf.data().ok_or(FaultError::SIGBUS)?;
            let spare = state.file.spare.lock();
            let page = spare.page(0).ok_or(FaultError::SIGBUS)?;
            return vmf.set_page(&page);
        }
        if mode == Some(Mode::RevokeInFault) {
            let state = vmf.data().ok_or(FaultError::SIGBUS)?;
            state.file.device_memory.revoke();
            return Err(FaultError::SIGBUS);
        }
        if matches!(mode, Some(Mode::PfnFault | Mode::PfnIntoIo)) {
            return vmf.insert_pfn_from(|state| Some((&state.file.pages, index)));
        }
        if mode == Some(Mode::PfnThenZap) {
            let answer = vmf.insert_pfn_from(|state| Some((&state.file.pages, index)))?;
            vmf.vma()
                .zap_range(vmf.address(), PAGE_SIZE)
                .map_err(|_| FaultError::SIGBUS)?;
            return Ok(answer);
        }
        if !matches!(
            mode,
            Some(Mode::Fault | Mode::MixedTypes | Mode::SetPageThenFail | Mode::SetPageOnPfnmap)
        ) {
            return Err(FaultError::SIGBUS);
        }
        let state = vmf.data().ok_or(FaultError::SIGBUS)?.into_ref();
        let page = state.file.pages.page(index).ok_or(FaultError::SIGBUS)?;
        let installed = vmf.set_page(&page)?;
        if mode == Some(Mode::SetPageThenFail) {
            // Changing its mind after `set_page`: the page must not leak.
            drop(installed);
            return Err(FaultError::SIGBUS);
        }
        Ok(installed)
    }
}

/// What a [`OtherVm`] VMA owns: another type than [`VmaState`].
pub(crate) struct OtherState {
    pub(crate) magic: u64,
}

/// A second set of VMA operations on the same file, for VMAs that may merge with [`TestVm`]'s.
pub(crate) struct OtherVm;

#[vtable]
impl VmOperations for OtherVm {
    type FileData = Arc<TestFile>;
    type Data = Arc<OtherState>;

    mmap_prepare::vm_ops_table!(OtherVm);

    fn mapped(_area: &MappedArea<'_>, _file: ArcBorrow<'_, TestFile>) -> Result<Arc<OtherState>> {
        Ok(Arc::new(OtherState { magic: 0x0123_4567 }, GFP_KERNEL)?)
    }

    /// Refuses the move if it is handed data for a VMA that is not an `OtherVm` one: that data
    /// would be another type's (the core moved the pages into a merged `TestVm` neighbour).
    fn mremap(vma: &VmAreaRef, data: Option<ArcBorrow<'_, OtherState>>) -> Result {
        if data.is_some() && !vma.is_owned_by::<OtherVm>() {
            return Err(EINVAL);
        }
        if let Some(state) = data {
            if state.magic != 0x0123_4567 {
                return Err(EINVAL);
            }
        }
        Ok(())
    }
}
