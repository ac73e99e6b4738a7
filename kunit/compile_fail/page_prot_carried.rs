// SPDX-License-Identifier: GPL-2.0

//! Must not compile: protection bits taken from one request and applied to another (a writable request
//! cached, then given to an `O_RDONLY` + `PROT_READ` one); no protection value is reachable.
// expect: E0599
// expect: no method named `page_prot` found
// expect: no method named `set_page_prot` found

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
        // The protection of this request, to be applied to the next one.
        let prot = desc.page_prot();
        desc.set_page_prot(prot)
    }
}
