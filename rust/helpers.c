// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for what the mmap_prepare crate needs but bindgen cannot bind:
 * these are macros or static inline functions whose body is architecture
 * specific, so Rust cannot reimplement them portably.
 */

#include "helpers.h"

pgprot_t rmp_pgprot_noncached(pgprot_t prot)
{
	return pgprot_noncached(prot);
}

pgprot_t rmp_pgprot_writecombine(pgprot_t prot)
{
	return pgprot_writecombine(prot);
}

pgprot_t rmp_pgprot_device(pgprot_t prot)
{
	return pgprot_device(prot);
}

void rmp_get_page(struct page *page)
{
	get_page(page);
}

unsigned long rmp_page_to_pfn(struct page *page)
{
	return page_to_pfn(page);
}
