// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweep (fault_sweep.h) of the KUnit module's test device,
 * /dev/rmp_kunit (kunit/test_device.rs), which exercises the parts of the
 * library the samples do not: open (the file's pages), mmap in every mode that
 * maps (fault handler, map_kernel_pages and remap actions, a mixed map, PFN
 * faults, device memory), a merge into a neighbour, MAP_FIXED over a mapping,
 * mremap (a move to fresh page tables, a move into a neighbour of another
 * VmOperations type), fork, a split, faults driven by the kernel (a page
 * handed to the core, a PFN inserted), close. After each run the device's VMAs
 * hold VMA data, no more objects of it than VMAs, and with everything gone no
 * file or VMA data is left (the device's counters, read with
 * RMP_KUNIT_IOC_STATS).
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "fault_sweep.h"
#include "rmp_kunit.h"

#define DEV		"/dev/rmp_kunit"
#define REFCNT		"/sys/module/rust_mmap_prepare_kunit/refcnt"
#define FAR		((uintptr_t)0x5e0000000000)	/* no page tables there yet */
#define MODE_STRIDE	0x100
#define FILE_PAGES	4
enum {
	FAULT = 0, MAP_PAGES = 2, REMAP_PAGE = 3, MIXED_MAP = 4, PFN_FAULT = 6,
	DEVICE_MEMORY = 11, MIXED_TYPES = 12,
};

static long page;

struct ks {
	int fd, kfd, pipe[2];
	unsigned char *map, *rsv;
	long pages, rsv_pages;
	int mode;		/* of the path's mapping */
	int foreign;		/* VMAs of the other VmOperations type may exist (no VmaState) */
	pid_t child;
};

static struct ks k;

static off_t offset(int mode, int n)
{
	return ((off_t)mode * MODE_STRIDE + n) * page;
}

static unsigned char pattern(long index, long off)
{
	return (unsigned char)(index * 61 + off * 7 + 1);
}

static int holds(const unsigned char *p, long index)
{
	for (long i = 0; i < page; i++)
		if (p[i] != pattern(index % FILE_PAGES, i))
			return sw_fail("page %ld: offset %ld reads %#x, wanted %#x", index, i, p[i],
				       pattern(index % FILE_PAGES, i));
	return 1;
}

static int stats(struct rmp_kunit_stats *st)
{
	if (ioctl(k.kfd, RMP_KUNIT_IOC_STATS, st))
		return sw_fail("RMP_KUNIT_IOC_STATS: %s", strerror(errno));
	return 1;
}

/* The device's VMAs in this process (or in [at, at + pages) if AT). */
static int device_vmas(const unsigned char *at, long pages)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	int n = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && strstr(line, DEV) &&
		    (!at || (lo < (uintptr_t)at + pages * page && hi > (uintptr_t)at)))
			n++;
	if (f)
		fclose(f);
	return n;
}

/*
 * The device's VMAs hold VmaStates (one per successful mmap(), shared by the
 * copies a split, fork or move makes): some while any VMA exists, none after
 * (unless another VmOperations type's VMAs are around); FILES files are open.
 */
static int consistent(int files)
{
	struct rmp_kunit_stats st;
	int vmas = device_vmas(NULL, 0);

	if (!stats(&st))
		return 0;
	if (st.vma_data_live > (__u64)vmas || (!k.foreign && !st.vma_data_live != !vmas))
		return sw_fail("%llu VmaStates alive for %d VMAs", st.vma_data_live, vmas);
	/* The sweep's own /dev/rmp_kunit file counts too. */
	if (st.files_live != (__u64)files + 1)
		return sw_fail("%llu files alive, wanted %d", st.files_live, files + 1);
	return 1;
}

static int map_at(void *at, long pages, int mode, int n)
{
	void *p = mmap(at, pages * page, PROT_READ | PROT_WRITE,
		       MAP_SHARED | (at ? MAP_FIXED : 0), k.fd, offset(mode, n));

	if (p == MAP_FAILED)
		return sw_fail("mmap: %s", strerror(errno)) - 1;
	k.map = p;
	k.pages = pages;
	return 0;
}

static void teardown(void *arg)
{
	char buf[4096];

	(void)arg;
	if (k.child > 0)
		waitpid(k.child, NULL, 0);
	k.child = 0;
	if (k.map != MAP_FAILED)
		munmap(k.map, k.pages * page);
	if (k.rsv != MAP_FAILED)
		munmap(k.rsv, k.rsv_pages * page);
	k.map = MAP_FAILED;
	k.rsv = MAP_FAILED;
	if (k.fd >= 0)
		close(k.fd);
	k.fd = -1;
	k.foreign = 0;
	while (read(k.pipe[0], buf, sizeof(buf)) > 0)
		;
}

