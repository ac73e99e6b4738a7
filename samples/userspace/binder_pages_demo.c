// SPDX-License-Identifier: GPL-2.0
/*
 * rust_binder_pages in one picture: a receiver maps /dev/rust_binder_pages
 * read-only, a child it forked (the sender) copies a message into the
 * receiver's buffer with RBP_IOC_SEND, and the receiver reads the message
 * straight from its own mapping: no read(), no copy on the receiving side.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rust_binder_pages.h"

#define DEV	"/dev/rust_binder_pages"
#define SIZE	(64 * 1024)
/* Just below 8 KiB: the message straddles two pages, and reads as one string. */
#define OFFSET	8180
#define MESSAGE	"hello from pid %d via rust_binder_pages"

static int fail(const char *what)
{
	fprintf(stderr, "binder_pages_demo: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(void)
{
	long page = sysconf(_SC_PAGESIZE), first, last;
	struct rbp_stats st;
	struct rbp_send s;
	char msg[128];
	int fd, status;
	char *map;
	pid_t pid;

	fd = open(DEV, O_RDWR);
	if (fd < 0)
		return fail("open " DEV);
	map = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		return fail("mmap");
	printf("A sender copies a message into a receiver's read-only mapping; the receiver\n");
	printf("reads it in place, without a read() or a copy of its own.\n");
	printf("receiver (pid %d): mapped %d KiB of %s read-only at %p\n", (int)getpid(),
	       SIZE / 1024, DEV, map);
	fflush(stdout);

	pid = fork();
	if (pid < 0)
		return fail("fork");
	if (pid == 0) {
		/* The sender inherited the file, but not the mapping (VM_DONTCOPY). */
		snprintf(msg, sizeof(msg), MESSAGE, (int)getpid());
		s.offset = OFFSET;
		s.len = strlen(msg) + 1;
		s.data = (unsigned long)msg;
		if (ioctl(fd, RBP_IOC_SEND, &s))
			_exit(fail("RBP_IOC_SEND"));
		printf("sender   (pid %d): RBP_IOC_SEND of %llu bytes at offset %llu\n",
		       (int)getpid(), s.len, s.offset);
		fflush(stdout);
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		return fail("waitpid");
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "binder_pages_demo: the sender failed (status %#x)\n", status);
		return 1;
	}

	snprintf(msg, sizeof(msg), MESSAGE, (int)pid);
	printf("receiver (pid %d): reads at %p, in place: \"%.*s\"\n", (int)getpid(),
	       map + OFFSET, (int)sizeof(msg), map + OFFSET);
	if (strcmp(map + OFFSET, msg)) {
		fprintf(stderr, "binder_pages_demo: the mapping does not hold the message\n");
		return 1;
	}

	if (ioctl(fd, RBP_IOC_STATS, &st))
		return fail("RBP_IOC_STATS");
	first = OFFSET / page;
	last = (OFFSET + strlen(msg)) / page;
	printf("RBP_IOC_STATS, the receiver's buffer as the driver counts it:\n");
	printf("  pages_allocated %4llu  %s %ld..%ld of %ld)\n", st.pages_allocated,
	       "pages allocated on demand (those the message touched: pages", first, last,
	       SIZE / page);
	printf("  pages_mapped    %4llu  %s\n", st.pages_mapped,
	       "pages inserted into the receiver's mapping (reading another raises SIGBUS)");
	printf("  bytes_sent      %4llu  %s\n", st.bytes_sent,
	       "bytes copied by successful sends (the message and its NUL)");
	if (st.pages_allocated != (__u64)(last - first + 1) ||
	    st.pages_mapped != st.pages_allocated || st.bytes_sent != strlen(msg) + 1) {
		fprintf(stderr, "binder_pages_demo: unexpected counters\n");
		return 1;
	}
	munmap(map, SIZE);
	close(fd);
	return 0;
}
