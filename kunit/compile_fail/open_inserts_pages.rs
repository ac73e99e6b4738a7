// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `open` inserting pages into the new copy of a VMA, whose page tables the core
//! fills only after `open` (fork, `mremap()`): the entries would be overwritten, leaking their page
//! references. `open` gets an `OpeningArea` of plain values, with nothing that reaches the VMA.
// expect: E0599
// expect: no method named `check_mixedmap` found for reference `&OpeningArea`

struct DevVm;

#[vtable]
impl VmOperations for DevVm {
    type FileData = Arc<Dev>;
    type Data = Arc<Dev>;

    mmap_prepare::vm_ops_table!(DevVm);

    fn mapped(_area: &MappedArea<'_>, dev: ArcBorrow<'_, Dev>) -> Result<Arc<Dev>> {
        Ok(dev.into())
    }

    fn open(area: &OpeningArea, dev: ArcBorrow<'_, Dev>) {
        // Map both pages into the copy at once, so that it never faults.
        if let Some(mixed) = area.check_mixedmap() {
            let _ = mixed.insert_pages(area.start, &dev.pages, 0, 2);
        }
    }
}
