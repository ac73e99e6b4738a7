// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `set_vm_ops::<V>` where `V::FileData` (KBox) is not the file's `Ptr` (Arc).
// expect: E0271
// expect: type mismatch resolving `<BoxVm as VmOperations>::FileData == Arc<Dev>`

/// Operations for files whose data is a `KBox<Dev>`: `mapped` would read an `Arc` as a box.
struct BoxVm;

static BOX_VM_OPS: VmOpsTable<BoxVm> = VmOpsTable::new();

#[vtable]
impl VmOperations for BoxVm {
    type FileData = KBox<Dev>;
    type Data = ();

    fn table() -> &'static VmOpsTable<Self> {
        &BOX_VM_OPS
    }

    fn mapped(_area: &MappedArea<'_>, _dev: &Dev) -> Result {
        Ok(())
    }
}

#[vtable]
impl MmapMiscDevice for Dev {
    type Ptr = Arc<Dev>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<Dev>> {
        Dev::new()
    }

    fn mmap_prepare<'a>(
        _dev: ArcBorrow<'a, Dev>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<Dev>>,
    ) -> Result {
        desc.set_vm_ops::<BoxVm>()
    }
}
