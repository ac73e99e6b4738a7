/* SPDX-License-Identifier: GPL-2.0 */
/* What the guest programs of make bench share: the areas they open and map. */
#ifndef RMP_BENCH_H
#define RMP_BENCH_H

/* The includer defines _GNU_SOURCE first. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "rust_binder_pages.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define PAGE		4096L
#define MIB		(1024L * 1024)
#define BINDER_SIZE	(4 * MIB)

/* What a variant maps. */
enum kind {
	ANON,		/* private anonymous memory */
	MEMFD,		/* memfd_create(): shmem */
	SECRET,		/* memfd_secret() */
	RUST_SECRET,	/* /dev/rust_secretmem */
	RUST_STRICT,	/* /dev/rust_secretmem_strict */
	BINDER_C,	/* /dev/rust_binder_pages_c, the C twin */
	BINDER_RUST,	/* /dev/rust_binder_pages */
};

/* Prints why and exits: the host side reports the line. */
static inline void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stdout, "rmp-bench-error: ");
	vfprintf(stdout, fmt, ap);
	fprintf(stdout, " (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	fflush(stdout);
	exit(1);
}

static inline const char *device(enum kind kind)
{
	switch (kind) {
	case RUST_SECRET:
		return "/dev/rust_secretmem";
	case RUST_STRICT:
		return "/dev/rust_secretmem_strict";
	case BINDER_C:
		return "/dev/rust_binder_pages_c";
	case BINDER_RUST:
		return "/dev/rust_binder_pages";
	default:
		return NULL;
	}
}

/* A new area of the kind, of size bytes where the kind has a size; -1 for ANON. */
static inline int area_open(enum kind kind, long size)
{
	int fd;

	switch (kind) {
	case ANON:
		return -1;
	case MEMFD:
		fd = memfd_create("rmp-bench", MFD_CLOEXEC);
		break;
	case SECRET:
		fd = syscall(SYS_memfd_secret, O_CLOEXEC);
		break;
	default:
		fd = open(device(kind), O_RDWR | O_CLOEXEC);
		break;
	}
	if (fd < 0)
		die("opening an area for kind %d", kind);
	if ((kind == MEMFD || kind == SECRET) && size && ftruncate(fd, size))
		die("ftruncate");
	return fd;
}

static inline void area_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Maps len bytes of the area at offset off, at addr if not NULL (MAP_FIXED_NOREPLACE). */
static inline unsigned char *area_map(enum kind kind, int fd, long len, long off, void *addr)
{
	int binder = kind == BINDER_C || kind == BINDER_RUST;
	int prot = binder ? PROT_READ : PROT_READ | PROT_WRITE;
	int flags = kind == ANON ? MAP_PRIVATE | MAP_ANONYMOUS : MAP_SHARED;
	void *p;

	if (addr)
		flags |= MAP_FIXED_NOREPLACE;
	p = mmap(addr, len, prot, flags, fd, kind == ANON ? 0 : off);
	if (p == MAP_FAILED || (addr && p != addr))
		die("mmap of %ld bytes, kind %d", len, kind);
	return p;
}

static inline void unmap(void *p, long len)
{
	if (munmap(p, len))
		die("munmap");
}

/* Writes the first byte of each page: one write fault per page. */
static inline void touch(unsigned char *p, long pages)
{
	for (long i = 0; i < pages; i++)
		__atomic_store_n(&p[i * PAGE], 1, __ATOMIC_RELAXED);
}

static inline void rbp_ioctl(int fd, unsigned long cmd, void *arg, const char *what)
{
	if (ioctl(fd, cmd, arg))
		die("%s", what);
}

#endif /* RMP_BENCH_H */
