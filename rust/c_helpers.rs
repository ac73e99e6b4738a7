// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C wrappers in `helpers.c` (macros and static inlines bindgen cannot
//! bind).

use kernel::{
    bindings,
    ffi::{c_char, c_int, c_void},
};

// bindgen renders some members of `struct page` as empty structs, which the lint flags; these
// functions only take the pointer and never look inside.
#[allow(improper_ctypes)]
extern "C" {
    pub(crate) fn rmp_pgprot_noncached(prot: bindings::pgprot_t) -> bindings::pgprot_t;
    pub(crate) fn rmp_pgprot_writecombine(prot: bindings::pgprot_t) -> bindings::pgprot_t;
    pub(crate) fn rmp_pgprot_device(prot: bindings::pgprot_t) -> bindings::pgprot_t;
    pub(crate) fn rmp_get_page(page: *mut bindings::page);
    pub(crate) fn rmp_put_page(page: *mut bindings::page);
    pub(crate) fn rmp_page_wait_unlocked(page: *mut bindings::page);
    pub(crate) fn rmp_page_to_pfn(page: *mut bindings::page) -> usize;
    pub(crate) fn rmp_get_current_user() -> *mut bindings::user_struct;
    pub(crate) fn rmp_charge_locked_vm(user: *mut bindings::user_struct, pages: usize) -> bool;
    pub(crate) fn rmp_uncharge_locked_vm(user: *mut bindings::user_struct, pages: usize);
    pub(crate) fn rmp_page_write(
        page: *mut bindings::page,
        offset: usize,
        src: *const u8,
        len: usize,
    );
    pub(crate) fn rmp_page_read(page: *mut bindings::page, offset: usize, dst: *mut u8, len: usize);
    pub(crate) fn rmp_page_zero(page: *mut bindings::page, offset: usize, len: usize);
    pub(crate) fn rmp_page_copy_page(
        dst: *mut bindings::page,
        dst_offset: usize,
        src: *mut bindings::page,
        src_offset: usize,
        len: usize,
    );
    pub(crate) fn rmp_pin_user_pages(
        start: usize,
        nr: c_int,
        pages: *mut *mut bindings::page,
    ) -> c_int;
    pub(crate) fn rmp_unpin_user_pages(pages: *mut *mut bindings::page, nr: usize);
    pub(crate) fn rmp_page_copy_from_user(
        page: *mut bindings::page,
        offset: usize,
        src: *const c_void,
        len: usize,
    ) -> usize;
    pub(crate) fn rmp_user_range_ok(src: *const c_void, len: usize) -> bool;
    pub(crate) fn rmp_new_vma_is_linked(
        start: usize,
        vm_ops: *const bindings::vm_operations_struct,
        vm_private_data: *mut c_void,
    ) -> bool;
    pub(crate) fn rmp_request_mem_region(
        start: bindings::resource_size_t,
        n: bindings::resource_size_t,
        name: *const c_char,
    ) -> bool;
    pub(crate) fn rmp_release_mem_region(
        start: bindings::resource_size_t,
        n: bindings::resource_size_t,
    );
    pub(crate) fn rmp_io_reserve_memtype_wc(
        start: bindings::resource_size_t,
        size: bindings::resource_size_t,
    ) -> c_int;
    pub(crate) fn rmp_trace_refusal_enabled() -> bool;
    pub(crate) fn rmp_trace_refusal(module: *const u8, reason: *const u8);
    pub(crate) fn rmp_io_free_memtype_wc(
        start: bindings::resource_size_t,
        size: bindings::resource_size_t,
    );
}
