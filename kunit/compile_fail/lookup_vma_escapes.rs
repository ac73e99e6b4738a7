// SPDX-License-Identifier: GPL-2.0

//! Must not compile: a VMA found by the non-sleeping own-VMA lookup is kept past the lookup,
//! i.e. past the VMA or mmap read lock that keeps it from being changed or freed.
// expect: lifetime may not live long enough

struct DevVm;

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = Arc<Dev>;

    mmap_prepare::vm_ops_table!(DevVm);

    fn mapped(_area: &MappedArea<'_>, dev: ArcBorrow<'_, Dev>) -> Result<Arc<Dev>> {
        Ok(dev.into())
    }
}

/// Drops the driver's page at `address` of the VMA there, e.g. from a shrinker.
pub fn drop_page(mm: &kernel::mm::MmWithUser, address: usize) -> Result {
    let vma = OwnVmArea::<DevVm>::try_lookup(mm, address, |vma| vma)
        .flatten()
        .ok_or(EAGAIN)?;
    vma.zap_range(address, kernel::page::PAGE_SIZE)
}
