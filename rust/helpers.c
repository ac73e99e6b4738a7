// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for what the mmap_prepare crate needs but bindgen cannot bind:
 * these are macros or static inline functions whose body is architecture
 * specific, so Rust cannot reimplement them portably. They are exported
 * because the crate's inline and generic code runs in the modules that use it.
 * get_current_user(), rlimit() and the atomic_long_t of user_struct are
 * inline or macros as well.
 */

#include <linux/export.h>
#include <linux/highmem.h>
#include <linux/io.h>
#include <linux/ioport.h>
#include <linux/mmap_lock.h>
#include <linux/pagemap.h>
#include <linux/uaccess.h>

#include "helpers.h"

pgprot_t rmp_pgprot_noncached(pgprot_t prot)
{
	return pgprot_noncached(prot);
}
EXPORT_SYMBOL_GPL(rmp_pgprot_noncached);

pgprot_t rmp_pgprot_writecombine(pgprot_t prot)
{
	return pgprot_writecombine(prot);
}
EXPORT_SYMBOL_GPL(rmp_pgprot_writecombine);

pgprot_t rmp_pgprot_device(pgprot_t prot)
{
	return pgprot_device(prot);
}
EXPORT_SYMBOL_GPL(rmp_pgprot_device);

void rmp_get_page(struct page *page)
{
	get_page(page);
}
EXPORT_SYMBOL_GPL(rmp_get_page);

void rmp_put_page(struct page *page)
{
	put_page(page);
}
EXPORT_SYMBOL_GPL(rmp_put_page);

/*
 * Waits until no one holds the lock of @page, as truncation does before it
 * drops a page cache page (truncate_inode_pages_range()): a fault that maps
 * the page holds it from __do_fault() until the page is in the page table.
 * The caller holds a reference, so the page cannot go away meanwhile. Sleeps.
 */
void rmp_page_wait_unlocked(struct page *page)
{
	lock_page(page);
	unlock_page(page);
}
EXPORT_SYMBOL_GPL(rmp_page_wait_unlocked);

unsigned long rmp_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}
EXPORT_SYMBOL_GPL(rmp_page_to_pfn);

struct user_struct *rmp_get_current_user(void)
{
	return get_current_user();
}
EXPORT_SYMBOL_GPL(rmp_get_current_user);

/* The check and charge of __secretmem_account_pages() in mm/secretmem.c. */
bool rmp_charge_locked_vm(struct user_struct *user, unsigned long pages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur = atomic_long_read(&user->locked_vm);

	do {
		if (cur + pages > limit || cur + pages < cur)
			return false;
	} while (!atomic_long_try_cmpxchg(&user->locked_vm, &cur, cur + pages));
	return true;
}
EXPORT_SYMBOL_GPL(rmp_charge_locked_vm);

void rmp_uncharge_locked_vm(struct user_struct *user, unsigned long pages)
{
	atomic_long_sub(pages, &user->locked_vm);
}
EXPORT_SYMBOL_GPL(rmp_uncharge_locked_vm);

/*
 * Copies into and out of pages that userspace may access at the same time.
 * They are C on purpose: Rust must never hold a reference to such memory
 * (rust/pages.rs explains the memory model).
 */
void rmp_page_write(struct page *page, size_t offset, const void *src,
		    size_t len)
{
	memcpy_to_page(page, offset, src, len);
}
EXPORT_SYMBOL_GPL(rmp_page_write);

void rmp_page_read(struct page *page, size_t offset, void *dst, size_t len)
{
	memcpy_from_page(dst, page, offset, len);
}
EXPORT_SYMBOL_GPL(rmp_page_read);

void rmp_page_zero(struct page *page, size_t offset, size_t len)
{
	memzero_page(page, offset, len);
}
EXPORT_SYMBOL_GPL(rmp_page_zero);

/* memmove, not memcpy_page(): the source may be the destination page itself. */
void rmp_page_copy_page(struct page *dst, size_t dst_offset,
			struct page *src, size_t src_offset, size_t len)
{
	char *to = kmap_local_page(dst);
	char *from = kmap_local_page(src);

	memmove(to + dst_offset, from + src_offset, len);
	kunmap_local(from);
	kunmap_local(to);
}
EXPORT_SYMBOL_GPL(rmp_page_copy_page);

