/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The KUnit module's test device, /dev/rmp_kunit (kunit/test_device.rs), as
 * userspace tests see it: RMP_KUNIT_IOC_STATS reads the device's counters and
 * the caller's user's locked memory, which nothing else shows to userspace.
 */
#ifndef RMP_KUNIT_H
#define RMP_KUNIT_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct rmp_kunit_stats {
	__u64 locked_vm;	/* current_user()->locked_vm, in pages */
	__u64 prepare;		/* mmap_prepare calls */
	__u64 mapped;		/* mapped calls (successful or not) */
	__u64 open;		/* open calls (copies of a VMA) */
	__u64 close;		/* close calls */
	__u64 close_no_data;	/* close calls for a VMA without data */
	__u64 fault;		/* fault calls */
	__u64 vma_data_live;	/* VMA data alive: one per VMA that has data */
	__u64 files_live;	/* open files of the device */
};

#define RMP_KUNIT_IOC_STATS _IOR('k', 0x01, struct rmp_kunit_stats)
/*
 * Leaks a 32-byte object starting "RMP-CANARY-LEAK!" on purpose: the leak
 * scan at the end of the run (kunit/kmemleak.sh) must report it, and nothing
 * else (kunit/userspace/after/modules_reload.c plants it).
 */
#define RMP_KUNIT_IOC_LEAK_CANARY _IO('k', 0x02)
/* Makes the file readable (POLLIN) and wakes its pollers. */
#define RMP_KUNIT_IOC_PRODUCE _IO('k', 0x03)
#define RMP_KUNIT_LEAK_CANARY "RMP-CANARY-LEAK!"

#endif /* RMP_KUNIT_H */
