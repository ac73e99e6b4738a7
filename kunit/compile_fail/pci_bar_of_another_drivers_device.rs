// SPDX-License-Identifier: GPL-2.0

//! Must not compile: `pci_bar_range` on a PCI device reached as `Bound`, e.g. the parent of an
//! auxiliary device: only the driver bound to it (`Core`, in its probe) may tie a range to it.
// expect: E0308
// expect: expected `&Device<Core<'_>>`, found `&Device<Bound>`

use kernel::{auxiliary, device::Bound, pci};

/// What an auxiliary driver's probe could do with its device: reach the parent PCI device.
fn map_parents_bar(adev: &auxiliary::Device<Bound>) -> Result<Arc<DeviceMemory>> {
    let parent: &pci::Device<Bound> = adev.parent().try_into()?;
    DeviceMemory::pci_bar_range(parent, 2, 0, 4096, CacheMode::Uncached, c"stolen")
}
