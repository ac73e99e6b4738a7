// SPDX-License-Identifier: GPL-2.0
/*
 * A leak on purpose: each load of this module leaks one 32-byte object whose
 * first 16 bytes, "RMP-CANARY-LEAK!", show in the ASCII column of kmemleak's
 * report. The leak scan at the end of a test run must report at least one,
 * or it could not have reported a real leak either; kunit/kmemleak.sh loads
 * the module once per canary (Documentation/test-rig.rst says why several).
 */
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/string.h>

static const char canary[32] = "RMP-CANARY-LEAK!kmemleak_canary";

static int __init rmp_kmemleak_canary_init(void)
{
	/* Nothing keeps the pointer: the object is unreferenced once this returns. */
	return kmemdup(canary, sizeof(canary), GFP_KERNEL) ? 0 : -ENOMEM;
}

/* An exit function, so that the module can be unloaded and loaded again. */
static void __exit rmp_kmemleak_canary_exit(void)
{
}

module_init(rmp_kmemleak_canary_init);
module_exit(rmp_kmemleak_canary_exit);
MODULE_DESCRIPTION("Leaks one object on purpose, for the test harness's kmemleak check");
MODULE_LICENSE("GPL");
