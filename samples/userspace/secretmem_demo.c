// SPDX-License-Identifier: GPL-2.0
/*
 * rust_secretmem in one picture: two adjacent mappings of one secret area
 * merge into one VMA marked VM_DONTDUMP ("dd"), and the strict device's
 * VM_PFNMAP pages cannot be read through get_user_pages(), so
 * process_vm_readv() fails on them while it works on the merging device.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#define DEV		"/dev/rust_secretmem"
#define DEV_STRICT	"/dev/rust_secretmem_strict"
#define SECRET		"correct horse battery staple"

static long page;

static int fail(const char *what)
{
	fprintf(stderr, "secretmem_demo: %s: %s\n", what, strerror(errno));
	return 1;
}

/*
 * Prints the lines of /proc/self/maps overlapping [start, start + len) and,
 * from /proc/self/smaps, their VmFlags. Returns the number of VMAs, or -1.
 */
static int show_vmas(const char *start, long len, int *dontdump)
{
	unsigned long lo, hi, off, s = (unsigned long)start, e = s + len;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512], perms[8];
	int n = 0, in = 0;

	if (!f)
		return -1;
	*dontdump = 1;
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line: "start-end perms offset ..."; then "Key: value" lines. */
		if (sscanf(line, "%lx-%lx %7s %lx", &lo, &hi, perms, &off) == 4) {
			in = lo < e && hi > s;
			if (in) {
				n++;
				printf("  maps:    %s", line);
			}
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			printf("  smaps:   %s", line);
			*dontdump = *dontdump && strstr(line, " dd");
		}
	}
	fclose(f);
	return n;
}

/* Reads len bytes at addr of this process through process_vm_readv(). */
static ssize_t gup_read(const void *addr, char *buf, size_t len)
{
	struct iovec local = { buf, len }, remote = { (void *)addr, len };

	return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
}

int main(void)
{
	int fd, strict, n, dd, bad = 0;
	char *a, *b, *c, buf[64];
	ssize_t got;

	page = sysconf(_SC_PAGESIZE);
	fd = open(DEV, O_RDWR);
	if (fd < 0)
		return fail("open " DEV);

	/* Reserve four pages, then map the area's pages 0-1 and 2-3 over them. */
	a = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a == MAP_FAILED)
		return fail("mmap reserve");
	if (mmap(a, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) != a)
		return fail("mmap pages 0-1");
	b = a + 2 * page;
	if (mmap(b, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 2 * page) != b)
		return fail("mmap pages 2-3");
	memcpy(b + page - 10, SECRET, sizeof(SECRET));
	printf("%s: two 2-page mappings of one file, at %p and %p\n", DEV, a, b);
	n = show_vmas(a, 4 * page, &dd);
	printf("  -> %d VMA%s for the 4 pages%s; VM_DONTDUMP (\"dd\"): %s\n", n,
	       n == 1 ? "" : "s", n == 1 ? " (the adjacent mappings merged)" : "",
	       dd ? "yes" : "no");
	bad |= n != 1 || !dd;

	got = gup_read(b + page - 10, buf, sizeof(SECRET));
	printf("  a secret written across them, read by process_vm_readv(): %zd bytes, \"%s\"\n",
	       got, got == sizeof(SECRET) ? buf : "");
	bad |= got != sizeof(SECRET) || strcmp(buf, SECRET);

	strict = open(DEV_STRICT, O_RDWR);
	if (strict < 0)
		return fail("open " DEV_STRICT);
	c = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, strict, 0);
	if (c == MAP_FAILED)
		return fail("mmap " DEV_STRICT);
	memcpy(c, SECRET, sizeof(SECRET));
	printf("%s: one page at %p, secret written and read back: \"%s\"\n", DEV_STRICT, c, c);
	show_vmas(c, page, &dd);
	errno = 0;
	got = gup_read(c, buf, sizeof(SECRET));
	printf("  process_vm_readv() on it: %zd, errno %d (%s)\n", got, errno, strerror(errno));
	printf("  -> %s\n",
	       "VM_PFNMAP pages are beyond get_user_pages() (process_vm_readv, /proc/PID/mem)");
	bad |= got >= 0;

	munmap(c, page);
	munmap(a, 4 * page);
	close(strict);
	close(fd);
	if (bad)
		fprintf(stderr, "secretmem_demo: unexpected results above\n");
	return bad;
}
