/* SPDX-License-Identifier: GPL-2.0 */
/* C wrappers used by the mmap_prepare crate; declared in Rust in c_helpers.rs. */
#ifndef RMP_HELPERS_H
#define RMP_HELPERS_H

#include <linux/mm.h>
#include <linux/pgtable.h>

pgprot_t rmp_pgprot_noncached(pgprot_t prot);
pgprot_t rmp_pgprot_writecombine(pgprot_t prot);
pgprot_t rmp_pgprot_device(pgprot_t prot);
void rmp_get_page(struct page *page);
void rmp_put_page(struct page *page);
unsigned long rmp_page_to_pfn(struct page *page);

#endif /* RMP_HELPERS_H */
