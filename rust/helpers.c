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
