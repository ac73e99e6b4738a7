// SPDX-License-Identifier: GPL-2.0

//! A `memfd_secret(2)`-like device on `mmap_prepare`, in safe Rust.
//!
//! Each open of `/dev/rust_secretmem` is an independent secret area of up to [`MAX_PAGES`]
//! pages. Its pages are allocated and zeroed on first touch, charged to the opener's locked
//! memory against `RLIMIT_MEMLOCK` (as 7.3's secretmem charges at fault time), shared by every
//! mapping of the file at the same offset, and zeroed before they are freed. `mmap_prepare`
//! allocates nothing: it requires a shared mapping, marks it `VM_DONTDUMP` and installs the fault
//! handler, so mappings of one file at adjacent addresses and offsets merge into one VMA.
//!
//! `/dev/rust_secretmem_strict` maps the same kind of area with PFN ("special") entries in a
//! `VM_PFNMAP` VMA, which `get_user_pages()` refuses, so `process_vm_readv()`, `/proc/PID/mem`,
//! `ptrace(PTRACE_PEEKDATA)` and `vmsplice()` cannot reach the pages. `VM_PFNMAP` makes a VMA
//! unmergeable. Neither device can take its pages out of the kernel's direct map, as
//! `memfd_secret` does: `set_direct_map_invalid_noflush()` is not exported to modules.

use kernel::{
    fs::File,
    miscdevice::MiscDeviceOptions,
    new_mutex,
    page::PAGE_SIZE,
    prelude::*,
    sync::{Arc, ArcBorrow, Mutex, SetOnce},
};
use mmap_prepare::{
    FaultError, FaultResult, IntoRef, KernelPages, LockedMemAccount, MappablePage, MappedArea,
    MmapMiscDevice, MmapMiscDeviceRegistration, PageCopy, VmAreaDesc, VmFault, VmOperations,
    VmaFlag,
};

module! {
    type: SecretMemModule,
    name: "rust_secretmem",
    authors: ["rust-mmap-prepare developers"],
    description: "memfd_secret-like areas on mmap_prepare, in safe Rust",
    license: "GPL",
}

/// The largest offset, in pages, an area can be mapped at: 16 MiB of 4 KiB pages.
const MAX_PAGES: usize = 4096;

#[pin_data]
struct SecretMemModule {
    #[pin]
    _merging: MmapMiscDeviceRegistration<SecretMem>,
    #[pin]
    _strict: MmapMiscDeviceRegistration<StrictSecretMem>,
}

impl kernel::InPlaceModule for SecretMemModule {
    fn init(_module: &'static ThisModule) -> impl PinInit<Self, Error> {
        try_pin_init!(Self {
            _merging <- MmapMiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rust_secretmem",
            }),
            _strict <- MmapMiscDeviceRegistration::register(MiscDeviceOptions {
                name: c"rust_secretmem_strict",
            }),
        })
    }
}

/// The secret area of one open file.
#[pin_data(PinnedDrop)]
struct SecretArea {
    /// The page slots, made on the first fault (an area that is never touched costs no more
    /// than `memfd_secret()`); a filled slot stays filled until the area is dropped.
    pages: SetOnce<KernelPages>,
    /// The opener's locked-memory charge, one page per filled slot.
    account: LockedMemAccount,
    /// Serialises making the slots and filling a slot with charging for it.
    #[pin]
    fill: Mutex<()>,
}

impl SecretArea {
    fn new() -> Result<Arc<Self>> {
        Arc::pin_init(
            try_pin_init!(SecretArea {
                pages: SetOnce::new(),
                account: LockedMemAccount::current_user(),
                fill <- new_mutex!(()),
            }),
            GFP_KERNEL,
        )
    }

    /// The page at `index`, if it was touched before.
    fn existing(&self, index: usize) -> Option<MappablePage<'_>> {
        self.pages.as_ref()?.page(index)
    }

    /// The page at `index`, allocated, zeroed and charged on first touch. Past the locked-memory
    /// limit the fault gets `SIGBUS`, as with `memfd_secret`.
    fn page(&self, index: usize) -> Result<MappablePage<'_>, FaultError> {
        if let Some(page) = self.existing(index) {
            return Ok(page);
        }
        if index >= MAX_PAGES {
            return Err(FaultError::SIGBUS);
        }
        let _guard = self.fill.lock();
        if self.pages.as_ref().is_none() {
            // Only one filler at a time: this cannot lose a race.
            self.pages.populate(KernelPages::new_empty(MAX_PAGES)?);
        }
        let pages = self.pages.as_ref().ok_or(FaultError::OOM)?;
        if let Some(page) = pages.page(index) {
            return Ok(page);
        }
        if !self.account.try_charge(1) {
            return Err(FaultError::SIGBUS);
        }
        pages
            .get_or_alloc(index, GFP_KERNEL | __GFP_ZERO)
            .map_err(|err| {
                self.account.uncharge(1);
                FaultError::from(err)
            })
    }
}

