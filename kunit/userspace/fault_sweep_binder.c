// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweep (fault_sweep.h) of every system call path of
 * /dev/rust_binder_pages: open, mmap (new, MAP_FIXED over another mapping),
 * mremap (a small and a 4 MiB mapping, to fresh page tables), fork, munmap,
 * reads of the mapping by the kernel, SEND (fresh pages, overwrite, zero
 * length, many pages), FREE, STATS, close, and the munmap that releases the
 * context. After each run the receiver's buffer must hold exactly what the
 * successful calls put there (a failed SEND or FREE changes nothing), STATS
 * must match, and the registration must be live exactly when the mapping is.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "rust_binder_pages.h"
#include "fault_sweep.h"

#define DEV		"/dev/rust_binder_pages"
#define REFCNT		"/sys/module/rust_binder_pages/refcnt"
#define PAGES		16
#define BIG_PAGES	1024			/* 4 MiB: the largest mapping, over 3 PMDs */
#define FAR		((uintptr_t)0x5a0000000000)	/* no page tables there yet */
#define TAG		0xb1

static long page;

/* The receiver as the test knows it: what every page must hold. */
struct bs {
	int fd, fd2, pipe[2];
	unsigned char *map, *dst;		/* the mapping, the target of a move */
	long pages;				/* of the mapping */
	unsigned char *shadow;			/* the bytes of every inserted page */
	char *inserted;
	struct rbp_stats st;			/* what STATS must say */
	unsigned char msg[16 * 4096];
	long off, len;				/* of the path's SEND or FREE */
	pid_t child;
};

static struct bs b;

static int rbp_send(int fd, long off, long len, const void *data)
{
	struct rbp_send s = { .offset = off, .len = len, .data = (uintptr_t)data };

	return ioctl(fd, RBP_IOC_SEND, &s) ? -errno : 0;
}

static int rbp_free(int fd, long off, long len)
{
	struct rbp_free f = { .offset = off, .len = len };

	return ioctl(fd, RBP_IOC_FREE, &f) ? -errno : 0;
}

static int rbp_stats(int fd, struct rbp_stats *st)
{
	return ioctl(fd, RBP_IOC_STATS, st) ? -errno : 0;
}

static void fill(unsigned char *buf, long len, int seed)
{
	for (long i = 0; i < len; i++)
		buf[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12) + 1);
}

/* Records a successful SEND of DATA in the shadow. */
static void note_send(long off, long len, const unsigned char *data)
{
	if (!len)
		return;
	memcpy(b.shadow + off, data, len);
	for (long p = off / page; p < (off + len + page - 1) / page; p++) {
		if (!b.inserted[p]) {
			b.inserted[p] = 1;
			b.st.pages_allocated++;
			b.st.pages_mapped++;
		}
	}
	b.st.bytes_sent += len;
}

/* Records a successful FREE: the pages wholly inside the range go, with their bytes. */
static void note_free(long off, long len)
{
	for (long p = (off + page - 1) / page; p < (off + len) / page; p++) {
		if (b.inserted[p]) {
			b.inserted[p] = 0;
			b.st.pages_allocated--;
			b.st.pages_mapped--;
		}
		memset(b.shadow + p * page, 0, page);
	}
}

static int send_tracked(long off, long len, const unsigned char *data)
{
	int err = rbp_send(b.fd, off, len, data);

	if (!err)
		note_send(off, len, data);
	return err;
}

/* Whether the kernel can read the byte at P (a page not inserted faults: EFAULT). */
static int readable(const unsigned char *p)
{
	char c;

	if (write(b.pipe[1], p, 1) != 1)
		return 0;
	return read(b.pipe[0], &c, 1) == 1;
}

/* The mapping at AT holds what the shadow says, and STATS agrees. */
static int verify(const unsigned char *at)
{
	struct rbp_stats st = { 0 };
	int err = rbp_stats(b.fd, &st);

	if (err)
		return sw_fail("STATS: %s", strerror(-err));
	if (memcmp(&st, &b.st, sizeof(st)))
		return sw_fail("STATS: %llu allocated %llu mapped %llu sent; want %llu %llu %llu",
			       st.pages_allocated, st.pages_mapped, st.bytes_sent,
			       b.st.pages_allocated, b.st.pages_mapped, b.st.bytes_sent);
	for (long p = 0; p < b.pages; p++) {
		const unsigned char *q = at + p * page;

		if (readable(q) != b.inserted[p])
			return sw_fail("page %ld is %s", p, b.inserted[p] ?
				       "not inserted" : "inserted, and was never sent to");
		if (b.inserted[p] && memcmp(q, b.shadow + p * page, page)) {
			for (long i = 0; i < page; i++)
				if (q[i] != b.shadow[p * page + i])
					return sw_fail("offset %ld reads %#x, wanted %#x",
						       p * page + i, q[i], b.shadow[p * page + i]);
		}
	}
	return 1;
}

