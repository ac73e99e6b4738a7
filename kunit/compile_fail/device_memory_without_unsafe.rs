// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `DeviceMemory::new` (any physical range) without `unsafe`: the crate cannot
//! tell device memory from RAM someone else owns. Safe code gets device memory from
//! `DeviceMemory::pci_bar`.
// expect: E0133
// expect: call to unsafe function `DeviceMemory::new` is unsafe and requires unsafe block

/// A frame buffer at a fixed physical address, from the platform's description.
const FB_PHYS: u64 = 0xfd00_0000;
const FB_LEN: usize = 0x10_0000;

/// A device that maps the frame buffer.
struct Fb;

#[vtable]
impl MmapMiscDevice for Fb {
    type Ptr = Arc<DeviceMemory>;
    type RegistrationData = ();

    fn open(_file: &File, _misc: &MmapMiscDeviceRegistration<Self>) -> Result<Arc<DeviceMemory>> {
        DeviceMemory::new(FB_PHYS, FB_LEN, CacheMode::WriteCombine)
    }

    fn mmap_prepare<'a>(
        memory: ArcBorrow<'a, DeviceMemory>,
        _file: &'a File,
        desc: &mut VmAreaDesc<'a, Arc<DeviceMemory>>,
    ) -> Result {
        desc.map_device_memory(memory)
    }
}