/* Nothing left alive, and the device maps again. */
static int usable(void *arg)
{
	int ok;

	(void)arg;
	if (!consistent(0))
		return 0;
	k.fd = open(DEV, O_RDWR);
	if (k.fd < 0 || map_at(NULL, 2, FAULT, 0))
		return sw_fail("open and mmap: %s", strerror(errno));
	ok = holds(k.map, 0) && holds(k.map + page, 1) && consistent(1);
	teardown(NULL);
	return ok && consistent(0);
}

static int setup_nothing(void *arg)
{
	(void)arg;
	return 0;
}

static int setup_open(void *arg)
{
	(void)arg;
	k.fd = open(DEV, O_RDWR);
	return k.fd < 0 ? sw_fail("open: %s", strerror(errno)) - 1 : 0;
}

static int setup_mapped(void *arg)
{
	if (setup_open(arg) || map_at(NULL, 3, FAULT, 0))
		return -1;
	/* Touch every page: faults done, page tables made. */
	return holds(k.map, 0) && holds(k.map + page, 1) && holds(k.map + 2 * page, 2) ? 0 : -1;
}

static long op_open(void *arg)
{
	(void)arg;
	k.fd = open(DEV, O_RDWR);
	return k.fd < 0 ? -errno : 0;
}

static int check_open(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	return consistent(rc == 0);
}

/* mmap in mode k.mode (one page of the remap and device memory modes, else two). */
static long op_mmap(void *arg)
{
	(void)arg;
	k.pages = k.mode == REMAP_PAGE || k.mode == DEVICE_MEMORY ? 1 : 2;
	k.map = mmap(NULL, k.pages * page, PROT_READ, MAP_SHARED, k.fd, offset(k.mode, 0));
	return k.map == MAP_FAILED ? -errno : 0;
}

static int check_mmap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc < 0)
		return consistent(1) && (!device_vmas(NULL, 0) ||
					 sw_fail("a VMA is left after a failed mmap"));
	if (!consistent(1))
		return 0;
	switch (k.mode) {
	case FAULT:
	case MAP_PAGES:
	case PFN_FAULT:
		return holds(k.map, 0) && holds(k.map + page, 1);
	case REMAP_PAGE:
	case DEVICE_MEMORY:
		return holds(k.map, 0);
	}
	return 1;	/* a mixed map with nothing inserted: SIGBUS on access */
}

static int setup_mode(int mode)
{
	k.mode = mode;
	return setup_open(NULL);
}

static int setup_fault(void *arg)
{
	(void)arg;
	return setup_mode(FAULT);
}

static int setup_map_pages(void *arg)
{
	(void)arg;
	return setup_mode(MAP_PAGES);
}

static int setup_remap(void *arg)
{
	(void)arg;
	return setup_mode(REMAP_PAGE);
}

static int setup_mixed(void *arg)
{
	(void)arg;
	return setup_mode(MIXED_MAP);
}

static int setup_pfn(void *arg)
{
	(void)arg;
	return setup_mode(PFN_FAULT);
}

/* Device memory has the library's own VMA operations: no VmaState. */
static int setup_device_memory(void *arg)
{
	k.mode = DEVICE_MEMORY;
	k.foreign = 1;
	return setup_open(arg);
}

/* A merge into the neighbour at the previous offset. */
static int setup_merge(void *arg)
{
	if (setup_open(arg))
		return -1;
	k.rsv_pages = 3;
	k.rsv = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k.rsv == MAP_FAILED || map_at(k.rsv, 1, FAULT, 0))
		return -1;
	k.map = MAP_FAILED;
	return holds(k.rsv, 0) ? 0 : -1;
}