/* The registration is live at AT: its contents, then a new SEND that lands there. */
static int live_at(const unsigned char *at)
{
	long off = (b.pages - 1) * page + 77;
	int err;

	if (!verify(at))
		return 0;
	fill(b.msg, 99, 77);
	err = send_tracked(off, 99, b.msg);
	if (err)
		return sw_fail("a SEND to the live mapping: %s", strerror(-err));
	return verify(at);
}

/* The context has no registration: SEND and FREE get ESRCH, STATS counts no page. */
static int unregistered(int fd)
{
	struct rbp_stats st = { 0 };
	unsigned char byte = 1;
	int e1 = rbp_send(fd, 0, 1, &byte), e2 = rbp_free(fd, 0, page), e3 = rbp_stats(fd, &st);

	if (e1 != -ESRCH || e2 != -ESRCH || e3 || st.pages_allocated || st.pages_mapped)
		return sw_fail("no mapping: SEND %d FREE %d STATS %d: %llu allocated, %llu mapped",
			       e1, e2, e3, st.pages_allocated, st.pages_mapped);
	return 1;
}

/* Whether a binder mapping starts at AT (/proc/self/maps). */
static int mapped_at(const unsigned char *at)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo == (uintptr_t)at &&
		    strstr(line, "rust_binder_pages"))
			found = 1;
	if (f)
		fclose(f);
	return found;
}

/* A receiver of PAGES pages, with data in some pages. */
static int receiver(long pages)
{
	long sends[][2] = { { 0, 4 * page }, { 10 * page + 5, 300 }, { (pages - 2) * page, page } };

	memset(&b.st, 0, sizeof(b.st));
	b.pages = pages;
	b.fd = open(DEV, O_RDWR);
	b.map = b.fd < 0 ? MAP_FAILED : mmap(NULL, pages * page, PROT_READ, MAP_SHARED, b.fd, 0);
	if (b.map == MAP_FAILED)
		return sw_fail("open and mmap: %s", strerror(errno)) - 1;
	memset(b.shadow, 0, pages * page);
	memset(b.inserted, 0, pages);
	for (unsigned int i = 0; i < 3; i++) {
		if (sends[i][0] + sends[i][1] > pages * page)
			continue;
		fill(b.msg, sends[i][1], i);
		if (send_tracked(sends[i][0], sends[i][1], b.msg))
			return sw_fail("the first SENDs: %s", strerror(errno)) - 1;
	}
	if (pages == BIG_PAGES) {
		/* One page in each 2 MiB of the mapping. */
		for (long p = 511; p < pages; p += 256) {
			fill(b.msg, 64, (int)p);
			if (send_tracked(p * page + 9, 64, b.msg))
				return sw_fail("the first SENDs: %s", strerror(errno)) - 1;
		}
	}
	return 0;
}

static int setup_receiver(void *arg)
{
	(void)arg;
	return receiver(PAGES);
}

static int setup_nothing(void *arg)
{
	(void)arg;
	return 0;
}

static int setup_open(void *arg)
{
	(void)arg;
	b.fd = open(DEV, O_RDWR);
	return b.fd < 0 ? sw_fail("open: %s", strerror(errno)) - 1 : 0;
}

static void teardown(void *arg)
{
	(void)arg;
	if (b.child > 0)
		waitpid(b.child, NULL, 0);
	b.child = 0;
	if (b.map != MAP_FAILED)
		munmap(b.map, b.pages * page);
	if (b.dst != MAP_FAILED)
		munmap(b.dst, b.pages * page);
	b.map = MAP_FAILED;
	b.dst = MAP_FAILED;
	if (b.fd >= 0)
		close(b.fd);
	if (b.fd2 >= 0)
		close(b.fd2);
	b.fd = -1;
	b.fd2 = -1;
}

