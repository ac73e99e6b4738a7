// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit cases run in kthreads, whose root is an empty nullfs since 7.0, so a
 * path like /dev/rmp_kunit must be resolved in userspace's initial fs.
 * scoped_with_init_fs() is a static inline helper, hence this C wrapper.
 */

#include <linux/fs.h>
#include <linux/fs_struct.h>

#include "kunit_helpers.h"

struct file *rmp_kunit_filp_open(const char *path, int flags)
{
	scoped_with_init_fs()
		return filp_open(path, flags, 0);
}
