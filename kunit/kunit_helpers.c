// SPDX-License-Identifier: GPL-2.0
/*
 * C wrappers for the KUnit module, around static inline helpers and macros.
 *
 * KUnit cases run in kthreads, whose root is an empty nullfs since 7.0, so a
 * path like /dev/rmp_kunit must be resolved in userspace's initial fs.
 */

#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/fs_struct.h>
#include <linux/mm.h>
#include <linux/mmap_lock.h>
#include <linux/sched/user.h>

#include "kunit_helpers.h"

struct file *rmp_kunit_filp_open(const char *path, int flags)
{
	scoped_with_init_fs()
		return filp_open(path, flags, 0);
}

/* current_user() is a macro and locked_vm an atomic_long_t. */
long rmp_kunit_locked_vm(void)
{
	return atomic_long_read(&current_user()->locked_vm);
}

/* page_count() is a static inline. */
int rmp_kunit_page_count(struct page *page)
{
	return page_count(page);
}

/* page_to_phys() is a macro. */
u64 rmp_kunit_page_phys(struct page *page)
{
	return page_to_phys(page);
}

/* The memory type (enum page_cache_mode) that a PTE's caching bits select. */
static int rmp_kunit_cachemode(pgprot_t prot)
{
#ifdef CONFIG_X86
	unsigned long bits = pgprot_val(prot) & _PAGE_CACHE_MASK;
	int pcm;

	/* The first mode whose bits these are: the PAT slots of WB/UC- appear twice. */
	for (pcm = 0; pcm < _PAGE_CACHE_MODE_NUM; pcm++)
		if (cachemode2protval(pcm) == bits)
			return pcm;
	return -EINVAL;
#else
	return -EOPNOTSUPP;
#endif
}

/*
 * The PFN and the memory type of the PTE that maps @addr in a VM_PFNMAP or
 * VM_IO mapping of current->mm, as follow_pfnmap_start() finds it; 0 or
 * -errno (-EFAULT: no VMA there; -EINVAL: no PFN mapping or no entry).
 */
int rmp_kunit_pfnmap_entry(unsigned long addr, unsigned long *pfn, int *cachemode)
{
	struct follow_pfnmap_args args = { .address = addr };
	struct mm_struct *mm = current->mm;
	int ret = -EFAULT;

	mmap_read_lock(mm);
	args.vma = vma_lookup(mm, addr);
	if (args.vma)
		ret = follow_pfnmap_start(&args);
	if (!ret) {
		*pfn = args.pfn;
		*cachemode = rmp_kunit_cachemode(args.pgprot);
		follow_pfnmap_end(&args);
	}
	mmap_read_unlock(mm);
	return ret;
}