/* The device works, and with every file and mapping gone nothing holds the module. */
static int usable(void *arg)
{
	FILE *f;
	int ok, n = -1;

	(void)arg;
	if (receiver(4))
		return 0;
	ok = live_at(b.map);
	teardown(NULL);
	f = fopen(REFCNT, "r");
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		fclose(f);
	if (ok && n != 0)
		return sw_fail("%s reads %d with every file closed", REFCNT, n);
	return ok;
}

/* open */
static long op_open(void *arg)
{
	(void)arg;
	b.fd = open(DEV, O_RDWR);
	return b.fd < 0 ? -errno : 0;
}

static int check_open(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	return rc < 0 || unregistered(b.fd);
}

/* mmap: a failed mmap leaves the context free to map again. */
static long op_mmap(void *arg)
{
	(void)arg;
	b.pages = PAGES;
	b.map = mmap(NULL, PAGES * page, PROT_READ, MAP_SHARED, b.fd, 0);
	return b.map == MAP_FAILED ? -errno : 0;
}

static int check_mmap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	memset(&b.st, 0, sizeof(b.st));
	memset(b.shadow, 0, PAGES * page);
	memset(b.inserted, 0, PAGES);
	if (rc < 0) {
		if (!unregistered(b.fd))
			return 0;
		b.map = mmap(NULL, PAGES * page, PROT_READ, MAP_SHARED, b.fd, 0);
		if (b.map == MAP_FAILED)
			return sw_fail("mmap after a failed one: %s", strerror(errno));
	}
	return live_at(b.map);
}

/* MAP_FIXED over the receiver: with anonymous memory, or another context's mapping. */
static long op_replace_anon(void *arg)
{
	void *p = mmap(b.map, PAGES * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int setup_replace_other(void *arg)
{
	if (setup_receiver(arg))
		return -1;
	b.fd2 = open(DEV, O_RDWR);
	return b.fd2 < 0 ? sw_fail("open: %s", strerror(errno)) - 1 : 0;
}

static long op_replace_other(void *arg)
{
	void *p = mmap(b.map, PAGES * page, PROT_READ, MAP_SHARED | MAP_FIXED, b.fd2, 0);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

/*
 * After a replacement: at most one context is registered, the one whose VMA
 * is at the address, and the old one keeps its pages exactly when it is.
 */
static int check_replaced(void *arg, long rc, int injected)
{
	int vma = mapped_at(b.map), new_live = 0, err;
	unsigned char byte = 5;

	(void)arg;
	(void)injected;
	if (b.fd2 >= 0) {
		err = rbp_send(b.fd2, 0, 1, &byte);
		if (err && err != -ESRCH)
			return sw_fail("the new context's SEND: %s", strerror(-err));
		new_live = !err;
		if (new_live && (!vma || b.map[0] != byte))
			return sw_fail("the new context's SEND did not land in its mapping");
	}
	if (rc == 0 && (b.fd2 >= 0 ? !new_live : vma))
		return sw_fail("MAP_FIXED succeeded, yet the old mapping is still registered");
	if (new_live || !vma) {
		b.st.pages_allocated = 0;
		b.st.pages_mapped = 0;
		return unregistered(b.fd);
	}
	return live_at(b.map);
}

/* mremap to fresh page tables far away: copy_vma() and move_page_tables() can fail. */
static int setup_mremap(long pages)
{
	uintptr_t far = FAR + (pages == BIG_PAGES ? 5 * page : 0);

	if (receiver(pages))
		return -1;
	b.dst = mmap((void *)far, pages * page, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (b.dst != (void *)far)
		return sw_fail("reserving the target: %s", strerror(errno)) - 1;
	return 0;
}

static int setup_mremap_small(void *arg)
{
	(void)arg;
	return setup_mremap(PAGES);
}

static int setup_mremap_big(void *arg)
{
	(void)arg;
	return setup_mremap(BIG_PAGES);
}

static long op_mremap(void *arg)
{
	void *p = mremap(b.map, b.pages * page, b.pages * page, MREMAP_MAYMOVE | MREMAP_FIXED,
			 b.dst);

	(void)arg;
	return p == MAP_FAILED ? -errno : 0;
}

static int check_mremap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == 0) {
		if (mapped_at(b.map))
			return sw_fail("the old range is still mapped after the move");
		b.map = MAP_FAILED;
		return live_at(b.dst);
	}
	/* The move failed: the old mapping keeps its pages and its registration. */
	if (!mapped_at(b.map))
		return sw_fail("the receiver's mapping is gone after a failed mremap");
	if (mapped_at(b.dst))
		return sw_fail("a binder VMA is left at the target of a failed mremap");
	return live_at(b.map);
}

/* fork: the child (which does not inherit the mapping) sends. */
static long op_fork(void *arg)
{
	(void)arg;
	b.child = sw_fork();
	if (b.child == 0) {
		fill(b.msg, 500, 55);
		_exit(rbp_send(b.fd, 8 * page - 100, 500, b.msg) ? 1 : 0);
	}
	return b.child < 0 ? -errno : 0;
}

static int check_fork(void *arg, long rc, int injected)
{
	int status = -1;

	(void)arg;
	(void)injected;
	if (rc == 0) {
		waitpid(b.child, &status, 0);
		b.child = 0;
		if (!WIFEXITED(status) || WEXITSTATUS(status))
			return sw_fail("the child's SEND: status %#x", status);
		fill(b.msg, 500, 55);
		note_send(8 * page - 100, 500, b.msg);
	}
	return live_at(b.map);
}

/* munmap: the registration goes with the mapping, and only then. */
static long op_munmap(void *arg)
{
	(void)arg;
	return munmap(b.map, PAGES * page) ? -errno : 0;
}

static int check_munmap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == 0) {
		b.map = MAP_FAILED;
		return unregistered(b.fd);
	}
	return live_at(b.map);
}

