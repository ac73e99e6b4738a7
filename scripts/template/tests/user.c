// SPDX-License-Identifier: GPL-2.0
/*
 * Userspace test of /dev/@NAME@, run in the test guest by 'make test M=...'.
 * Prints one KTAP document through ktap.h, from the rust-mmap-prepare project
 * (its Documentation/test-rig.rst describes it): with KTAP_PLAN_LATER nobody
 * counts the cases up front, ktap_end() reports how many ran.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ktap.h"

#define PAGES 2
static const char greeting[] = "hello from @NAME@";

int main(void)
{
	long page = sysconf(_SC_PAGESIZE);
	int fd = open("/dev/@NAME@", O_RDWR);
	char *p, *q;

	ktap_begin("@NAME@_user", KTAP_PLAN_LATER);
	if (!ktap_check(fd >= 0, "open", "open /dev/@NAME@: %s", strerror(errno)))
		return ktap_end();

	p = mmap(NULL, PAGES * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (ktap_check(p != MAP_FAILED, "map_every_page", "mmap: %s", strerror(errno))) {
		ktap_check(!strcmp(p, greeting) && !strcmp(p + page, greeting),
			   "pages_start_with_the_greeting", "read '%.20s', '%.20s'", p, p + page);
		/* A second mapping, from page 1 of the file, shows the same page. */
		memcpy(p + page, "written", sizeof("written"));
		q = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, page);
		ktap_check(q != MAP_FAILED && !strcmp(q, "written"), "mappings_share_the_pages",
			   "second mapping: %s", q == MAP_FAILED ? strerror(errno) : q);
		if (q != MAP_FAILED)
			munmap(q, page);
		munmap(p, PAGES * page);
	}

	/* map_kernel_pages refuses to map more pages than the file has. */
	p = mmap(NULL, (PAGES + 1) * page, PROT_READ, MAP_SHARED, fd, 0);
	ktap_check(p == MAP_FAILED && errno == EINVAL, "too_many_pages_refused",
		   "mmap of %d pages: %s", PAGES + 1, p == MAP_FAILED ? strerror(errno) : "mapped");

	close(fd);
	return ktap_end();
}
