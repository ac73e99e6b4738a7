/* SPDX-License-Identifier: GPL-2.0 */
/* C wrappers for the KUnit module; declared in Rust in e2e.rs. */
#ifndef RMP_KUNIT_HELPERS_H
#define RMP_KUNIT_HELPERS_H

#include <linux/fs.h>

void rmp_kunit_skip(const char *reason);
struct file *rmp_kunit_filp_open(const char *path, int flags);
long rmp_kunit_locked_vm(void);
int rmp_kunit_page_count(struct page *page);
u64 rmp_kunit_page_phys(struct page *page);
int rmp_kunit_rmap_probe(struct file *file, unsigned long start, unsigned long pgoff);
int rmp_kunit_pfnmap_entry(unsigned long addr, unsigned long *pfn, int *cachemode);
int rmp_kunit_cachemode(pgprot_t prot);
int rmp_kunit_prot_exec_never(pgprot_t prot);
int rmp_kunit_pci_resource_file(unsigned int vendor, unsigned int device, int bar, char *buf,
				size_t len, u64 *start);
void rmp_kunit_mmap_write_lock(void);
void rmp_kunit_mmap_write_unlock(void);
int rmp_kunit_mmap_write_lock_vma(unsigned long addr);
struct mm_struct *rmp_kunit_mm_alloc(void);
void rmp_kunit_mmput(struct mm_struct *mm);
struct file *rmp_kunit_anon_file(const struct file_operations *fops, void *priv);
void rmp_kunit_lock_page(struct page *page);
void rmp_kunit_unlock_page(struct page *page);
struct rmp_kunit_reader;
struct rmp_kunit_reader *rmp_kunit_reader_start(unsigned long addr);
int rmp_kunit_reader_wait(struct rmp_kunit_reader *r, unsigned char *byte);

int rmp_kunit_stack_attach(struct file *stack, struct file *under);
int rmp_kunit_stacker_register(void);
void rmp_kunit_stacker_unregister(void);

#endif /* RMP_KUNIT_HELPERS_H */