/* The kernel reads the mapping (a pipe write from it); a short write counts as EFAULT. */
static long op_kernel_read(void *arg)
{
	ssize_t n = write(b.pipe[1], b.map, 4 * page);

	(void)arg;
	b.len = n < 0 ? 0 : n;
	return n < 0 ? -errno : n == 4 * page ? 0 : -EFAULT;
}

static int check_kernel_read(void *arg, long rc, int injected)
{
	unsigned char buf[4096];
	long done, n;

	(void)arg;
	(void)rc;
	(void)injected;
	for (done = 0; done < b.len; done += n) {
		n = read(b.pipe[0], buf, b.len - done < page ? b.len - done : page);
		if (n <= 0 || memcmp(buf, b.shadow + done, n))
			return sw_fail("the pipe holds other bytes than the mapping at %ld", done);
	}
	return live_at(b.map);
}

/* SEND, FREE, STATS: a failed call changes nothing. */
static long op_send(void *arg)
{
	(void)arg;
	fill(b.msg, b.len, TAG);
	return rbp_send(b.fd, b.off, b.len, b.msg);
}

static int check_send(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == 0)
		note_send(b.off, b.len, b.msg);
	return live_at(b.map);
}

static int setup_send_fresh(void *arg)
{
	b.off = 5 * page + 100;
	b.len = 2 * page + 50;
	return setup_receiver(arg);
}

static int setup_send_overwrite(void *arg)
{
	b.off = 50;
	b.len = 3 * page;
	return setup_receiver(arg);
}

static int setup_send_zero(void *arg)
{
	b.off = 6 * page + 3;
	b.len = 0;
	return setup_receiver(arg);
}

static int setup_send_many(void *arg)
{
	b.off = 3 * page + 1;
	b.len = 12 * page;
	return setup_receiver(arg);
}

static int setup_free(void *arg)
{
	b.off = page - 1;
	b.len = 2 * page + 2;
	return setup_receiver(arg);
}

static long op_free(void *arg)
{
	(void)arg;
	return rbp_free(b.fd, b.off, b.len);
}

static int check_free(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == 0)
		note_free(b.off, b.len);
	return live_at(b.map);
}

static long op_stats(void *arg)
{
	struct rbp_stats st;

	(void)arg;
	return rbp_stats(b.fd, &st);
}

static int check_live(void *arg, long rc, int injected)
{
	(void)arg;
	(void)rc;
	(void)injected;
	return live_at(b.map);
}

/* close with the mapping alive: the mapping keeps the context. */
static long op_close(void *arg)
{
	(void)arg;
	b.fd2 = b.fd;
	b.fd = -1;
	return close(b.fd2) ? -errno : 0;
}