static long op_merge(void *arg)
{
	void *p = mmap(k.rsv + page, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, k.fd,
		       offset(FAULT, 1));

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_merge(void *arg, long rc, int injected)
{
	int n = device_vmas(k.rsv, 2);

	(void)arg;
	if (!consistent(1) || !holds(k.rsv, 0))
		return 0;
	/* Merging is best effort: when it cannot allocate, the core makes a new VMA instead. */
	if (n != 1 && !(rc == 0 && injected && n == 2))
		return sw_fail("%d VMAs over the two pages (%s)", n, rc ? "failed" : "mapped");
	return rc < 0 || holds(k.rsv + page, 1);
}

/* MAP_FIXED over the mapping, at another offset. */
static long op_fixed(void *arg)
{
	void *p = mmap(k.map, 2 * page, PROT_READ, MAP_SHARED | MAP_FIXED, k.fd,
		       offset(FAULT, 2));

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_fixed(void *arg, long rc, int injected)
{
	int n = device_vmas(k.map, 2);

	(void)arg;
	(void)injected;
	if (!consistent(1) || !holds(k.map + 2 * page, 2))
		return 0;
	if (rc == 0)
		return holds(k.map, 2) && holds(k.map + page, 3);
	return !n || (holds(k.map, 0) && holds(k.map + page, 1));
}

/* mremap to fresh page tables far away. */
static int setup_move(void *arg)
{
	if (setup_mapped(arg))
		return -1;
	k.rsv_pages = 3;
	k.rsv = mmap((void *)FAR, 3 * page, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	return k.rsv == (void *)FAR ? 0 : sw_fail("reserve: %s", strerror(errno)) - 1;
}

static long op_move(void *arg)
{
	void *p = mremap(k.map, 3 * page, 3 * page, MREMAP_MAYMOVE | MREMAP_FIXED, k.rsv);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_move(void *arg, long rc, int injected)
{
	unsigned char *at = rc == 0 ? k.rsv : k.map;

	(void)arg;
	(void)injected;
	if (device_vmas(rc == 0 ? k.map : k.rsv, 3))
		return sw_fail("a VMA is left at the %s", rc == 0 ? "old address" : "target");
	if (rc == 0)
		k.map = MAP_FAILED;
	return consistent(1) && holds(at, 0) && holds(at + page, 1) && holds(at + 2 * page, 2);
}

/*
 * mremap next to a neighbour of another VmOperations type: the core may move
 * the page into the neighbour, merged (kunit/userspace/mmap_prepare_user.c).
 */
static int setup_foreign(void *arg)
{
	if (setup_open(arg))
		return -1;
	k.foreign = 1;
	k.rsv_pages = 3;
	k.rsv = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (k.rsv == MAP_FAILED || map_at(k.rsv, 1, MIXED_TYPES, 0) ||
	    map_at(k.rsv + 2 * page, 1, MIXED_TYPES, 1) || munmap(k.rsv + page, page))
		return -1;
	k.map = MAP_FAILED;
	/* Page 1 (OtherVm) has no fault handler: it is read once it moved into page 0's VMA. */
	return holds(k.rsv, 0) ? 0 : -1;
}

static long op_foreign(void *arg)
{
	void *p = mremap(k.rsv + 2 * page, page, page, MREMAP_MAYMOVE | MREMAP_FIXED,
			 k.rsv + page);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_foreign(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (!consistent(1) || !holds(k.rsv, 0))
		return 0;
	if (rc < 0)
		return device_vmas(k.rsv + 2 * page, 1) == 1 ||
		       sw_fail("the page left its place after a failed move");
	/*
	 * Moved: into page 0's VMA, merged, or (when the merge could not allocate) into a
	 * copy of its own VMA, which has no fault handler.
	 */
	if (device_vmas(k.rsv, 2) == 2)
		return injected || sw_fail("the moved page did not merge, with nothing injected");
	return holds(k.rsv + page, 1);
}

/* fork: the child's copy of the VMA gets its own VmaState. */
static long op_fork(void *arg)
{
	(void)arg;
	k.child = sw_fork();
	if (k.child == 0)
		_exit(holds(k.map, 0) && holds(k.map + 2 * page, 2) ? 0 : 1);
	return k.child < 0 ? -errno : 0;
}

static int check_fork(void *arg, long rc, int injected)
{
	int status = -1;

	(void)arg;
	(void)injected;
	if (rc == 0) {
		waitpid(k.child, &status, 0);
		k.child = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			return sw_fail("child: status %#x", status);
	}
	return consistent(1) && holds(k.map + page, 1);
}

/* munmap of the middle page: a split, each piece with its own VmaState. */
static long op_split(void *arg)
{
	(void)arg;
	return munmap(k.map + page, page) ? -errno : 0;
}

static int check_split(void *arg, long rc, int injected)
{
	int n = device_vmas(k.map, 3);

	(void)arg;
	(void)injected;
	/* A failed munmap may leave the VMA split, with every page still mapped. */
	if (rc == 0 ? n != 2 : n < 1 || n > 2)
		return sw_fail("%d VMAs after munmap of the middle page (%s)", n, sw_rc_name(rc));
	return consistent(1) && holds(k.map, 0) && holds(k.map + 2 * page, 2) &&
	       (rc == 0 || holds(k.map + page, 1));
}

/* A fault driven by the kernel (a pipe write from the mapping), in k.mode. */
static int setup_fault_mapping(void *arg)
{
	return setup_open(arg) || map_at(NULL, 2, k.mode, 0) ? -1 : 0;
}

static int setup_kernel_fault(void *arg)
{
	k.mode = FAULT;
	return setup_fault_mapping(arg);
}

static int setup_kernel_pfn(void *arg)
{
	k.mode = PFN_FAULT;
	return setup_fault_mapping(arg);
}

static long op_kernel_reads(void *arg)
{
	ssize_t n = write(k.pipe[1], k.map + page + 10, 100);

	(void)arg;
	return n < 0 ? -errno : n == 100 ? 0 : -EFAULT;
}

static int check_kernel_reads(void *arg, long rc, int injected)
{
	unsigned char buf[100];

	(void)arg;
	(void)injected;
	if (rc == 0) {
		if (read(k.pipe[0], buf, 100) != 100)
			return sw_fail("pipe: %s", strerror(errno));
		for (int i = 0; i < 100; i++)
			if (buf[i] != pattern(1, 10 + i))
				return sw_fail("the kernel read %#x at %d", buf[i], 10 + i);
	}
	return consistent(1) && holds(k.map, 0) && holds(k.map + page, 1);
}

/* close after the last munmap: the file's data goes. */
static int setup_close(void *arg)
{
	if (setup_mapped(arg))
		return -1;
	munmap(k.map, 3 * page);
	k.map = MAP_FAILED;
	return 0;
}

static long op_close(void *arg)
{
	int fd = k.fd;

	(void)arg;
	k.fd = -1;
	return close(fd) ? -errno : 0;
}

static int check_closed(void *arg, long rc, int injected)
{
	(void)arg;
	(void)rc;
	(void)injected;
	return consistent(0);
}

#define P(name, setup, op, check, ...) { name, setup, op, check, teardown, usable, 0, \
					 { ENOMEM, __VA_ARGS__ }, 0 }
/* The sweep's move: it must reach the failures of the core's move. */
#define MOVE(name, setup, op, check, ...) { name, setup, op, check, teardown, usable, 0, \
					    { ENOMEM, __VA_ARGS__ }, SW_MOVES }

static const struct sw_path paths[] = {
	P("kunit_open", setup_nothing, op_open, check_open, EFAULT),
	P("kunit_mmap_fault", setup_fault, op_mmap, check_mmap, EAGAIN),
	P("kunit_mmap_map_kernel_pages", setup_map_pages, op_mmap, check_mmap, EAGAIN),
	P("kunit_mmap_remap_kernel_page", setup_remap, op_mmap, check_mmap, EAGAIN),
	P("kunit_mmap_mixed_map", setup_mixed, op_mmap, check_mmap, EAGAIN),
	P("kunit_mmap_pfn_fault", setup_pfn, op_mmap, check_mmap, EAGAIN),
	P("kunit_mmap_device_memory", setup_device_memory, op_mmap, check_mmap, EAGAIN),
	P("kunit_mmap_merge_into_neighbour", setup_merge, op_merge, check_merge, EAGAIN),
	P("kunit_mmap_fixed_over_mapping", setup_mapped, op_fixed, check_fixed, EAGAIN),
	MOVE("kunit_mremap_move", setup_move, op_move, check_move, 0),
	P("kunit_mremap_into_foreign_neighbour", setup_foreign, op_foreign, check_foreign, 0),
	P("kunit_fork", setup_mapped, op_fork, check_fork, EAGAIN),
	P("kunit_munmap_split", setup_mapped, op_split, check_split, 0),
	P("kunit_fault_set_page_kernel_reads", setup_kernel_fault, op_kernel_reads,
	  check_kernel_reads, EFAULT),
	P("kunit_fault_insert_pfn_kernel_reads", setup_kernel_pfn, op_kernel_reads,
	  check_kernel_reads, EFAULT),
	P("kunit_close", setup_close, op_close, check_closed, 0),
};

#define NR_PATHS ARRAY_SIZE(paths)

static void body(void)
{
	k.fd = -1;
	k.map = MAP_FAILED;
	k.rsv = MAP_FAILED;
	k.kfd = open(DEV, O_RDWR);
	if (k.kfd < 0 || pipe2(k.pipe, O_NONBLOCK)) {
		printf("    # %s: %s\n", DEV, strerror(errno));
		return;
	}
	for (unsigned int i = 0; i < NR_PATHS; i++)
		sw_run(&paths[i], NULL);
	sw_table("rmp_kunit (the KUnit module's test device)");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	return sw_main("rmp_fault_sweep_kunit", NR_PATHS, body);
}
