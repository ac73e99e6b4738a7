// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweep (fault_sweep.h) of every system call path of
 * /dev/rust_secretmem and /dev/rust_secretmem_strict: open, mmap (new, merged
 * into a neighbour, MAP_FIXED over a mapping of the same area), mremap (move
 * to fresh page tables, growth), fork, munmap (a split, the last mapping of a
 * closed file), faults driven by the kernel reading or writing the mapping
 * (the first fault of an area, which makes its page slots, and a later one),
 * and close. After each run the area's pages hold what was written, fresh
 * pages read zero, and the user's locked memory (read through /dev/rmp_kunit)
 * is charged for exactly the pages the area holds: a failed fault charges
 * nothing, and everything is returned when the area goes.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "fault_sweep.h"
#include "proc_maps.h"
#include "rmp_kunit.h"

#define REFCNT		"/sys/module/rust_secretmem/refcnt"
#define FAR		((uintptr_t)0x5c0000000000)	/* no page tables there yet */

static long page;

struct ss {
	const char *dev, *prefix;
	int strict;			/* VM_PFNMAP: no merging, no growth */
	int fd, kfd, pipe[2];
	unsigned char *map, *rsv;	/* the mapping, address space reserved around it */
	long pages, rsv_pages;
	long locked0;			/* locked_vm before setup */
	long charged;			/* pages the area holds: charged to locked_vm */
	int writes;			/* the fault path writes (else it reads) */
	pid_t child;
};

static struct ss s;

static long locked_vm(void)
{
	struct rmp_kunit_stats st;

	return ioctl(s.kfd, RMP_KUNIT_IOC_STATS, &st) ? -1 : (long)st.locked_vm;
}

static unsigned char pattern(long index, long off)
{
	return (unsigned char)(index * 61 + off * 7 + 1);
}

static void fill(unsigned char *p, long index)
{
	for (long i = 0; i < page; i++)
		p[i] = pattern(index, i);
}

/* The page at P holds the pattern of page INDEX (or zeros, INDEX < 0). */
static int holds(const unsigned char *p, long index)
{
	for (long i = 0; i < page; i++)
		if (p[i] != (index < 0 ? 0 : pattern(index, i)))
			return sw_fail("page %ld: offset %ld reads %#x, wanted %#x", index, i, p[i],
				       index < 0 ? 0 : pattern(index, i));
	return 1;
}

static int charge_is(long pages)
{
	long now = locked_vm();

	if (now != s.locked0 + pages)
		return sw_fail("locked_vm %ld pages, wanted %ld + %ld", now, s.locked0, pages);
	return 1;
}

/* VMAs of the device in [at, at + pages), and the page offset of the one at AT (-1: none). */
static int device_vmas(const unsigned char *at, long pages, long *pgoff)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, off;
	char line[512];
	int n = 0;

	*pgoff = -1;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &off) != 3 || !strstr(line, s.dev))
			continue;
		if (lo < (uintptr_t)at + pages * page && hi > (uintptr_t)at) {
			n++;
			if (lo <= (uintptr_t)at && (uintptr_t)at < hi)
				*pgoff = off / page + ((uintptr_t)at - lo) / page;
		}
	}
	if (f)
		fclose(f);
	return n;
}

/* An area with a mapping of PAGES pages, the first TOUCHED written with their pattern. */
static int area(long pages, long touched)
{
	s.locked0 = locked_vm();
	s.fd = open(s.dev, O_RDWR);
	s.pages = pages;
	s.map = s.fd < 0 ? MAP_FAILED : mmap(NULL, pages * page, PROT_READ | PROT_WRITE,
					      MAP_SHARED, s.fd, 0);
	if (s.locked0 < 0 || s.map == MAP_FAILED)
		return sw_fail("open and mmap: %s", strerror(errno)) - 1;
	for (long i = 0; i < touched; i++)
		fill(s.map + i * page, i);
	s.charged = touched;
	return 0;
}