static int check_close(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	b.fd2 = -1;
	if (rc)
		return sw_fail("close: %s", strerror(-rc));
	for (long p = 0; p < PAGES; p++)
		if (b.inserted[p] && memcmp(b.map + p * page, b.shadow + p * page, page))
			return sw_fail("page %ld changed after close", p);
	return 1;
}

/* munmap of the last user of a closed file: the context is released. */
static int setup_last_munmap(void *arg)
{
	if (setup_receiver(arg))
		return -1;
	close(b.fd);
	b.fd = -1;
	return 0;
}

static int check_last_munmap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == 0) {
		b.map = MAP_FAILED;
		return 1;
	}
	return check_close(arg, 0, injected);
}

static const struct sw_path paths[] = {
	{ "binder_open", setup_nothing, op_open, check_open, teardown, usable, 0,
	  { ENOMEM, EFAULT }, 0 },
	{ "binder_mmap", setup_open, op_mmap, check_mmap, teardown, usable, 0,
	  { ENOMEM, EAGAIN }, 0 },
	{ "binder_mmap_fixed_over_by_anon", setup_receiver, op_replace_anon, check_replaced,
	  teardown, usable, 0, { ENOMEM }, 0 },
	{ "binder_mmap_fixed_over_by_other", setup_replace_other, op_replace_other,
	  check_replaced, teardown, usable, 0, { ENOMEM, EAGAIN }, 0 },
	{ "binder_mremap_move", setup_mremap_small, op_mremap, check_mremap, teardown, usable,
	  0, { ENOMEM }, SW_MOVES },
	{ "binder_mremap_move_4mib", setup_mremap_big, op_mremap, check_mremap, teardown,
	  usable, 0, { ENOMEM }, SW_MOVES },
	{ "binder_fork", setup_receiver, op_fork, check_fork, teardown, usable, 0,
	  { ENOMEM, EAGAIN }, 0 },
	{ "binder_munmap", setup_receiver, op_munmap, check_munmap, teardown, usable, 0,
	  { ENOMEM }, 0 },
	{ "binder_kernel_reads_mapping", setup_receiver, op_kernel_read, check_kernel_read,
	  teardown, usable, 0, { EFAULT, ENOMEM }, 0 },
	{ "binder_send_fresh_pages", setup_send_fresh, op_send, check_send, teardown, usable,
	  0, { ENOMEM, EFAULT }, 0 },
	{ "binder_send_overwrite", setup_send_overwrite, op_send, check_send, teardown,
	  usable, 0, { ENOMEM, EFAULT }, 0 },
	{ "binder_send_zero_length", setup_send_zero, op_send, check_send, teardown, usable,
	  0, { ENOMEM, EFAULT }, 0 },
	{ "binder_send_12_pages", setup_send_many, op_send, check_send, teardown, usable, 0,
	  { ENOMEM, EFAULT }, 0 },
	{ "binder_free", setup_free, op_free, check_free, teardown, usable, 0,
	  { ENOMEM, EFAULT }, 0 },
	{ "binder_stats", setup_receiver, op_stats, check_live, teardown, usable, 0,
	  { EFAULT }, 0 },
	{ "binder_close_while_mapped", setup_receiver, op_close, check_close, teardown,
	  usable, 0, { ENOMEM }, 0 },
	{ "binder_munmap_releases_context", setup_last_munmap, op_munmap, check_last_munmap,
	  teardown, usable, 0, { ENOMEM }, 0 },
};

#define NR_PATHS ARRAY_SIZE(paths)

static void body(void)
{
	b.fd = -1;
	b.fd2 = -1;
	b.map = MAP_FAILED;
	b.dst = MAP_FAILED;
	b.shadow = calloc(BIG_PAGES, page);
	b.inserted = calloc(BIG_PAGES, 1);
	if (!b.shadow || !b.inserted || pipe2(b.pipe, O_NONBLOCK)) {
		printf("    # out of memory or pipes\n");
		return;
	}
	for (unsigned int i = 0; i < NR_PATHS; i++)
		sw_run(&paths[i], NULL);
	sw_table("rust_binder_pages");
}

int main(void)
{
	page = sysconf(_SC_PAGESIZE);
	return sw_main("rmp_fault_sweep_binder", NR_PATHS, body);
}
