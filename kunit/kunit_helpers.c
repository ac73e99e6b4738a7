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