#[pinned_drop]
impl PinnedDrop for SecretArea {
    fn drop(self: Pin<&mut Self>) {
        if let Some(pages) = self.pages.as_ref() {
            // Secrets do not outlive the area: zero every page before the slots free it. A page
            // still pinned elsewhere (e.g. by vmsplice) is then freed by its last user, zeroed.
            for (_, page) in pages.iter_filled() {
                let _ = page.zero_bytes(0, PAGE_SIZE);
            }
        }
        // `pages` frees its pages next, then `account` returns the whole charge.
    }
}

/// Checks shared in both devices' `mmap_prepare`. `memfd_secret` refuses private mappings, and
/// executable ones (its files live on a `noexec` mount: `PROT_EXEC` fails with `EPERM` and
/// `mprotect()` cannot add it).
fn prepare_common(desc: &mut VmAreaDesc<'_, Arc<SecretArea>>) -> Result {
    if !desc.is_shared() {
        return Err(EINVAL);
    }
    if desc.flags().contains(VmaFlag::EXEC) {
        return Err(EPERM);
    }
    desc.clear_flags(VmaFlag::MAYEXEC)?;
    desc.set_flags(VmaFlag::DONTDUMP)
}

/// `/dev/rust_secretmem`: pages handed to the fault path, VMAs merge.
struct SecretMem;

#[vtable]
impl MmapMiscDevice for SecretMem {
    type Ptr = Arc<SecretArea>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<SecretArea>> {
        SecretArea::new()
    }

    fn mmap_prepare<'a>(
        _area: ArcBorrow<'a, SecretArea>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<SecretArea>>,
    ) -> Result {
        prepare_common(desc)?;
        desc.set_vm_ops::<SecretVm>()
    }
}

struct SecretVm;

#[vtable]
impl VmOperations for SecretVm {
    type FileData = Arc<SecretArea>;
    // No per-VMA data, hence no `close`: a VMA with `close` could not be merged away.
    type Data = ();

    mmap_prepare::vm_ops_table!(SecretVm);

    fn mapped(_area: &MappedArea<'_>, _file: ArcBorrow<'_, SecretArea>) -> Result {
        Ok(())
    }

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let page = vmf.file_data().into_ref().page(vmf.pgoff())?;
        vmf.set_page(&page)
    }
}

/// `/dev/rust_secretmem_strict`: PFN entries in a `VM_PFNMAP` VMA; GUP cannot reach the pages.
struct StrictSecretMem;

#[vtable]
impl MmapMiscDevice for StrictSecretMem {
    type Ptr = Arc<SecretArea>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<SecretArea>> {
        SecretArea::new()
    }

    fn mmap_prepare<'a>(
        _area: ArcBorrow<'a, SecretArea>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<SecretArea>>,
    ) -> Result {
        prepare_common(desc)?;
        // `VM_PFNMAP` alone: `mremap()` refuses to grow it anyway, and the fault handler fills
        // any page, so `DONTEXPAND` adds nothing.
        desc.set_flags(VmaFlag::PFNMAP)?;
        desc.set_vm_ops::<StrictSecretVm>()
    }
}

struct StrictSecretVm;

#[vtable]
impl VmOperations for StrictSecretVm {
    type FileData = Arc<SecretArea>;
    // Each VMA holds the area: PFN entries carry no page reference, so the pages must live as
    // long as any VMA (and any copy of it made by fork or mremap) that can map them.
    type Data = Arc<SecretArea>;

    mmap_prepare::vm_ops_table!(StrictSecretVm);

    fn mapped(_area: &MappedArea<'_>, area: ArcBorrow<'_, SecretArea>) -> Result<Arc<SecretArea>> {
        Ok(area.into())
    }

    fn fault<'f>(vmf: &'f VmFault<Self>) -> FaultResult<'f> {
        let index = vmf.pgoff();
        vmf.file_data().into_ref().page(index)?;
        vmf.insert_pfn_from(|area| Some((area.pages.as_ref()?, index)))
    }
}