static void teardown(void *arg)
{
	char buf[4096];

	(void)arg;
	if (s.child > 0)
		waitpid(s.child, NULL, 0);
	s.child = 0;
	if (s.map != MAP_FAILED)
		munmap(s.map, s.pages * page);
	if (s.rsv != MAP_FAILED)
		munmap(s.rsv, s.rsv_pages * page);
	s.map = MAP_FAILED;
	s.rsv = MAP_FAILED;
	if (s.fd >= 0)
		close(s.fd);
	s.fd = -1;
	while (read(s.pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* With the area gone: its charge returned, the module unused, and a new area works. */
static int usable(void *arg)
{
	FILE *f;
	int n = -1;

	(void)arg;
	if (!charge_is(0))
		return 0;
	f = fopen(REFCNT, "r");
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		fclose(f);
	if (n != 0)
		return sw_fail("%s reads %d with every area gone", REFCNT, n);
	if (area(2, 2))
		return 0;
	n = holds(s.map, 0) && holds(s.map + page, 1) && charge_is(2);
	teardown(NULL);
	return n && charge_is(0);
}

static int setup_nothing(void *arg)
{
	(void)arg;
	s.locked0 = locked_vm();
	return 0;
}

static int setup_open(void *arg)
{
	(void)arg;
	s.locked0 = locked_vm();
	s.fd = open(s.dev, O_RDWR);
	return s.fd < 0 ? sw_fail("open: %s", strerror(errno)) - 1 : 0;
}

static int setup_area(void *arg)
{
	(void)arg;
	return area(3, 3);
}

/* open */
static long op_open(void *arg)
{
	(void)arg;
	s.fd = open(s.dev, O_RDWR);
	return s.fd < 0 ? -errno : 0;
}

static int check_nothing_charged(void *arg, long rc, int injected)
{
	(void)arg;
	(void)rc;
	(void)injected;
	return charge_is(0);
}

/* mmap */
static long op_mmap(void *arg)
{
	(void)arg;
	s.pages = 2;
	s.map = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, s.fd, 0);
	return s.map == MAP_FAILED ? -errno : 0;
}

static int check_mmap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (!charge_is(0))
		return 0;
	if (rc < 0)
		return 1;
	fill(s.map + page, 1);
	return holds(s.map, -1) && holds(s.map + page, 1) && charge_is(2);
}

/* mmap next to a mapping of the previous page: merges (merging device). */
static int setup_merge(void *arg)
{
	(void)arg;
	s.locked0 = locked_vm();
	s.fd = open(s.dev, O_RDWR);
	s.rsv_pages = 3;
	s.rsv = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (s.fd < 0 || s.rsv == MAP_FAILED ||
	    mmap(s.rsv, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, s.fd, 0) != s.rsv)
		return sw_fail("setup: %s", strerror(errno)) - 1;
	fill(s.rsv, 0);
	return 0;
}

static long op_merge(void *arg)
{
	void *p = mmap(s.rsv + page, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, s.fd,
		       page);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_merge(void *arg, long rc, int injected)
{
	long pgoff;
	int n = device_vmas(s.rsv, 2, &pgoff);

	(void)arg;
	if (!holds(s.rsv, 0) || !charge_is(1))
		return 0;
	if (rc < 0)
		return n == 1 || sw_fail("%d VMAs after a failed mmap, wanted the first one", n);
	/* Merging is best effort: when it cannot allocate, the core makes a new VMA instead. */
	if (n != (s.strict ? 2 : 1) && !(injected && n == 2))
		return sw_fail("%d VMAs over the two pages", n);
	fill(s.rsv + page, 1);
	return holds(s.rsv + page, 1) && charge_is(2);
}

/* MAP_FIXED over a mapping of the same area, at other offsets. */
static long op_fixed(void *arg)
{
	void *p = mmap(s.map, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, s.fd,
		       3 * page);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_fixed(void *arg, long rc, int injected)
{
	unsigned char *q;
	long pgoff;
	int n = device_vmas(s.map, 2, &pgoff), ok;

	(void)arg;
	(void)injected;
	if (!charge_is(3))
		return 0;
	if (rc == 0 && pgoff != 3)
		return sw_fail("page offset %ld at the address after MAP_FIXED", pgoff);
	if (rc == 0 && (!holds(s.map, -1) || !charge_is(4)))
		return 0;
	if (rc < 0 && n && pgoff != 0)
		return sw_fail("after a failed MAP_FIXED, a mapping at offset %ld", pgoff);
	if (rc < 0 && n && (!holds(s.map, 0) || !holds(s.map + page, 1)))
		return 0;
	/* The area keeps its pages whatever became of the mapping. */
	q = mmap(NULL, 3 * page, PROT_READ, MAP_SHARED, s.fd, 0);
	if (q == MAP_FAILED)
		return sw_fail("mapping the area again: %s", strerror(errno));
	ok = holds(q, 0) && holds(q + page, 1) && holds(q + 2 * page, 2);
	munmap(q, 3 * page);
	return ok;
}

/* mremap to fresh page tables far away. */
static int setup_move(void *arg)
{
	if (setup_area(arg))
		return -1;
	s.rsv_pages = 3;
	s.rsv = mmap((void *)FAR, 3 * page, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return s.rsv == (void *)FAR ? 0 : sw_fail("reserve: %s", strerror(errno)) - 1;
}

static long op_move(void *arg)
{
	void *p = mremap(s.map, 3 * page, 3 * page, MREMAP_MAYMOVE | MREMAP_FIXED, s.rsv);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_move(void *arg, long rc, int injected)
{
	unsigned char *at = rc == 0 ? s.rsv : s.map;
	long pgoff;

	(void)arg;
	(void)injected;
	if (rc == 0 && device_vmas(s.map, 3, &pgoff))
		return sw_fail("the old range is still mapped after the move");
	if (rc < 0 && device_vmas(s.rsv, 3, &pgoff))
		return sw_fail("a mapping is left at the target of a failed move");
	if (rc == 0)
		s.map = MAP_FAILED;
	return holds(at, 0) && holds(at + page, 1) && holds(at + 2 * page, 2) && charge_is(3);
}

/* mremap growth: the merging device grows, the strict one cannot (EFAULT). */
static long op_grow(void *arg)
{
	unsigned char *q = mremap(s.map, 3 * page, 4 * page, MREMAP_MAYMOVE);

	(void)arg;
	if (q == MAP_FAILED)
		return -errno;
	s.map = q;
	s.pages = 4;
	return 0;
}

static int check_grow(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (!holds(s.map, 0) || !holds(s.map + page, 1) || !holds(s.map + 2 * page, 2) ||
	    !charge_is(3))
		return 0;
	if (rc < 0)
		return 1;
	fill(s.map + 3 * page, 3);
	return holds(s.map + 3 * page, 3) && charge_is(4);
}

/* fork: the child sees the pages and writes one the parent then sees. */
static long op_fork(void *arg)
{
	(void)arg;
	s.child = sw_fork();
	if (s.child == 0) {
		if (!holds(s.map, 0))
			_exit(1);
		s.map[page + 5] = 0x5a;
		_exit(0);
	}
	return s.child < 0 ? -errno : 0;
}

static int check_fork(void *arg, long rc, int injected)
{
	int status = -1;

	(void)arg;
	(void)injected;
	if (rc == 0) {
		waitpid(s.child, &status, 0);
		s.child = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			return sw_fail("child: status %#x", status);
		if (s.map[page + 5] != 0x5a)
			return sw_fail("the child's write is not seen");
		s.map[page + 5] = pattern(1, 5);
	}
	return holds(s.map, 0) && holds(s.map + page, 1) && charge_is(3);
}

/* munmap of the middle page: a split. */
static long op_split(void *arg)
{
	(void)arg;
	return munmap(s.map + page, page) ? -errno : 0;
}

static int check_split(void *arg, long rc, int injected)
{
	long pgoff;
	int n = device_vmas(s.map, 3, &pgoff);

	(void)arg;
	(void)injected;
	/* A failed munmap may leave the VMA split, with every page still mapped. */
	if (rc == 0 ? n != 2 : n < 1 || n > 2)
		return sw_fail("%d VMAs after munmap of the middle page (%s)", n, sw_rc_name(rc));
	if (!holds(s.map, 0) || !holds(s.map + 2 * page, 2) || (rc && !holds(s.map + page, 1)))
		return 0;
	return charge_is(3);
}

/* munmap of the last mapping of a closed file: the area goes, and its charge. */
static int setup_last(void *arg)
{
	if (setup_area(arg))
		return -1;
	close(s.fd);
	s.fd = -1;
	return 0;
}

static long op_unmap_all(void *arg)
{
	(void)arg;
	return munmap(s.map, 3 * page) ? -errno : 0;
}

static int check_last(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == 0) {
		s.map = MAP_FAILED;
		return charge_is(0);
	}
	return holds(s.map, 0) && holds(s.map + 2 * page, 2) && charge_is(3);
}

/*
 * Faults driven by the kernel: a pipe write from the mapping reads it, a pipe
 * read into it writes it. A failed fault is EFAULT (a kernel-mode
 * VM_FAULT_OOM is fixed up, arch/x86/mm/fault.c), charges nothing (but see
 * check_fault() for the strict device), and the page faults in normally
 * afterwards.
 */
static int setup_untouched(void *arg)
{
	(void)arg;
	return area(2, 0);
}

static int setup_second(void *arg)
{
	(void)arg;
	return area(2, 1);
}

static long op_kernel_reads(void *arg)
{
	long at = (s.charged ? page : 0) + 100;
	ssize_t n = write(s.pipe[1], s.map + at, 200);

	(void)arg;
	return n < 0 ? -errno : n == 200 ? 0 : -EFAULT;
}

static int setup_kernel_writes(void *arg)
{
	unsigned char buf[200];

	if (setup_untouched(arg))
		return -1;
	memset(buf, 0x77, sizeof(buf));
	return write(s.pipe[1], buf, sizeof(buf)) == sizeof(buf) ? 0 :
	       sw_fail("pipe: %s", strerror(errno)) - 1;
}

static long op_kernel_writes(void *arg)
{
	ssize_t n = read(s.pipe[0], s.map + 100, 200);

	(void)arg;
	return n < 0 ? -errno : n == 200 ? 0 : -EFAULT;
}

static int check_fault(void *arg, long rc, int injected)
{
	long idx = s.charged;	/* the page the fault was for */
	unsigned char *p = s.map + idx * page;
	int kept;

	(void)arg;
	(void)injected;
	/*
	 * A failed fault charges nothing, but on the strict device it may have failed after
	 * the handler took the page from the area: where the mapping's PMD has no page table
	 * yet, vmf_insert_pfn() allocates one (get_locked_pte(): pte_alloc_one(), and
	 * ptlock_alloc() with split page-table locks), and the area keeps the page, charged,
	 * for the next fault. Whether the PMD has a table depends on where mmap() put the
	 * mapping. (set_page()'s faults cannot fail there: __do_fault() allocates that table
	 * before it calls the handler.) The fault below must then map the kept page without a
	 * second charge, and closing the area must return it (usable()).
	 */
	kept = rc && s.strict && locked_vm() == s.locked0 + s.charged + 1;
	if (!charge_is(s.charged + (!rc || kept)))
		return 0;
	if (rc == 0 && s.writes) {
		for (long i = 0; i < page; i++)
			if (p[i] != (i >= 100 && i < 300 ? 0x77 : 0))
				return sw_fail("offset %ld reads %#x after the kernel wrote",
					       i, p[i]);
		return 1;
	}
	/* The page reads zero, faulted now if the kernel's fault failed. */
	return holds(p, -1) && charge_is(s.charged + 1) && (idx == 0 || holds(s.map, 0));
}

/* close after the last munmap: the area goes, and its charge. */
static int setup_close(void *arg)
{
	if (setup_area(arg))
		return -1;
	munmap(s.map, 3 * page);
	s.map = MAP_FAILED;
	return 0;
}

static long op_close(void *arg)
{
	int fd = s.fd;

	(void)arg;
	s.fd = -1;
	return close(fd) ? -errno : 0;
}

enum { READS, WRITES };

struct path {
	struct sw_path p;
	int strict_expect;	/* the strict device's result without injection, if not 0 */
	int writes;
};

#define P(name, setup, op, check, ...) { { name, setup, op, check, teardown, usable, 0, \
					     { ENOMEM, __VA_ARGS__ }, 0 }, 0, READS }
/* The sweep's move: it must reach the failures of the core's move. */
#define MOVE(name, setup, op, check, ...) \
	{ { name, setup, op, check, teardown, usable, 0, { ENOMEM, __VA_ARGS__ }, \
	    SW_MOVES }, 0, READS }

static const struct path paths[] = {
	P("open", setup_nothing, op_open, check_nothing_charged, EFAULT),
	P("mmap", setup_open, op_mmap, check_mmap, EAGAIN),
	P("mmap_merge_into_neighbour", setup_merge, op_merge, check_merge, EAGAIN),
	P("mmap_fixed_over_mapping", setup_area, op_fixed, check_fixed, EAGAIN),
	MOVE("mremap_move", setup_move, op_move, check_move, 0),
	{ { "mremap_grow", setup_area, op_grow, check_grow, teardown, usable, 0, { ENOMEM }, 0 },
	  -EFAULT, READS },
	P("fork", setup_area, op_fork, check_fork, EAGAIN),
	P("munmap_split", setup_area, op_split, check_split, 0),
	P("munmap_last_mapping", setup_last, op_unmap_all, check_last, 0),
	P("first_fault_kernel_reads", setup_untouched, op_kernel_reads, check_fault, EFAULT),
	P("later_fault_kernel_reads", setup_second, op_kernel_reads, check_fault, EFAULT),
	{ { "first_fault_kernel_writes", setup_kernel_writes, op_kernel_writes, check_fault,
	    teardown, usable, 0, { ENOMEM, EFAULT }, 0 }, 0, WRITES },
	P("close_releases_area", setup_close, op_close, check_nothing_charged, 0),
};

#define NR_PATHS ARRAY_SIZE(paths)

static void run_device(const char *dev, const char *prefix, int strict)
{
	char names[NR_PATHS][64];
	struct sw_path p;

	s.dev = dev;
	s.prefix = prefix;
	s.strict = strict;
	for (unsigned int i = 0; i < NR_PATHS; i++) {
		p = paths[i].p;
		snprintf(names[i], sizeof(names[i]), "%s_%s", prefix, p.name);
		p.name = strdup(names[i]);
		if (strict && paths[i].strict_expect)
			p.expect = paths[i].strict_expect;
		s.writes = paths[i].writes == WRITES;
		sw_run(&p, NULL);
	}
}

static void body(void)
{
	s.fd = -1;
	s.map = MAP_FAILED;
	s.rsv = MAP_FAILED;
	s.kfd = open("/dev/rmp_kunit", O_RDWR);
	if (s.kfd < 0 || locked_vm() < 0 || pipe2(s.pipe, O_NONBLOCK)) {
		printf("    # /dev/rmp_kunit (locked_vm): %s\n", strerror(errno));
		return;
	}
	run_device("/dev/rust_secretmem", "merging", 0);
	run_device("/dev/rust_secretmem_strict", "strict", 1);
	sw_table("rust_secretmem and rust_secretmem_strict");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	return sw_main("rmp_fault_sweep_secretmem", 2 * NR_PATHS, body);
}
