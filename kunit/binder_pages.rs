// SPDX-License-Identifier: GPL-2.0

//! `samples/rust_binder_pages` seen from the kernel: mappings and ioctls of
//! `/dev/rust_binder_pages` from a KUnit thread, which plays both receiver and sender.

use kernel::prelude::*;

#[kunit_tests(rust_binder_pages_kunit)]
mod tests {
    use crate::util::*;
    use kernel::{bindings, ioctl::_IOR, ioctl::_IOW, page::PAGE_SIZE, prelude::*};

    const DEVICE: &CStr = c"/dev/rust_binder_pages";
    // samples/uapi/rust_binder_pages.h
    const RBP_IOC_SEND: u32 = _IOW::<[u64; 3]>(b'r' as u32, 0x01);
    const RBP_IOC_FREE: u32 = _IOW::<[u64; 2]>(b'r' as u32, 0x02);
    const RBP_IOC_STATS: u32 = _IOR::<[u64; 3]>(b'r' as u32, 0x03);

    /// Scratch user memory for ioctl arguments and messages.
    struct Scratch(usize);

    impl Scratch {
        fn new() -> Result<Self> {
            Ok(Scratch(mmap_raw(
                core::ptr::null_mut(),
                0,
                2,
                RW,
                MAP_PRIVATE | MAP_ANONYMOUS,
                0,
            )?))
        }

        /// Writes `words` as an ioctl argument at the start of the scratch area.
        fn arg(&self, words: &[u64]) -> Result<usize> {
            let mut bytes = KVec::new();
            for w in words {
                bytes.extend_from_slice(&w.to_ne_bytes(), GFP_KERNEL)?;
            }
            write_user(self.0, &bytes)?;
            Ok(self.0)
        }

        /// Writes `msg` in the second page and returns its address.
        fn message(&self, msg: &[u8]) -> Result<usize> {
            write_user(self.0 + PAGE_SIZE, msg)?;
            Ok(self.0 + PAGE_SIZE)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            munmap(self.0, 2);
        }
    }

    fn ioctl(file: &DevFile, cmd: u32, arg: usize) -> Result {
        // SAFETY: `file` is an open file of the device, whose `unlocked_ioctl` is set.
        let ret = unsafe {
            let f = file.as_ptr();
            match (*(*f).f_op).unlocked_ioctl {
                Some(ioctl) => ioctl(f, cmd, arg),
                None => -(bindings::ENOTTY as c_long),
            }
        };
        kernel::error::to_result(ret as c_int)
    }

    fn send(file: &DevFile, s: &Scratch, offset: usize, msg: &[u8]) -> Result {
        let data = s.message(msg)?;
        ioctl(
            file,
            RBP_IOC_SEND,
            s.arg(&[offset as u64, msg.len() as u64, data as u64])?,
        )
    }

    fn stats(file: &DevFile, s: &Scratch) -> Result<KVec<u8>> {
        ioctl(file, RBP_IOC_STATS, s.0)?;
        read_user(s.0, 24)
    }

    fn pages_mapped(file: &DevFile, s: &Scratch) -> Result<u64> {
        let bytes = stats(file, s)?;
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[8..16]);
        Ok(u64::from_ne_bytes(word))
    }

    #[test]
    fn registration_happens_in_mapped() -> Result {
        let s = Scratch::new()?;
        let file = DevFile::open(DEVICE)?;
        // Refused in mmap_prepare: nothing may have been registered.
        assert_eq!(file.mmap(0, 4, RW, MAP_SHARED, 0), Err(EPERM));
        assert_eq!(send(&file, &s, 0, b"x"), Err(ESRCH));
        let a = file.mmap(0, 4, PROT_READ, MAP_SHARED, 0)?;
        assert_eq!(send(&file, &s, 0, b"x"), Ok(()));
        assert_eq!(file.mmap(0, 4, PROT_READ, MAP_SHARED, 0), Err(EBUSY));
        munmap(a, 4);
        // `close` unregistered the VMA.
        assert_eq!(send(&file, &s, 0, b"x"), Err(ESRCH));
        Ok(())
    }

    #[test]
    fn foreign_vma_is_refused() -> Result {
        let s = Scratch::new()?;
        let file = DevFile::open(DEVICE)?;
        let a = file.mmap(0, 4, PROT_READ, MAP_SHARED, 0)?;
        munmap(a, 4);
        let anon = mmap_raw(
            core::ptr::null_mut(),
            a,
            4,
            RW,
            MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
            0,
        )?;
        assert_eq!(anon, a);
        write_user(anon, &[0x5a; 64])?;
        assert_eq!(send(&file, &s, 0, b"intruder"), Err(ESRCH));
        assert!(read_user(anon, 64)?.iter().all(|b| *b == 0x5a));
        munmap(anon, 4);
        Ok(())
    }

    #[test]
    fn send_inserts_and_free_zaps() -> Result {
        let s = Scratch::new()?;
        let file = DevFile::open(DEVICE)?;
        let a = file.mmap(0, 4, PROT_READ, MAP_SHARED, 0)?;
        send(&file, &s, PAGE_SIZE + 904, b"hello, receiver")?;
        // The page was inserted: the receiver reads it with no fault handler behind it.
        assert_eq!(&read_user(a + PAGE_SIZE + 904, 15)?[..], b"hello, receiver");
        assert_eq!(pages_mapped(&file, &s)?, 1);
        let arg = s.arg(&[PAGE_SIZE as u64, PAGE_SIZE as u64])?;
        ioctl(&file, RBP_IOC_FREE, arg)?;
        assert_eq!(pages_mapped(&file, &s)?, 0);
        // Zapped: the VMA has no fault handler, so the access fails.
        assert!(read_user(a + PAGE_SIZE + 904, 1).is_err());
        munmap(a, 4);
        Ok(())
    }
}