/*
 * Returns the number of bytes not copied, as copy_from_user() does. A range outside user
 * memory is refused before the page is touched: copy_from_user() would zero the page's bytes
 * it did not copy (on x86-64 it masks the address instead of calling access_ok()).
 */
unsigned long rmp_page_copy_from_user(struct page *page, size_t offset,
				      const void __user *src, size_t len)
{
	void *addr;
	unsigned long left;

	if (!access_ok(src, len))
		return len;
	addr = kmap_local_page(page);
	left = copy_from_user(addr + offset, src, len);

	kunmap_local(addr);
	return left;
}
EXPORT_SYMBOL_GPL(rmp_page_copy_from_user);

/* Whether [src, src + len) lies in user memory (access_ok()). */
bool rmp_user_range_ok(const void __user *src, size_t len)
{
	return access_ok(src, len);
}
EXPORT_SYMBOL_GPL(rmp_user_range_ok);

/*
 * Pins NR pages of the current task's memory from START for reading; returns
 * how many were pinned or an error, as pin_user_pages_fast() does (it is not
 * in the Rust bindings); -EFAULT in a task without user memory.
 */
int rmp_pin_user_pages(unsigned long start, int nr, struct page **pages)
{
	/*
	 * A kernel thread has no user memory (read_iter and write_iter run in
	 * them, through kernel_read() and kernel_write()); gup_fast_fallback()
	 * would dereference the missing mm. A user copy fails there too.
	 */
	if (!current->mm)
		return -EFAULT;
	/*
	 * FOLL_LONGTERM: a PinnedUserBuffer is not tied to the call that made
	 * it, and a driver may keep it (Documentation/core-api/pin_user_pages.rst,
	 * case 2): pages in ZONE_MOVABLE or CMA are migrated out first, so the
	 * pin cannot hold up memory offlining or a CMA allocation.
	 */
	return pin_user_pages_fast(start, nr, FOLL_LONGTERM, pages);
}
EXPORT_SYMBOL_GPL(rmp_pin_user_pages);

void rmp_unpin_user_pages(struct page **pages, unsigned long nr)
{
	unpin_user_pages(pages, nr);
}
EXPORT_SYMBOL_GPL(rmp_unpin_user_pages);

/*
 * Whether the VMA that mapped() is completing, at @start in current->mm
 * with @vm_ops and still @vm_private_data (mapped() gets a copy of the
 * field), is in the mm's VMA tree. On the direct mmap() path it is:
 * __mmap_new_vma() stored it and linked it into its file's i_mmap tree before
 * the action and mapped() ran. On the stacked-caller path (compat_vma_mmap()
 * from a stacking ->mmap) it is neither yet: rmap cannot find it until that
 * ->mmap returned. The caller holds the mmap write lock (mapped() does).
 */
bool rmp_new_vma_is_linked(unsigned long start, const struct vm_operations_struct *vm_ops,
			   void *vm_private_data)
{
	struct vm_area_struct *vma;

	mmap_assert_write_locked(current->mm);
	vma = vma_lookup(current->mm, start);
	return vma && vma->vm_start == start && vma->vm_ops == vm_ops &&
	       vma->vm_private_data == vm_private_data;
}
EXPORT_SYMBOL_GPL(rmp_new_vma_is_linked);

/*
 * request_mem_region() and release_mem_region() are macros; the names must be
 * NUL-terminated and outlive the region.
 */
bool rmp_request_mem_region(resource_size_t start, resource_size_t n, const char *name)
{
	return request_mem_region(start, n, name);
}
EXPORT_SYMBOL_GPL(rmp_request_mem_region);

void rmp_release_mem_region(resource_size_t start, resource_size_t n)
{
	release_mem_region(start, n);
}
EXPORT_SYMBOL_GPL(rmp_release_mem_region);

/*
 * Static inlines that do nothing where there is no PAT (include/linux/io.h),
 * and reserve or free the range's memory type on x86.
 */
int rmp_io_reserve_memtype_wc(resource_size_t start, resource_size_t size)
{
	return arch_io_reserve_memtype_wc(start, size);
}
EXPORT_SYMBOL_GPL(rmp_io_reserve_memtype_wc);

void rmp_io_free_memtype_wc(resource_size_t start, resource_size_t size)
{
	arch_io_free_memtype_wc(start, size);
}
EXPORT_SYMBOL_GPL(rmp_io_free_memtype_wc);
