// SPDX-License-Identifier: GPL-2.0
/*
 * The KUnit module's test device, used from userspace as a driver's users
 * would: the offset of a mapping selects the behaviour (see test_device.rs).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/uio.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"
#include "proc_maps.h"
#include "rmp_kunit.h"

#define DEV "/dev/rmp_kunit"
#define MODE_STRIDE 0x100
enum {
	FAULT = 0, MAPPED_FAILS = 1, MAP_PAGES = 2, BAD_RANGE = 5, PFN_FAULT = 6,
	WIPE_ON_FORK = 10, DEVICE_MEMORY = 11, MIXED_TYPES = 12, BARE_REMAP_PAGE = 17,
	REVOKE_IN_PREPARE = 18, REVOKE_IN_MAPPED = 19, REVOKE_IN_FAULT = 20,
};

/* The line the library logs when the test device asks for VM_WIPEONFORK. */
#define REFUSAL "rust_mmap_prepare_kunit: mmap_prepare: set_flags: VM_WIPEONFORK may not be set by a driver (EINVAL)"
/* The library's rate limit: one line per call site per interval (rust/log.rs). */
#define LOG_INTERVAL_S 5

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

/* A /dev/kmsg reader that sees only the records logged from now on. */
static int kmsg_open_at_end(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0)
		lseek(fd, 0, SEEK_END);
	return fd;
}

