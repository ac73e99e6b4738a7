// SPDX-License-Identifier: GPL-2.0
/*
 * The KUnit module's test device, used from userspace as a driver's users
 * would: the offset of a mapping selects the behaviour (see test_device.rs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ktap.h"
#include "proc_maps.h"

#define DEV "/dev/rmp_kunit"
#define MODE_STRIDE 0x100
enum { FAULT = 0, MAPPED_FAILS = 1, MAP_PAGES = 2, BAD_RANGE = 5, PFN_FAULT = 6 };

static long page;

static off_t offset(int mode, int n)
{
	return ((off_t)mode * MODE_STRIDE + n) * page;
}

static unsigned char pattern(int index, long off)
{
	return (unsigned char)(index * 61 + off * 7 + 1);
}

static int page_matches(const unsigned char *p, int index)
{
	for (long i = 0; i < page; i++)
		if (p[i] != pattern(index, i))
			return 0;
	return 1;
}

static int map_errno(int fd, int pages, int prot, int flags, off_t off)
{
	void *p = mmap(NULL, pages * page, prot, flags, fd, off);

	if (p != MAP_FAILED) {
		munmap(p, pages * page);
		return 0;
	}
	return errno;
}

int main(void)
{
	unsigned char *a, *b, buf[64];
	int fd, err, lines;

	page = sysconf(_SC_PAGESIZE);
	ktap_begin("mmap_prepare_user", 9);

	fd = open(DEV, O_RDWR);
	if (!ktap_check(fd >= 0, "open_device", "open(%s): %s", DEV, strerror(errno)))
		return ktap_end();

	/* Reserve room for two adjacent mappings, then map over it. */
	a = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a != MAP_FAILED)
		a = mmap(a, 2 * page, PROT_READ, MAP_SHARED | MAP_FIXED, fd, offset(FAULT, 0));
	ktap_check(a != MAP_FAILED && page_matches(a, 0) && page_matches(a + page, 1),
		   "shared_mapping_reads_pages", "mmap: %s", strerror(errno));

	b = mmap(a + 2 * page, 2 * page, PROT_READ, MAP_SHARED | MAP_FIXED, fd, offset(FAULT, 2));
	lines = maps_lines((uintptr_t)a, (uintptr_t)a + 4 * page);
	ktap_check(b == a + 2 * page && lines == 1, "adjacent_mappings_merge",
		   "second mapping at %p (wanted %p), %d lines in /proc/self/maps", b, a + 2 * page,
		   lines);
	munmap(a, 4 * page);

	err = map_errno(fd, 1, PROT_READ, MAP_PRIVATE, offset(FAULT, 0));
	ktap_check(err == EINVAL, "private_mapping_refused", "errno %d, wanted EINVAL", err);

	err = map_errno(fd, 1, PROT_READ, MAP_SHARED, offset(BAD_RANGE, 0));
	ktap_check(err == EFAULT, "bad_action_range_is_efault", "errno %d, wanted EFAULT", err);

	err = map_errno(fd, 1, PROT_READ, MAP_SHARED, offset(MAPPED_FAILS, 0));
	ktap_check(err == EAGAIN, "error_override_reaches_user", "errno %d, wanted EAGAIN", err);

	/*
	 * The driver's mprotect callback refuses PROT_EXEC and allows the rest. An executable
	 * mmap() (not seen by the callback) must work, or the refusal could be the mount's.
	 */
	err = map_errno(fd, 1, PROT_READ | PROT_EXEC, MAP_SHARED, offset(FAULT, 0));
	a = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, offset(FAULT, 0));
	if (a != MAP_FAILED) {
		int exec = mprotect(a, page, PROT_READ | PROT_EXEC) ? errno : 0;
		int rw = mprotect(a, page, PROT_READ | PROT_WRITE) ? errno : 0;

		ktap_check(err == 0 && exec == EACCES && rw == 0, "mprotect_callback_decides",
			   "exec mmap: errno %d; mprotect PROT_EXEC: errno %d (wanted EACCES), PROT_WRITE: errno %d",
			   err, exec, rw);
		munmap(a, page);
	} else {
		ktap_check(0, "mprotect_callback_decides", "mmap: %s", strerror(errno));
	}

	a = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, offset(MAP_PAGES, 3));
	ktap_check(a != MAP_FAILED && page_matches(a, 3), "map_kernel_pages_reads_back",
		   "mmap: %s", a == MAP_FAILED ? strerror(errno) : "wrong contents");
	if (a != MAP_FAILED)
		munmap(a, page);

	/* A PFN mapping is readable, but not through get_user_pages(). */
	a = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, offset(PFN_FAULT, 2));
	if (a != MAP_FAILED) {
		struct iovec local = { buf, sizeof(buf) }, remote = { a, sizeof(buf) };
		int ok = page_matches(a, 2);
		ssize_t n = process_vm_readv(getpid(), &local, 1, &remote, 1, 0);

		ktap_check(ok && n < 0, "pfn_mapping_refuses_gup",
			   "contents %s, process_vm_readv returned %zd", ok ? "ok" : "wrong", n);
		munmap(a, page);
	} else {
		ktap_check(0, "pfn_mapping_refuses_gup", "mmap: %s", strerror(errno));
	}
	close(fd);
	return ktap_end();
}
