// SPDX-License-Identifier: GPL-2.0
/*
 * Stacking files for the tests of the stacked-caller path: their legacy
 * ->mmap maps an underlying file of ours through vfs_mmap(), which calls its
 * mmap_prepare through compat_vma_mmap() (mm/util.c) on the VMA that already
 * exists, as coda, backing files and SysV shm do with theirs. The underlying
 * file, an open /dev/rmp_kunit, is handed over by the test after both were
 * opened (rmp_kunit_stack_attach()): opening it from the stacking file's open
 * would nest misc_open() in misc_open(), under misc_mtx.
 *
 * /dev/rmp_stack_same makes the VMA the underlying file's first
 * (vma_set_file()): the descriptor's vm_file is its file. /dev/rmp_stack_other
 * leaves the VMA this file's: vm_file != file.
 */
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>

#include "kunit_helpers.h"

static int rmp_stack_open(struct inode *inode, struct file *file)
{
	/* misc_open() left the struct miscdevice here: no underlying file yet. */
	file->private_data = NULL;
	return 0;
}

static int rmp_stack_release(struct inode *inode, struct file *file)
{
	if (file->private_data)
		fput(file->private_data);
	return 0;
}

/* Gives @stack its underlying file @under (with a reference of its own); 0 or -EBUSY. */
int rmp_kunit_stack_attach(struct file *stack, struct file *under)
{
	get_file(under);
	if (cmpxchg(&stack->private_data, NULL, under)) {
		fput(under);
		return -EBUSY;
	}
	return 0;
}

static int rmp_stack_mmap_same(struct file *file, struct vm_area_struct *vma)
{
	struct file *under = READ_ONCE(file->private_data);

	if (!under)
		return -ENODEV;
	vma_set_file(vma, under);
	return vfs_mmap(under, vma);
}

static int rmp_stack_mmap_other(struct file *file, struct vm_area_struct *vma)
{
	struct file *under = READ_ONCE(file->private_data);

	if (!under)
		return -ENODEV;
	return vfs_mmap(under, vma);
}

static const struct file_operations rmp_stack_same_fops = {
	.owner = THIS_MODULE,
	.open = rmp_stack_open,
	.release = rmp_stack_release,
	.mmap = rmp_stack_mmap_same,
};

static const struct file_operations rmp_stack_other_fops = {
	.owner = THIS_MODULE,
	.open = rmp_stack_open,
	.release = rmp_stack_release,
	.mmap = rmp_stack_mmap_other,
};

static struct miscdevice rmp_stack_same = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "rmp_stack_same",
	.fops = &rmp_stack_same_fops,
};

static struct miscdevice rmp_stack_other = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "rmp_stack_other",
	.fops = &rmp_stack_other_fops,
};

/* Called from the module's init, after /dev/rmp_kunit was registered. */
int rmp_kunit_stacker_register(void)
{
	int err = misc_register(&rmp_stack_same);

	if (err)
		return err;
	err = misc_register(&rmp_stack_other);
	if (err)
		misc_deregister(&rmp_stack_same);
	return err;
}

void rmp_kunit_stacker_unregister(void)
{
	misc_deregister(&rmp_stack_other);
	misc_deregister(&rmp_stack_same);
}
