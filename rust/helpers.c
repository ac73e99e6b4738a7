// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for what the mmap_prepare crate needs but bindgen cannot bind:
 * these are macros or static inline functions whose body is architecture
 * specific, so Rust cannot reimplement them portably. They are exported
 * because the crate's inline and generic code runs in the modules that use it.
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
