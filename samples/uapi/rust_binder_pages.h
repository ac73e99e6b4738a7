/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * ABI of samples/rust_binder_pages.rs: a receiver maps /dev/rust_binder_pages
 * read-only; a sender holding the same file copies bytes into the receiver's
 * buffer, and the pages appear in the receiver's mapping.
 */
#ifndef _UAPI_RUST_BINDER_PAGES_H
#define _UAPI_RUST_BINDER_PAGES_H

#include <linux/ioctl.h>
#include <linux/types.h>

struct rbp_send  { __u64 offset; __u64 len; __u64 data; };   /* data: user pointer */
struct rbp_free  { __u64 offset; __u64 len; };
struct rbp_stats { __u64 pages_allocated; __u64 pages_mapped; __u64 bytes_sent; };
#define RBP_IOC_SEND  _IOW('r', 0x01, struct rbp_send)
#define RBP_IOC_FREE  _IOW('r', 0x02, struct rbp_free)
#define RBP_IOC_STATS _IOR('r', 0x03, struct rbp_stats)

#endif /* _UAPI_RUST_BINDER_PAGES_H */
