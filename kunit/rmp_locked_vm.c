// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/rmp_locked_vm: reading it gives the calling user's locked_vm, in pages, as a decimal
 * line. The userspace tests read the charge of the secret areas there on a kernel without
 * KUnit (make test KERNEL=debian), where the KUnit module's test device, which gives the same
 * count (RMP_KUNIT_IOC_STATS), is not built; /proc shows only the mm's locked_vm, not the
 * user's. Built only for the tests (RMP_TEST_MODULES=y, Kbuild).
 */

#include <linux/atomic.h>
#include <linux/cred.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/user.h>

static ssize_t rmp_locked_vm_read(struct file *file, char __user *buf, size_t len,
				  loff_t *pos)
{
	char text[24];
	int n = scnprintf(text, sizeof(text), "%ld\n",
			  atomic_long_read(&current_user()->locked_vm));

	return simple_read_from_buffer(buf, len, pos, text, n);
}

static const struct file_operations rmp_locked_vm_fops = {
	.owner = THIS_MODULE,
	.read = rmp_locked_vm_read,
	.llseek = default_llseek,
};

static struct miscdevice rmp_locked_vm_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "rmp_locked_vm",
	.fops = &rmp_locked_vm_fops,
	.mode = 0444,
};

module_misc_device(rmp_locked_vm_dev);

MODULE_DESCRIPTION("The calling user's locked_vm, for the tests of rust-mmap-prepare");
MODULE_LICENSE("GPL");
