// SPDX-License-Identifier: GPL-2.0

//! `samples/rust_secretmem` seen from the kernel: real mappings of `/dev/rust_secretmem`.

use kernel::prelude::*;

#[kunit_tests(rust_secretmem_kunit)]
mod tests {
    use crate::util::*;
    use kernel::{page::PAGE_SIZE, prelude::*};

    const DEVICE: &CStr = c"/dev/rust_secretmem";

    #[test]
    fn private_mapping_refused() -> Result {
        let file = DevFile::open(DEVICE)?;
        assert_eq!(file.mmap(0, 1, RW, MAP_PRIVATE, 0), Err(EINVAL));
        Ok(())
    }

    #[test]
    fn adjacent_mappings_merge() -> Result {
        let file = DevFile::open(DEVICE)?;
        let a = file.mmap(0, 2, RW, MAP_SHARED, 0)?;
        let b = file.mmap(
            a + 2 * PAGE_SIZE,
            3,
            RW,
            MAP_SHARED | MAP_FIXED_NOREPLACE,
            2 * PAGE_SIZE,
        )?;
        assert_eq!(b, a + 2 * PAGE_SIZE);
        let range = with_vma(a, |vma| vma.map(|v| (v.start(), v.end())));
        assert_eq!(range, Some((a, a + 5 * PAGE_SIZE)));
        munmap(a, 5);
        Ok(())
    }

    #[test]
    fn pages_start_zeroed_and_are_shared_by_offset() -> Result {
        let file = DevFile::open(DEVICE)?;
        let a = file.mmap(0, 2, RW, MAP_SHARED, 0)?;
        assert!(read_user(a, 2 * PAGE_SIZE)?.iter().all(|b| *b == 0));
        write_user(a + PAGE_SIZE + 100, b"secret")?;
        // A second mapping of the same file at the same offset sees the same page.
        let b = file.mmap(0, 1, PROT_READ, MAP_SHARED, PAGE_SIZE)?;
        assert_eq!(&read_user(b + 100, 6)?[..], b"secret");
        munmap(b, 1);
        munmap(a, 2);
        // Another open is another area: its pages are zero.
        let other = DevFile::open(DEVICE)?;
        let c = other.mmap(0, 2, PROT_READ, MAP_SHARED, 0)?;
        assert!(read_user(c + PAGE_SIZE + 100, 6)?.iter().all(|b| *b == 0));
        munmap(c, 2);
        Ok(())
    }

    #[test]
    fn memlock_charge_rises_and_falls() -> Result {
        let before = locked_vm();
        let file = DevFile::open(DEVICE)?;
        let a = file.mmap(0, 4, RW, MAP_SHARED, 0)?;
        // Mapping charges nothing; touching does, one page each, once.
        assert_eq!(locked_vm(), before);
        read_user(a, PAGE_SIZE)?;
        read_user(a + 2 * PAGE_SIZE, 1)?;
        read_user(a, 1)?;
        assert_eq!(locked_vm(), before + 2);
        munmap(a, 4);
        // The pages stay with the area until the file goes.
        assert_eq!(locked_vm(), before + 2);
        drop(file);
        assert_eq!(locked_vm(), before);
        Ok(())
    }
}
