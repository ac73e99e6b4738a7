// SPDX-License-Identifier: GPL-2.0

//! Must not compile: bytes copied into a page of memory Rust code uses as typed values (a
//! vmalloc allocation's, from `page_iter()`): a `bool` that holds 2 is undefined behaviour.
//! `PageCopy` and `PinnedUserBuffer::copy_to_page` take only the crate's own pages.
// expect: no method named `write_bytes` found
// expect: E0308
// expect: expected `&MappablePage<'_>`, found `&BorrowedPage<'_>`

use kernel::{alloc::VVec, page::AsPageIter, prelude::*, uaccess::UserPtr};
use mmap_prepare::{PageCopy, PinnedUserBuffer};

module! {
    type: Snippet,
    name: "rust_memory_written",
    authors: ["rust-mmap-prepare developers"],
    description: "compile-fail snippet: must not compile",
    license: "GPL",
}

struct Snippet;

impl kernel::Module for Snippet {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let mut flags = VVec::<bool>::with_capacity(4096, GFP_KERNEL)?;
        for _ in 0..4096 {
            flags.push(false, GFP_KERNEL)?;
        }
        let page = flags.page_iter().next().ok_or(EINVAL)?;
        page.write_bytes(0, &[2])?;
        let message = PinnedUserBuffer::pin(UserPtr::from_addr(0), 0)?;
        message.copy_to_page(0, &page, 0, 0)?;
        Ok(Snippet)
    }
}
