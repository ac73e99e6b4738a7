// SPDX-License-Identifier: GPL-2.0
/*
 * Exports the symbols of the mmap_prepare crate so that other modules can
 * use the crate, in the way rust/exports.c does for the kernel crate.
 */

#include <linux/export.h>
#include <linux/module.h>

/* Declared as int: only the symbol's address matters to the export. */
#include "exports_generated.h"

MODULE_DESCRIPTION("Rust abstractions for f_op->mmap_prepare");
MODULE_LICENSE("GPL");