/* Counts the records not read yet from @fd that contain @needle. */
static int kmsg_count(int fd, const char *needle)
{
	char rec[2048];
	int n = 0;
	ssize_t len;

	for (;;) {
		len = read(fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* overwritten records: skip them */
		if (len <= 0)
			break;
		rec[len] = 0;
		if (strstr(rec, needle))
			n++;
	}
	return n;
}

#define TRACEFS "/sys/kernel/tracing"

/* Enables or disables the mmap_prepare:refusal event and empties the trace buffer; 0 or -1. */
static int refusal_event(int on)
{
	int fd, ok;

	mount("tracefs", TRACEFS, "tracefs", 0, NULL);
	fd = open(TRACEFS "/trace", O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -1;
	close(fd);
	fd = open(TRACEFS "/events/mmap_prepare/refusal/enable", O_WRONLY);
	if (fd < 0)
		return -1;
	ok = write(fd, on ? "1" : "0", 1) == 1;
	close(fd);
	return ok ? 0 : -1;
}

/* The lines of the trace buffer that contain @needle; -1 if it cannot be read. */
static int trace_count(const char *needle)
{
	FILE *f = fopen(TRACEFS "/trace", "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/*
 * A refusal logs one line naming the driver's module (not the library), and
 * a burst of refusals cannot flood the log; after the interval it logs again.
 * Every refusal fires the mmap_prepare:refusal trace event, which a driver
 * author enables to see each reason.
 */
static void test_refusal_log(int dev)
{
	int all = open("/dev/kmsg", O_RDONLY | O_NONBLOCK), since, burst, later, err = 0, traced;

	err = map_errno(dev, 1, PROT_READ, MAP_SHARED, offset(WIPE_ON_FORK, 0));
	since = kmsg_open_at_end();
	traced = refusal_event(1);
	for (int i = 0; i < 200; i++)
		map_errno(dev, 1, PROT_READ, MAP_SHARED, offset(WIPE_ON_FORK, 0));
	burst = since >= 0 ? kmsg_count(since, REFUSAL) : -1;
	if (!traced)
		traced = trace_count(REFUSAL);
	refusal_event(0);
	/* Wait out the interval; then one refusal logs one line again. */
	sleep(LOG_INTERVAL_S + 1);
	map_errno(dev, 1, PROT_READ, MAP_SHARED, offset(WIPE_ON_FORK, 0));
	later = since >= 0 ? kmsg_count(since, REFUSAL) : -1;
	ktap_check(err == EINVAL && all >= 0 && kmsg_count(all, REFUSAL) >= 1 && burst <= 1 &&
		   later == 1, "refusal_logged_rate_limited_naming_the_driver",
		   "errno %d (wanted EINVAL); lines: in a burst of 200 %d (wanted <= 1), after %d s %d (wanted 1)",
		   err, burst, LOG_INTERVAL_S + 1, later);
	ktap_check(traced == 200, "every_refusal_traced",
		   "mmap_prepare:refusal events for the burst of 200: %d", traced);
	if (all >= 0)
		close(all);
	if (since >= 0)
		close(since);
}

/*
 * mremap() can move a VMA's pages into a neighbour of the same file that the
 * core expands instead of copying the VMA (merges do not compare vm_ops), and
 * then calls the moved VMA's ->mremap on that neighbour. The test device's
 * page 0 has one VmOperations type, page 1 another (OtherVm), whose mremap
 * refuses to be handed data for a VMA that is not its own.
 */
static void test_mremap_into_foreign_neighbour(int dev)
{
	unsigned char *a, *b, *moved = MAP_FAILED;
	int lines = -1, err = 0;

	a = mmap(NULL, 3 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (a != MAP_FAILED)
		a = mmap(a, page, PROT_READ, MAP_SHARED | MAP_FIXED, dev, offset(MIXED_TYPES, 0));
	b = MAP_FAILED;
	if (a != MAP_FAILED)
		b = mmap(a + 2 * page, page, PROT_READ, MAP_SHARED | MAP_FIXED, dev,
			 offset(MIXED_TYPES, 1));
	if (b != MAP_FAILED) {
		munmap(a + page, page);
		moved = mremap(b, page, page, MREMAP_MAYMOVE | MREMAP_FIXED, a + page);
		err = moved == MAP_FAILED ? errno : 0;
		lines = maps_lines((uintptr_t)a, (uintptr_t)a + 2 * page);
	}
	ktap_check(moved == (void *)(a + page) && lines == 1 && page_matches(a, 0) &&
		   page_matches(a + page, 1), "mremap_into_foreign_neighbour",
		   "mremap: %s; %d VMAs over the two pages (wanted 1, merged)", strerror(err),
		   lines);
	if (a != MAP_FAILED)
		munmap(a, 3 * page);
}

/*
 * remap_kernel_page on a copy-on-write (private, writable-later) mapping is
 * refused: the core would make the VMA's offset the page's frame number, which
 * /proc/self/maps shows. A shared one keeps the offset the user asked for.
 */
static void test_cow_remap_of_a_kernel_page(int dev)
{
	int err = map_errno(dev, 1, PROT_READ, MAP_PRIVATE, offset(BARE_REMAP_PAGE, 1));
	unsigned char *p = mmap(NULL, page, PROT_READ, MAP_SHARED, dev, offset(BARE_REMAP_PAGE, 1));
	long long off = p == MAP_FAILED ? -1 : maps_offset((uintptr_t)p);

	ktap_check(err == EINVAL && p != MAP_FAILED && page_matches(p, 1) &&
		   off == (long long)offset(BARE_REMAP_PAGE, 1),
		   "cow_remap_of_a_kernel_page_refused",
		   "private: %s (wanted EINVAL); shared: %s, offset column %#llx (wanted %#llx)",
		   strerror(err), p == MAP_FAILED ? strerror(errno) : "mapped", off,
		   (long long)offset(BARE_REMAP_PAGE, 1));
	if (p != MAP_FAILED)
		munmap(p, page);
}

/*
 * DeviceMemory::revoke() from inside the mm's own callbacks, under its mmap
 * write lock (mmap_prepare, mapped) or a fault's read lock: it takes no lock
 * of any address space, so it returns, and the device memory mapping made
 * before it gets SIGBUS. Each case uses a file of its own (revocation is for
 * good). The test device's device memory is its page 0.
 */
static void test_revoke_in_callback(int mode, const char *name)
{
	int fd = open(DEV, O_RDWR), err = -1, before = -1, after = -1, touched = -1, again = -1;
	unsigned char *dm = MAP_FAILED, *p = MAP_FAILED;

	if (fd >= 0)
		dm = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, offset(DEVICE_MEMORY, 0));
	if (dm != MAP_FAILED) {
		before = page_matches(dm, 0);
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, offset(mode, 0));
		err = p == MAP_FAILED ? errno : 0;
		if (p != MAP_FAILED && mode == REVOKE_IN_FAULT)
			touched = rmp_read_signal(p);
		after = rmp_read_signal(dm);
		again = map_errno(fd, 1, PROT_READ, MAP_SHARED, offset(DEVICE_MEMORY, 0));
	}
	if (mode == REVOKE_IN_PREPARE)
		ktap_check(before && err == ENODEV && after == SIGBUS && again == ENODEV, name,
			   "device memory read %d; mmap revoking in mmap_prepare: %s (wanted ENODEV); then signal %d (wanted SIGBUS), new mapping %s",
			   before, strerror(err), after, strerror(again));
	else
		ktap_check(before && err == 0 && after == SIGBUS && again == ENODEV &&
			   (mode != REVOKE_IN_FAULT || touched == SIGBUS), name,
			   "device memory read %d; mmap: %s; fault %d; then signal %d (wanted SIGBUS), new mapping %s (wanted ENODEV)",
			   before, strerror(err), touched, after, strerror(again));
	if (p != MAP_FAILED)
		munmap(p, page);
	if (dm != MAP_FAILED)
		munmap(dm, page);
	if (fd >= 0)
		close(fd);
}

/* read_iter reads page 0 from the file position; write_iter writes page 1, which a mapping sees. */
static void test_read_write_iter(void)
{
	int fd = open(DEV, O_RDWR), read_ok = 0, seen = 0;
	unsigned char buf[64], *p = MAP_FAILED;
	ssize_t n = -1, w = -1;

	if (fd >= 0) {
		n = pread(fd, buf, sizeof(buf), 100);
		read_ok = n == (ssize_t)sizeof(buf);
		for (int i = 0; read_ok && i < (int)sizeof(buf); i++)
			read_ok = buf[i] == pattern(0, 100 + i);
		w = pwrite(fd, "written", 7, 200);
		p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, offset(FAULT, 1));
	}
	if (p != MAP_FAILED) {
		seen = w == 7 && !memcmp(p + 200, "written", 7);
		munmap(p, page);
	}
	ktap_check(read_ok && seen, "read_and_write_iter",
		   "pread: %zd bytes, pattern %s; pwrite: %zd, seen through a mapping %d", n,
		   read_ok ? "ok" : "wrong", w, seen);
	if (fd >= 0)
		close(fd);
}

struct poller {
	int fd;
	short revents;
	double waited;
};

static void *poll_thread(void *arg)
{
	struct poller *p = arg;
	struct pollfd pfd = { .fd = p->fd, .events = POLLIN };
	double start = rmp_now();

	if (poll(&pfd, 1, 10000) == 1)
		p->revents = pfd.revents;
	p->waited = rmp_now() - start;
	return NULL;
}

/*
 * A reader blocked in poll() is woken when the driver makes the file
 * readable (RMP_KUNIT_IOC_PRODUCE): the crate's poll glue registers the
 * waiters, so a driver that fills a mapped ring can wake its readers.
 */
static void test_poll_wakes_a_reader(void)
{
	struct poller p = { .fd = open(DEV, O_RDWR) };
	struct pollfd now = { .fd = p.fd, .events = POLLIN | POLLOUT };
	int before = -1, produced = -1;
	pthread_t t;

	if (p.fd >= 0 && poll(&now, 1, 0) >= 0)
		before = now.revents;
	if (p.fd >= 0 && !pthread_create(&t, NULL, poll_thread, &p)) {
		usleep(200 * 1000);
		produced = ioctl(p.fd, RMP_KUNIT_IOC_PRODUCE);
		pthread_join(t, NULL);
	}
	ktap_check(before == POLLOUT && !produced && (p.revents & POLLIN) && p.waited < 9,
		   "poll_wakes_a_reader",
		   "before: revents %#x (wanted POLLOUT only); produce %d; the poller got %#x after %.2f s",
		   before, produced, p.revents, p.waited);
	if (p.fd >= 0)
		close(p.fd);
}

/* show_fdinfo adds the driver's line to /proc/self/fdinfo/<fd>. */
static void test_show_fdinfo(void)
{
	int fd = open(DEV, O_RDWR), found = 0;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fd >= 0 ? fopen(path, "r") : NULL;
	while (f && fgets(line, sizeof(line), f))
		if (!strcmp(line, "rmp_kunit_pages:\t4\n"))
			found = 1;
	if (f)
		fclose(f);
	ktap_check(found, "show_fdinfo_adds_the_drivers_line", "%s has no \"rmp_kunit_pages:\t4\"",
		   path);
	if (fd >= 0)
		close(fd);
}

int main(void)
{
	unsigned char *a, *b, buf[64];
	int fd, err, lines;

	page = sysconf(_SC_PAGESIZE);
	rmp_probe_catch_faults();
	ktap_begin("mmap_prepare_user", 19);

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
	test_mremap_into_foreign_neighbour(fd);
	test_cow_remap_of_a_kernel_page(fd);
	test_revoke_in_callback(REVOKE_IN_PREPARE, "revoke_in_mmap_prepare_refuses_the_mapping");
	test_revoke_in_callback(REVOKE_IN_MAPPED, "revoke_in_mapped_zaps_the_device_memory");
	test_revoke_in_callback(REVOKE_IN_FAULT, "revoke_in_fault_zaps_the_device_memory");
	test_read_write_iter();
	test_poll_wakes_a_reader();
	test_show_fdinfo();
	test_refusal_log(fd);
	close(fd);
	return ktap_end();
}
