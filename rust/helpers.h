/* SPDX-License-Identifier: GPL-2.0 */
/* C wrappers used by the mmap_prepare crate; declared in Rust in c_helpers.rs. */
#ifndef RMP_HELPERS_H
#define RMP_HELPERS_H

#include <linux/mm.h>
#include <linux/pgtable.h>
#include <linux/sched/user.h>

pgprot_t rmp_pgprot_noncached(pgprot_t prot);
pgprot_t rmp_pgprot_writecombine(pgprot_t prot);
pgprot_t rmp_pgprot_device(pgprot_t prot);
void rmp_get_page(struct page *page);
void rmp_put_page(struct page *page);
void rmp_page_wait_unlocked(struct page *page);
unsigned long rmp_page_to_pfn(struct page *page);
struct user_struct *rmp_get_current_user(void);
bool rmp_charge_locked_vm(struct user_struct *user, unsigned long pages);
void rmp_uncharge_locked_vm(struct user_struct *user, unsigned long pages);
void rmp_page_write(struct page *page, size_t offset, const void *src,
		    size_t len);
void rmp_page_read(struct page *page, size_t offset, void *dst, size_t len);
void rmp_page_zero(struct page *page, size_t offset, size_t len);
void rmp_page_copy_page(struct page *dst, size_t dst_offset,
			struct page *src, size_t src_offset, size_t len);
bool rmp_user_range_ok(const void __user *src, size_t len);
unsigned long rmp_page_copy_from_user(struct page *page, size_t offset,
				      const void __user *src, size_t len);
int rmp_pin_user_pages(unsigned long start, int nr, struct page **pages);
void rmp_unpin_user_pages(struct page **pages, unsigned long nr);
bool rmp_new_vma_is_linked(unsigned long start, const struct vm_operations_struct *vm_ops,
			   void *vm_private_data);

bool rmp_request_mem_region(resource_size_t start, resource_size_t n, const char *name);
void rmp_release_mem_region(resource_size_t start, resource_size_t n);
int rmp_io_reserve_memtype_wc(resource_size_t start, resource_size_t size);
void rmp_io_free_memtype_wc(resource_size_t start, resource_size_t size);

bool rmp_trace_refusal_enabled(void);
void rmp_trace_refusal(const char *module, const char *reason);

#endif /* RMP_HELPERS_H */
