// SPDX-License-Identifier: GPL-2.0
/*
 * Real Binder transactions against a Binder driver, C Binder (binder_linux.ko) or Rust Binder
 * (rust_binder.ko), on the UAPI only (linux/android/binder.h, binderfs.h). One boot per driver
 * (scripts/binder.sh): both register the "binder" file system.
 *
 *	binder_battery <driver>		c, rust or another Rust Binder (e.g. ported)
 *
 * Prints one KTAP suite, rmp_binder_<driver>. Every case runs under a watchdog: a protocol
 * mistake that leaves a process waiting fails the case (and the suite) instead of hanging.
 * Where the drivers legitimately answer differently, the case prints each driver's expected
 * answer and the reason (unmap_answer() below). Any driver but "c" is a Rust Binder.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

#include "../userspace/ktap.h"

#define FS_DIR		"/dev/binderfs"
#define DEV_NAME	"rmp-battery"
#define MAP_SIZE	(1024 * 1024)
#define SZ_4M		(4 * 1024 * 1024)	/* the most buffer space a driver uses */
#define PAGE		4096
#define SHRINKER_DIR	"/sys/kernel/debug/shrinker"
/* Both drivers call shrinker_alloc(0, "android-binder"); its directory adds "-<id>". */
#define SHRINKER_NAME	"android-binder-"
#define WATCHDOG_SECS	60
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Transaction codes the receiver understands. */
enum {
	CODE_DATA = 1,		/* check the bytes, free the buffer, reply */
	CODE_HOLD,		/* the same, but keep the buffer until the next CODE_DATA */
	CODE_UNMAP,		/* unmap the receiver's mapping, then reply */
	CODE_EXIT,		/* reply, then exit */
	CODE_ONEWAY_QUERY,	/* reply with the oneway transactions seen so far */
	CODE_FD,		/* reply with a pipe's read end (BINDER_TYPE_FD) */
	CODE_FD_IN,		/* check the struct fd_msg sent, write FD_BYTES into its pipe */
	CODE_PROBE,		/* read the pages at the __u32 offsets sent; reply with faults */
	CODE_ONEWAY_HOLD,	/* from now on keep a oneway buffer instead of freeing it */
	CODE_ONEWAY_RELEASE,	/* free the kept oneway buffer, stop keeping them */
	CODE_SG,		/* check the struct sg_msg sent and its two buffers */
	CODE_FDA,		/* check the struct fda_msg sent, write FD_BYTES into its pipes */
	CODE_ONEWAY_BASE = 0x1000, /* + n: the n-th oneway transaction */
};

/* Bits of the receiver's reply. */
#define R_IN_MAP	0x1	/* the buffer lay inside the receiver's mapping */
#define R_BYTES_OK	0x2	/* and held the bytes sent */
#define R_UNMAPPED	0x4	/* delivered after the receiver unmapped: not read */
#define R_ONEWAY_BAD	0x8	/* a oneway transaction out of order, or not as sent */
#define R_FD_OK		0x10	/* CODE_FD_IN: every check of the descriptor passed */
#define R_PROBED	0x20	/* CODE_PROBE: the offset field holds the pages that faulted */
#define R_SIGBUS	0x40	/* reading the buffer raised SIGBUS */
#define R_SG_OK		0x80	/* CODE_SG: every check of the buffers passed */
#define R_FDA_OK	0x100	/* CODE_FDA: every check of the descriptors passed */

/* What the pipe of a CODE_FD reply holds. */
#define FD_BYTES	"rmp-binder-fd-ok"

struct reply {
	__u32 status;
	__u32 offset;	/* of the buffer in the receiver's mapping */
};

/* A CODE_FD_IN transaction: the object (offsets array: 0), and what the sender's fstat() saw. */
struct fd_msg {
	struct binder_fd_object fo;
	__u64 ino;
	__u64 dev;
};

/*
 * A CODE_SG transaction (BC_TRANSACTION_SG): two buffer objects after an 8-byte header, a
 * parent buffer A and a child B whose address the driver writes into A at SG_FIXUP. A spans
 * four pages and the fixup lies on its third, so the driver copies A in pieces around the
 * fixup, each across page boundaries. The header keeps the parent off offset 0, which C
 * Binder cannot fix up in: binder_validate_fixup() takes a last fixup object at offset 0 for
 * "none yet" (libbinder's parcels never start with an object).
 */
#define SG_A_LEN	(3 * PAGE + 100)
#define SG_B_LEN	5000
#define SG_FIXUP	(2 * PAGE + 8)
#define SG_A_SEED	11
#define SG_B_SEED	13
#define ALIGN8(n)	(((n) + 7) & ~(size_t)7)

struct sg_msg {
	__u64 header;
	struct binder_buffer_object a;
	struct binder_buffer_object b;
};

/* The offsets array of a struct sg_msg or struct fda_msg: its two objects. */
#define MSG_OFFSETS(type, second) { offsetof(type, a), offsetof(type, second) }

/*
 * A CODE_FDA transaction: after an 8-byte header (see struct sg_msg), a buffer object holding
 * struct fda_payload, and an fd array object naming its two descriptors (parent 0, at offset
 * 0). The payload also carries what the sender's fstat() saw of each.
 */
#define FDA_FDS		2

struct fda_payload {
	__u32 fd[FDA_FDS];
	__u64 ino[FDA_FDS];
	__u64 dev[FDA_FDS];
};

struct fda_msg {
	__u64 header;
	struct binder_buffer_object a;
	struct binder_fd_array_object f;
};

static const char *driver;
static char dev_path[64];
static const char *current_case = "(setup)";

/* ------------------------------------------------------------------------------------------ */
/* Watchdog: a case that does not finish in time fails, with every process of the battery. */

static void on_alarm(int sig)
{
	char buf[256];
	int n;

	(void)sig;
	n = snprintf(buf, sizeof(buf),
		     "    # case %s did not finish in %d s (a protocol mistake or a hang)\n"
		     "    not ok %d %s\n", current_case, WATCHDOG_SECS, ktap_run + 1, current_case);
	if (write(STDOUT_FILENO, buf, n) < 0)
		_exit(2);
	kill(0, SIGKILL);
	_exit(1);
}

static void arm(const char *name)
{
	current_case = name;
	alarm(WATCHDOG_SECS);
}

/* Milliseconds of the monotonic clock. */
static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------------------------ */
/* Binder plumbing. */

struct bproc {
	int fd;
	char *map;
	size_t size;
};

static int bopen(struct bproc *p, size_t size)
{
	p->fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (p->fd < 0)
		return -1;
	p->size = size;
	p->map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, p->fd, 0);
	if (p->map == MAP_FAILED) {
		close(p->fd);
		return -1;
	}
	return 0;
}

static int bwr(int fd, const void *w, size_t wsz, void *r, size_t rsz, size_t *rdone)
{
	struct binder_write_read bwr = {
		.write_size = wsz,
		.write_buffer = (uintptr_t)w,
		.read_size = rsz,
		.read_buffer = (uintptr_t)r,
	};
	int ret;

	do {
		ret = ioctl(fd, BINDER_WRITE_READ, &bwr);
	} while (ret < 0 && errno == EINTR);
	if (rdone)
		*rdone = bwr.read_consumed;
	return ret;
}

static int bc_simple(int fd, __u32 cmd)
{
	return bwr(fd, &cmd, sizeof(cmd), NULL, 0, NULL);
}

/* Byte I of the pattern of SEED: no period that divides a page, so a misplaced page shows. */
static __u8 pattern_byte(size_t i, __u32 seed)
{
	return (__u8)(i * 131 + (i >> 8) * 29 + seed * 7 + 1);
}

static void pattern(__u8 *buf, size_t n, __u32 seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = pattern_byte(i, seed);
}

static int pattern_ok(const __u8 *buf, size_t n, __u32 seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != pattern_byte(i, seed))
			return 0;
	return 1;
}

static int in_map(const struct bproc *p, uintptr_t ptr, size_t n)
{
	uintptr_t lo = (uintptr_t)p->map;

	return ptr >= lo && ptr <= lo + p->size && n <= lo + p->size - ptr;
}

/* Appends a command and its payload to a write buffer. */
static size_t put(__u8 *buf, size_t at, __u32 cmd, const void *arg, size_t n)
{
	memcpy(buf + at, &cmd, 4);
	memcpy(buf + at + 4, arg, n);
	return at + 4 + n;
}

/*
 * Reads of a receiver's buffer space that may fault: a page the shrinker took back is gone
 * from the mapping, and touching it raises SIGBUS (neither driver's mapping has a fault
 * handler that maps one). While bus_armed is set, SIGBUS jumps back to the reader.
 */
static sigjmp_buf bus_jmp;
static int bus_armed;

static void on_sigbus(int sig)
{
	if (__atomic_load_n(&bus_armed, __ATOMIC_SEQ_CST))
		siglongjmp(bus_jmp, 1);
	/* Not ours: the default action, when the access faults again. */
	signal(sig, SIG_DFL);
}

/* Whether every page of [P, P + N) can be read: 0 if one raised SIGBUS. */
static int readable(const __u8 *p, size_t n)
{
	size_t i;

	if (sigsetjmp(bus_jmp, 1)) {
		__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
		return 0;
	}
	__atomic_store_n(&bus_armed, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < n; i += PAGE)
		__atomic_load_n(p + i, __ATOMIC_RELAXED);
	if (n)
		__atomic_load_n(p + n - 1, __ATOMIC_RELAXED);
	__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
	return 1;
}

/* The open file descriptors of this process. */
static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own */
}

/*
 * A CODE_FD_IN transaction's checks, in the receiver: the object is where the offsets array
 * says, of type BINDER_TYPE_FD, its descriptor new in this process (one more open than
 * BASE_FDS), close-on-exec, the file the sender's fstat() saw (same inode and device, a FIFO);
 * FD_BYTES is written through it and it is closed, which leaves BASE_FDS open. Returns 0, or
 * the number of the check that failed.
 */
static __u32 check_fd_in(const struct binder_transaction_data *tr, int base_fds)
{
	struct fd_msg m;
	binder_size_t off;
	struct stat st;
	int fd;

	if (tr->data_size != sizeof(m) || tr->offsets_size != sizeof(off))
		return 1;
	memcpy(&m, (void *)(uintptr_t)tr->data.ptr.buffer, sizeof(m));
	memcpy(&off, (void *)(uintptr_t)tr->data.ptr.offsets, sizeof(off));
	if (off != 0 || m.fo.hdr.type != BINDER_TYPE_FD)
		return 2;
	fd = m.fo.fd;
	if (fstat(fd, &st) || st.st_ino != m.ino || st.st_dev != m.dev || !S_ISFIFO(st.st_mode))
		return 3;
	if (!(fcntl(fd, F_GETFD) & FD_CLOEXEC))
		return 4;
	if (count_fds() != base_fds + 1)
		return 5;
	if (write(fd, FD_BYTES, sizeof(FD_BYTES)) != sizeof(FD_BYTES))
		return 6;
	if (close(fd) || count_fds() != base_fds)
		return 7;
	return 0;
}

/* Whether BUF[FROM..TO) holds the pattern of SEED (as pattern() wrote it from index 0). */
static int pattern_range_ok(const __u8 *buf, size_t from, size_t to, __u32 seed)
{
	size_t i;

	for (i = from; i < to; i++)
		if (buf[i] != pattern_byte(i, seed))
			return 0;
	return 1;
}

/*
 * A CODE_SG transaction's checks, in the receiver: both objects are buffer objects of the
 * lengths sent, their buffers lie in its mapping P (the driver rewrote the addresses), A holds
 * its bytes but for the 8 at SG_FIXUP, which hold B's new address, and B holds its bytes.
 * Returns 0, or the number of the check that failed.
 */
static __u32 check_sg(const struct bproc *p, const struct binder_transaction_data *tr)
{
	struct sg_msg m;
	const __u8 *a, *b;
	__u64 ptr;

	if (tr->data_size != sizeof(m) || tr->offsets_size != 2 * sizeof(binder_size_t))
		return 1;
	memcpy(&m, (void *)(uintptr_t)tr->data.ptr.buffer, sizeof(m));
	if (m.a.hdr.type != BINDER_TYPE_PTR || m.b.hdr.type != BINDER_TYPE_PTR ||
	    m.a.length != SG_A_LEN || m.b.length != SG_B_LEN)
		return 2;
	if (!in_map(p, m.a.buffer, SG_A_LEN) || !in_map(p, m.b.buffer, SG_B_LEN))
		return 3;
	a = (const __u8 *)(uintptr_t)m.a.buffer;
	b = (const __u8 *)(uintptr_t)m.b.buffer;
	if (!readable(a, SG_A_LEN) || !readable(b, SG_B_LEN))
		return 4;
	memcpy(&ptr, a + SG_FIXUP, sizeof(ptr));
	if (ptr != m.b.buffer)
		return 5;
	if (!pattern_range_ok(a, 0, SG_FIXUP, SG_A_SEED) ||
	    !pattern_range_ok(a, SG_FIXUP + sizeof(ptr), SG_A_LEN, SG_A_SEED))
		return 6;
	if (!pattern_ok(b, SG_B_LEN, SG_B_SEED))
		return 7;
	return 0;
}

/*
 * A CODE_FDA transaction's checks, in the receiver: a buffer object and an fd array object;
 * the buffer, in its mapping P, now holds descriptors new in this process (FDA_FDS more open
 * than BASE_FDS), close-on-exec, of the files the sender's fstat() saw (FIFOs). FD_BYTES is
 * written through each; they are not closed here: the drivers close an fd array's descriptors
 * when the buffer is freed (C: binder_transaction_buffer_release(); Rust: close_on_free).
 * Returns 0, or the number of the check that failed.
 */
static __u32 check_fda(const struct bproc *p, const struct binder_transaction_data *tr,
		       int base_fds)
{
	struct fda_payload pl;
	struct fda_msg m;
	struct stat st;
	int i;

	if (tr->data_size != sizeof(m) || tr->offsets_size != 2 * sizeof(binder_size_t))
		return 1;
	memcpy(&m, (void *)(uintptr_t)tr->data.ptr.buffer, sizeof(m));
	if (m.a.hdr.type != BINDER_TYPE_PTR || m.f.hdr.type != BINDER_TYPE_FDA ||
	    m.f.num_fds != FDA_FDS || m.a.length != sizeof(pl))
		return 2;
	if (!in_map(p, m.a.buffer, sizeof(pl)) ||
	    !readable((const __u8 *)(uintptr_t)m.a.buffer, sizeof(pl)))
		return 3;
	memcpy(&pl, (void *)(uintptr_t)m.a.buffer, sizeof(pl));
	for (i = 0; i < FDA_FDS; i++) {
		if (fstat(pl.fd[i], &st) || st.st_ino != pl.ino[i] || st.st_dev != pl.dev[i] ||
		    !S_ISFIFO(st.st_mode))
			return 4;
		if (!(fcntl(pl.fd[i], F_GETFD) & FD_CLOEXEC))
			return 5;
	}
	if (count_fds() != base_fds + FDA_FDS)
		return 6;
	for (i = 0; i < FDA_FDS; i++)
		if (write(pl.fd[i], FD_BYTES, sizeof(FD_BYTES)) != sizeof(FD_BYTES))
			return 7;
	return 0;
}

/*
 * The receiver's answer to a transaction whose buffer lies in its mapping P: R_SIGBUS if
 * reading it faulted; for CODE_FD_IN, check_fd_in()'s; for CODE_PROBE, R_PROBED and how many
 * of the pages at the offsets sent faulted; otherwise R_BYTES_OK if it holds the pattern.
 */
static void check_buffer(const struct bproc *p, const struct binder_transaction_data *tr,
			 int base_fds, struct reply *rep)
{
	const __u8 *buf = (const __u8 *)(uintptr_t)tr->data.ptr.buffer;
	__u32 at, i, faults = 0;

	rep->status = R_IN_MAP;
	rep->offset = tr->data.ptr.buffer - (uintptr_t)p->map;
	if (!readable(buf, tr->data_size)) {
		rep->status |= R_SIGBUS;
	} else if (tr->code == CODE_FD_IN) {
		rep->offset = check_fd_in(tr, base_fds);
		if (!rep->offset)
			rep->status |= R_FD_OK;
	} else if (tr->code == CODE_SG) {
		rep->offset = check_sg(p, tr);
		if (!rep->offset)
			rep->status |= R_SG_OK;
	} else if (tr->code == CODE_FDA) {
		rep->offset = check_fda(p, tr, base_fds);
		if (!rep->offset)
			rep->status |= R_FDA_OK;
	} else if (tr->code == CODE_PROBE) {
		for (i = 0; i + 4 <= tr->data_size; i += 4) {
			memcpy(&at, buf + i, 4);
			faults += at >= p->size || !readable((__u8 *)p->map + at, 1);
		}
		rep->status |= R_PROBED;
		rep->offset = faults;
	} else if (pattern_ok(buf, tr->data_size, tr->data_size)) {
		rep->status |= R_BYTES_OK;
	}
}

/* How a receiver runs. */
struct serve_opts {
	size_t map_size;	/* of its mapping; MAP_SIZE if 0 */
	int accept_fds;		/* its node (handle 0) accepts file descriptors */
	int *unmapping;		/* if set, shared memory it sets to 1 just before it unmaps */
};

/*
 * Makes the process of FD the context manager. The previous receiver may still hold the place:
 * it has exited, but a driver releases a process's Binder state in a work item after the file
 * is released (C: binder_deferred_release(); Rust: Process::deferred_release()), so EBUSY is
 * retried for up to 5 s.
 */
static int become_manager(int fd, int accept_fds)
{
	struct flat_binder_object mgr = { .hdr.type = BINDER_TYPE_BINDER };
	int tries, ret = -1;

	if (accept_fds)
		mgr.flags = FLAT_BINDER_FLAG_ACCEPTS_FDS;
	for (tries = 0; tries < 500; tries++) {
		ret = accept_fds ? ioctl(fd, BINDER_SET_CONTEXT_MGR_EXT, &mgr) :
			ioctl(fd, BINDER_SET_CONTEXT_MGR, 0);
		if (!ret || errno != EBUSY)
			break;
		usleep(10000);
	}
	return ret;
}

/*
 * The receiver: context manager of the device, one looper thread, answering every
 * transaction until CODE_EXIT. Writes a byte into READY once it is the context manager.
 */
static int serve(int ready, const struct serve_opts *o)
{
	struct bproc p;
	__u32 rbuf[256];
	binder_uintptr_t held = 0, held_oneway = 0;
	int unmapped = 0, oneway_bad = 0, oneway_hold = 0, base_fds;
	__u32 oneway_seen = 0;

	signal(SIGBUS, on_sigbus);
	if (bopen(&p, o->map_size ? o->map_size : MAP_SIZE) ||
	    become_manager(p.fd, o->accept_fds) || bc_simple(p.fd, BC_ENTER_LOOPER))
		return 10;
	base_fds = count_fds();
	if (write(ready, "r", 1) != 1)
		return 11;
	for (;;) {
		size_t done, off = 0;

		if (bwr(p.fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			return 12;
		while (off + 4 <= done) {
			__u8 out[256];
			size_t n = 0;
			__u32 cmd;
			struct binder_transaction_data tr, re = { 0 };
			struct reply rep = { 0 };
			struct binder_fd_object fo = { 0 };
			binder_size_t fo_off = 0;
			__u8 *buf;
			int pfd[2];

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd != BR_TRANSACTION)
				continue;
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			buf = (__u8 *)(uintptr_t)tr.data.ptr.buffer;
			if (tr.flags & TF_ONE_WAY) {
				/*
				 * No reply: check the order and the bytes, free the buffer, or
				 * keep it (CODE_ONEWAY_HOLD): the driver then delivers no other
				 * oneway transaction to the node until it is freed.
				 */
				if (tr.code != CODE_ONEWAY_BASE + oneway_seen ||
				    !in_map(&p, tr.data.ptr.buffer, tr.data_size) ||
				    !readable(buf, tr.data_size) ||
				    !pattern_ok(buf, tr.data_size, tr.data_size))
					oneway_bad = 1;
				oneway_seen++;
				if (oneway_hold && !held_oneway) {
					held_oneway = tr.data.ptr.buffer;
					continue;
				}
				n = put(out, 0, BC_FREE_BUFFER, &tr.data.ptr.buffer,
					sizeof(tr.data.ptr.buffer));
				if (bwr(p.fd, out, n, NULL, 0, NULL))
					return 15;
				continue;
			}
			if (unmapped) {
				/* Delivered into pages we no longer map: not read, not freed. */
				rep.status = R_UNMAPPED;
			} else {
				if (in_map(&p, tr.data.ptr.buffer, tr.data_size))
					check_buffer(&p, &tr, base_fds, &rep);
				/* A held buffer is freed with the next transaction. */
				if (held)
					n = put(out, n, BC_FREE_BUFFER, &held, sizeof(held));
				held = 0;
				if (tr.code == CODE_HOLD)
					held = tr.data.ptr.buffer;
				else
					n = put(out, n, BC_FREE_BUFFER, &tr.data.ptr.buffer,
						sizeof(tr.data.ptr.buffer));
				/*
				 * The drivers close an fd array's descriptors when its buffer
				 * is freed, as task work on our way back to userspace: free it
				 * in a write of its own, so that they are closed before the
				 * reply wakes the sender.
				 */
				if (tr.code == CODE_FDA) {
					if (bwr(p.fd, out, n, NULL, 0, NULL))
						return 17;
					n = 0;
				}
			}
			if (tr.code == CODE_ONEWAY_QUERY) {
				rep.offset = oneway_seen;
				if (oneway_bad)
					rep.status |= R_ONEWAY_BAD;
			}
			if (tr.code == CODE_ONEWAY_HOLD)
				oneway_hold = 1;
			if (tr.code == CODE_ONEWAY_RELEASE) {
				/* Freed before the reply: the sender may count on the space. */
				oneway_hold = 0;
				rep.offset = !!held_oneway;
				if (held_oneway)
					n = put(out, n, BC_FREE_BUFFER, &held_oneway,
						sizeof(held_oneway));
				held_oneway = 0;
			}
			/* Unmapped before the reply: the sender goes on once it is done. */
			if (tr.code == CODE_UNMAP) {
				if (o->unmapping)
					__atomic_store_n(o->unmapping, 1, __ATOMIC_SEQ_CST);
				if (munmap(p.map, p.size))
					return 14;
				unmapped = 1;
			}
			re.data_size = sizeof(rep);
			re.data.ptr.buffer = (uintptr_t)&rep;
			if (tr.code == CODE_FD) {
				if (pipe(pfd) || write(pfd[1], FD_BYTES, sizeof(FD_BYTES)) !=
				    sizeof(FD_BYTES))
					return 16;
				fo.hdr.type = BINDER_TYPE_FD;
				fo.fd = pfd[0];
				re.data_size = sizeof(fo);
				re.data.ptr.buffer = (uintptr_t)&fo;
				re.offsets_size = sizeof(fo_off);
				re.data.ptr.offsets = (uintptr_t)&fo_off;
			}
			n = put(out, n, BC_REPLY, &re, sizeof(re));
			if (bwr(p.fd, out, n, NULL, 0, NULL))
				return 13;
			if (tr.code == CODE_FD) {
				/* The driver holds the file now: our descriptors can go. */
				close(pfd[0]);
				close(pfd[1]);
			}
			if (tr.code == CODE_EXIT)
				return 0;
		}
	}
}

struct server {
	pid_t pid;
};

/* Starts a receiver as O says (the defaults if O is NULL). */
static int server_start_opts(struct server *s, const struct serve_opts *o)
{
	static const struct serve_opts defaults;
	int pipefd[2];
	char c;

	if (pipe(pipefd))
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		close(pipefd[0]);
		_exit(serve(pipefd[1], o ? o : &defaults));
	}
	close(pipefd[1]);
	if (read(pipefd[0], &c, 1) != 1) {
		close(pipefd[0]);
		waitpid(s->pid, NULL, 0);
		/* It exited before it was ready (its status says where: serve()). */
		errno = ECHILD;
		return -1;
	}
	close(pipefd[0]);
	return 0;
}

static int server_start(struct server *s)
{
	return server_start_opts(s, NULL);
}

/* Waits for the server; returns its exit status, or -1 if it did not exit normally. */
static int server_wait(struct server *s)
{
	int st;

	if (waitpid(s->pid, &st, 0) != s->pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The receiver (forked, the context manager, run as O says or by default) and the sender
 * (this process, its own mapping). 0 when both are up; otherwise -1 with errno set, the
 * receiver killed and reaped if it had started, and, if NAME is given, the case NAME reported
 * as failed.
 */
static int pair_start_opts(struct server *s, struct bproc *c, const char *name,
			   const struct serve_opts *o)
{
	const char *who = "receiver";
	int err = 0;

	if (server_start_opts(s, o)) {
		err = errno;
	} else if (bopen(c, MAP_SIZE)) {
		err = errno;
		who = "sender";
		kill(s->pid, SIGKILL);
		server_wait(s);
	}
	if (err && name)
		ktap_check(0, name, "the %s did not start: %s", who, strerror(err));
	errno = err;
	return err ? -1 : 0;
}

static int pair_start(struct server *s, struct bproc *c, const char *name)
{
	return pair_start_opts(s, c, name, NULL);
}

/* A transaction as the sender makes it: its data, and the offsets of objects in it. */
struct txn {
	__u32 code;
	__u32 flags;
	const void *data;
	size_t size;
	const binder_size_t *offsets;
	size_t offsets_size;
	size_t buffers_size;	/* not 0: sent with BC_TRANSACTION_SG */
};

/* The last reply transact() read, and its first bytes (if it lay in the sender's mapping). */
static struct binder_transaction_data last_reply;
static __u8 last_reply_data[64];

/*
 * A transaction T to handle 0. Returns the BR_ code that ended it (BR_REPLY, BR_DEAD_REPLY,
 * BR_FAILED_REPLY, ..., BR_TRANSACTION_COMPLETE for a oneway one) or 0 on an ioctl error;
 * with BR_REPLY, *REP holds the receiver's answer and *REPLY_IN_MAP whether the reply's buffer
 * lay in our mapping, which is then freed.
 */
static __u32 transact_txn(struct bproc *c, const struct txn *t, struct reply *rep,
			  int *reply_in_map)
{
	struct binder_transaction_data out = {
		.code = t->code, .flags = t->flags, .data_size = t->size,
		.offsets_size = t->offsets_size,
	};
	struct binder_transaction_data_sg sg;
	__u8 wbuf[4 + sizeof(sg)];
	__u32 rbuf[128];
	size_t wn;

	out.target.handle = 0;
	out.data.ptr.buffer = (uintptr_t)t->data;
	out.data.ptr.offsets = (uintptr_t)t->offsets;
	sg.transaction_data = out;
	sg.buffers_size = t->buffers_size;
	wn = t->buffers_size ? put(wbuf, 0, BC_TRANSACTION_SG, &sg, sizeof(sg)) :
		put(wbuf, 0, BC_TRANSACTION, &out, sizeof(out));
	*reply_in_map = 0;
	if (bwr(c->fd, wbuf, wn, NULL, 0, NULL))
		return 0;
	for (;;) {
		size_t done, off = 0;

		if (bwr(c->fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			return 0;
		while (off + 4 <= done) {
			__u32 cmd;
			struct binder_transaction_data tr;
			__u8 fr[4 + sizeof(binder_uintptr_t)];

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			switch (cmd) {
			case BR_TRANSACTION_COMPLETE:
				/* A oneway transaction is done when it is queued. */
				if (t->flags & TF_ONE_WAY)
					return cmd;
				continue;
			case BR_NOOP:
			case BR_SPAWN_LOOPER:
				continue;
			case BR_REPLY:
				memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
				last_reply = tr;
				memset(last_reply_data, 0, sizeof(last_reply_data));
				if (in_map(c, tr.data.ptr.buffer, tr.data_size) &&
				    tr.data_size <= sizeof(last_reply_data))
					memcpy(last_reply_data,
					       (void *)(uintptr_t)tr.data.ptr.buffer, tr.data_size);
				*reply_in_map = in_map(c, tr.data.ptr.buffer, tr.data_size) &&
					tr.data_size == sizeof(*rep);
				if (*reply_in_map)
					memcpy(rep, (void *)(uintptr_t)tr.data.ptr.buffer,
					       sizeof(*rep));
				size_t fn = put(fr, 0, BC_FREE_BUFFER, &tr.data.ptr.buffer,
						sizeof(tr.data.ptr.buffer));

				if (bwr(c->fd, fr, fn, NULL, 0, NULL))
					return 0;
				return cmd;
			default:
				return cmd;
			}
		}
	}
}

/* A transaction of N bytes (the pattern seeded with N), N up to 4 MiB + 64. */
static __u32 transact_flags(struct bproc *c, __u32 code, size_t n, __u32 flags,
			    struct reply *rep, int *reply_in_map)
{
	static __u8 data[SZ_4M + 64];
	struct txn t = { .code = code, .flags = flags, .data = data, .size = n };

	pattern(data, n, n);
	return transact_txn(c, &t, rep, reply_in_map);
}

static __u32 transact(struct bproc *c, __u32 code, size_t n, struct reply *rep,
		      int *reply_in_map)
{
	return transact_flags(c, code, n, 0, rep, reply_in_map);
}

/* Ends a pair: the receiver is asked to exit (or killed); 1 if it exited as asked. */
static int pair_stop(struct server *s, struct bproc *c)
{
	struct reply rep;
	int rim, ok;

	ok = transact(c, CODE_EXIT, 0, &rep, &rim) == BR_REPLY;
	if (!ok)
		kill(s->pid, SIGKILL);
	ok = server_wait(s) == 0 && ok;
	munmap(c->map, c->size);
	close(c->fd);
	return ok;
}

static const char *br_name(__u32 br)
{
	switch (br) {
	case 0: return "an ioctl error";
	case BR_REPLY: return "BR_REPLY";
	case BR_TRANSACTION_COMPLETE: return "BR_TRANSACTION_COMPLETE";
	case BR_DEAD_REPLY: return "BR_DEAD_REPLY";
	case BR_FAILED_REPLY: return "BR_FAILED_REPLY";
	case BR_FROZEN_REPLY: return "BR_FROZEN_REPLY";
	case BR_ERROR: return "BR_ERROR";
	default: return "another BR_ code";
	}
}

/* ------------------------------------------------------------------------------------------ */
/* Cases. */

/*
 * Where the drivers legitimately differ, in one place: the answer to a transaction that needs
 * buffer space after the receiver unmapped it (and why). Any driver but "c" is a Rust Binder.
 * C Binder's vm_ops->close clears the allocator's VMA, and binder_alloc_new_buf() then fails
 * with ESRCH, which binder_transaction() answers with BR_DEAD_REPLY. The unmodified Rust
 * Binder ("rust") sets no close (process.rs: "TODO: Set ops"), keeps allocating in the range,
 * and a page it must insert finds no VMA: use_range() fails, BR_FAILED_REPLY. The port onto
 * this crate ("ported") has a close, and answers as C does.
 */
static __u32 unmap_answer(const char **why)
{
	if (!strcmp(driver, "c")) {
		*why = "C Binder's vm_ops->close clears the allocator's VMA: no buffer space";
		return BR_DEAD_REPLY;
	}
	if (!strcmp(driver, "ported")) {
		*why = "the port's vm_ops->close ends the mapping: no buffer space";
		return BR_DEAD_REPLY;
	}
	*why = "Rust Binder has no vm_ops->close: a new page finds no VMA";
	return BR_FAILED_REPLY;
}

static void case_version(void)
{
	struct binder_version v = { -1 };
	int fd = open(dev_path, O_RDWR | O_CLOEXEC);
	int ok = fd >= 0 && !ioctl(fd, BINDER_VERSION, &v);

	arm("binder_version");
	ktap_check(ok && v.protocol_version == BINDER_CURRENT_PROTOCOL_VERSION, current_case,
		   "fd %d, version %d, expected %d (%s)", fd, v.protocol_version,
		   BINDER_CURRENT_PROTOCOL_VERSION, strerror(errno));
	if (fd >= 0)
		close(fd);
}

static void case_mmap_write_refused(void)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC);
	void *m;

	arm("mmap_prot_write_is_eperm");
	m = mmap(NULL, MAP_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	ktap_check(fd >= 0 && m == MAP_FAILED && errno == EPERM, current_case,
		   "mmap(PROT_WRITE): %s, expected EPERM",
		   m == MAP_FAILED ? strerror(errno) : "mapped");
	if (m != MAP_FAILED)
		munmap(m, MAP_SIZE);
	if (fd >= 0)
		close(fd);
}

static void case_mmap_other_process(void)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC), st = -1;
	pid_t pid;

	arm("mmap_from_another_process_is_einval");
	pid = fork();
	if (pid == 0) {
		void *m = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);

		_exit(m == MAP_FAILED ? (errno == EINVAL ? 0 : 100 + errno) : 99);
	}
	waitpid(pid, &st, 0);
	ktap_check(fd >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, current_case,
		   "child's mmap of the parent's binder file: status %d (0 = EINVAL, 99 = mapped, 100 + errno)",
		   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	if (fd >= 0)
		close(fd);
}

/*
 * One mapping per open file, for its whole life: a second mmap() is EBUSY, and so is one after
 * the first was unmapped (C Binder keeps the allocator's buffer_size; both Rust drivers keep
 * the page range; the port refuses in mmap_prepare, before any VMA exists).
 */
static void case_second_mapping(void)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC), e2 = 0, e3 = 0;
	void *m1, *m2 = MAP_FAILED, *m3 = MAP_FAILED;

	arm("second_mapping_is_ebusy");
	m1 = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m1 != MAP_FAILED) {
		m2 = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
		e2 = errno;
		munmap(m1, MAP_SIZE);
		m3 = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
		e3 = errno;
	}
	ktap_check(m1 != MAP_FAILED && m2 == MAP_FAILED && e2 == EBUSY && m3 == MAP_FAILED &&
		   e3 == EBUSY, current_case,
		   "first %s; second %s (%s); after unmapping the first %s (%s); expected EBUSY",
		   m1 == MAP_FAILED ? "failed" : "mapped", m2 == MAP_FAILED ? "failed" : "mapped",
		   strerror(e2), m3 == MAP_FAILED ? "failed" : "mapped", strerror(e3));
	if (m2 != MAP_FAILED)
		munmap(m2, MAP_SIZE);
	if (m3 != MAP_FAILED)
		munmap(m3, MAP_SIZE);
	if (fd >= 0)
		close(fd);
}

/*
 * The --mmap-after-exec mode of this program: map the inherited binder file FD, exit with 0 if
 * that was refused with EINVAL, 99 if it mapped, 100 + errno otherwise.
 */
static int mmap_after_exec(const char *fd_arg)
{
	void *m = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, atoi(fd_arg), 0);

	return m == MAP_FAILED ? (errno == EINVAL ? 0 : 100 + errno) : 99;
}

/*
 * The file was opened in an address space that exec replaced: the same task (the Binder process
 * is its thread group leader) maps it from the new one. C Binder refuses in
 * binder_alloc_mmap_handler() ("invalid vma->vm_mm"), the Rust Binder in register_with_vma(),
 * the port in mmap_prepare (VmAreaDesc::is_in_mm): EINVAL.
 */
static void case_mmap_after_exec(void)
{
	int st = -1;
	pid_t pid;

	arm("mmap_after_exec_is_einval");
	pid = fork();
	if (pid == 0) {
		/* Not close-on-exec: the new image inherits it. */
		int fd = open(dev_path, O_RDWR);
		char arg[16];

		if (fd < 0)
			_exit(98);
		snprintf(arg, sizeof(arg), "%d", fd);
		execl("/proc/self/exe", "binder_battery", "--mmap-after-exec", arg, (char *)NULL);
		_exit(97);
	}
	waitpid(pid, &st, 0);
	ktap_check(WIFEXITED(st) && WEXITSTATUS(st) == 0, current_case,
		   "mmap after exec: status %d (0 = EINVAL, 99 = mapped, 100 + errno, 97/98 = exec/open failed)",
		   WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

/* VM_DONTCOPY: a forked child has no mapping at the parent's address. */
static void case_dontcopy(void)
{
	struct bproc p;
	int st = -1, ok;
	pid_t pid;

	arm("mapping_is_not_inherited_by_fork");
	ok = !bopen(&p, MAP_SIZE);
	if (ok) {
		pid = fork();
		if (pid == 0) {
			char want[32], line[512];
			FILE *f = fopen("/proc/self/maps", "r");
			int found = 0;

			snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)p.map);
			while (f && fgets(line, sizeof(line), f))
				found |= !strncmp(line, want, strlen(want));
			_exit(f ? found : 2);
		}
		waitpid(pid, &st, 0);
		munmap(p.map, p.size);
		close(p.fd);
	}
	ktap_check(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0, current_case,
		   "open+mmap %s; child's /proc/self/maps: status %d (0 = no mapping, 1 = mapped)",
		   ok ? "ok" : strerror(errno), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static void case_context_manager(void)
{
	struct server s;
	int fd, ret, err, ok = !server_start(&s);

	arm("second_context_manager_is_ebusy");
	fd = open(dev_path, O_RDWR | O_CLOEXEC);
	ret = ioctl(fd, BINDER_SET_CONTEXT_MGR, 0);
	err = errno;
	if (fd >= 0)
		close(fd);
	if (ok) {
		struct bproc c;
		struct reply rep;
		int rim;

		ok = !bopen(&c, MAP_SIZE) && transact(&c, CODE_EXIT, 0, &rep, &rim) == BR_REPLY &&
			server_wait(&s) == 0;
	}
	ktap_check(ok && ret < 0 && err == EBUSY, current_case,
		   "server %s; second BINDER_SET_CONTEXT_MGR: %d, %s (expected EBUSY)",
		   ok ? "ok" : "failed", ret, ret ? strerror(err) : "accepted");
}

/*
 * Synchronous round trips of sizes from 0 B to 64 KiB, the page-straddling ones among them,
 * then small buffers placed to straddle a page boundary (the receiver holds a buffer that
 * ends just short of it). Each checks that the receiver's buffer lay in its mapping and held
 * the bytes sent, and that the reply's lay in ours.
 */
static void case_round_trips(void)
{
	static const size_t sizes[] = {
		0, 1, 8, 100, 4095, 4096, 4097, 8191, 8193, 12289, 32768, 65535, 65536,
	};
	static const size_t pads[] = { 4000, 4050, 8100 };
	struct server s;
	struct bproc c;
	struct reply rep;
	char name[64];
	unsigned int i;
	int up, rim;
	__u32 br;

	arm("round_trip_setup");
	up = !pair_start(&s, &c, NULL);
	ktap_check(up, current_case, "receiver or sender did not start: %s", strerror(errno));
	if (!up)
		return;
	for (i = 0; i < ARRAY_SIZE(sizes); i++) {
		snprintf(name, sizeof(name), "round_trip_%zu_bytes", sizes[i]);
		arm(name);
		memset(&rep, 0, sizeof(rep));
		br = transact(&c, CODE_DATA, sizes[i], &rep, &rim);
		ktap_check(br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_BYTES_OK), name,
			   "%s, reply in our mapping %d, receiver status %#x (1 in map, 2 bytes ok)",
			   br_name(br), rim, rep.status);
	}
	for (i = 0; i < ARRAY_SIZE(pads); i++) {
		struct reply hold = { 0 };
		__u32 br2;

		snprintf(name, sizeof(name), "round_trip_straddling_after_%zu", pads[i]);
		arm(name);
		br = transact(&c, CODE_HOLD, pads[i], &hold, &rim);
		memset(&rep, 0, sizeof(rep));
		br2 = transact(&c, CODE_DATA, 200, &rep, &rim);
		ktap_check(br == BR_REPLY && br2 == BR_REPLY && rim &&
			   hold.status == (R_IN_MAP | R_BYTES_OK) &&
			   rep.status == (R_IN_MAP | R_BYTES_OK) &&
			   rep.offset / 4096 != (rep.offset + 199) / 4096, name,
			   "%s/%s, held %zu B at %u, 200 B at %u (status %#x): must cross a page",
			   br_name(br), br_name(br2), pads[i], hold.offset, rep.offset, rep.status);
	}
	arm("dead_reply_after_receiver_exits");
	br = transact(&c, CODE_EXIT, 0, &rep, &rim);
	up = br == BR_REPLY && server_wait(&s) == 0;
	br = transact(&c, CODE_DATA, 16, &rep, &rim);
	ktap_check(up && br == BR_DEAD_REPLY, current_case,
		   "receiver exit %s; then %s, expected BR_DEAD_REPLY", up ? "ok" : "failed",
		   br_name(br));
	munmap(c.map, c.size);
	close(c.fd);
}

/*
 * A transaction to a receiver that unmapped its buffer space but still runs (it unmaps before
 * it replies to CODE_UNMAP, so the unmap is done when the sender goes on). C Binder knows the
 * mapping is gone (its vm_ops->close) and answers BR_DEAD_REPLY. The unmodified Rust Binder
 * sets no close callback (process.rs: "TODO: Set ops. We need to learn when the user
 * unmaps") and goes on allocating in the range: a page it must insert finds no VMA, and it
 * answers BR_FAILED_REPLY; but if every page of the buffer is one it still holds from an
 * earlier transaction, it delivers into them, and nobody maps them any more (the receiver gets
 * BR_TRANSACTION for a buffer it cannot read: R_UNMAPPED). USED_PAGES picks which: the
 * receiver first takes a transaction as large as the one that follows, or none.
 */
static int after_unmap_as_expected(int used_pages, __u32 br, const struct reply *rep,
				   const char **want, const char **why)
{
	if (unmap_answer(why) == BR_DEAD_REPLY) {
		*want = "BR_DEAD_REPLY";
		return br == BR_DEAD_REPLY;
	}
	if (!used_pages) {
		*want = "BR_FAILED_REPLY";
		return br == BR_FAILED_REPLY;
	}
	*want = "BR_REPLY, delivered into pages nobody maps";
	*why = "Rust Binder has no vm_ops->close: it kept every page, none to insert";
	return br == BR_REPLY && rep->status == R_UNMAPPED;
}

static void case_after_unmap(int used_pages)
{
	const char *name = used_pages ? "reply_after_receiver_unmaps_used_pages" :
		"reply_after_receiver_unmaps_new_pages";
	struct server s;
	struct bproc c;
	struct reply rep = { 0 };
	const char *want, *why;
	__u32 br = 0;
	int up, rim, ok;

	arm(name);
	up = !pair_start(&s, &c, NULL);
	if (up) {
		if (used_pages)
			up = transact(&c, CODE_DATA, 8192, &rep, &rim) == BR_REPLY &&
				rep.status == (R_IN_MAP | R_BYTES_OK);
		up = up && transact(&c, CODE_UNMAP, 0, &rep, &rim) == BR_REPLY;
		memset(&rep, 0, sizeof(rep));
		br = transact(&c, CODE_DATA, 8192, &rep, &rim);
		kill(s.pid, SIGKILL);
		server_wait(&s);
		munmap(c.map, c.size);
		close(c.fd);
	}
	ok = after_unmap_as_expected(used_pages, br, &rep, &want, &why);
	ktap_diag("%s: expected on %s: %s (%s)", name, driver, want, why);
	ktap_check(up && ok, name,
		   "got %s (receiver status %#x, 4: delivered after the unmap), expected %s",
		   br_name(br), rep.status, want);
}

/*
 * Oneway transactions (TF_ONE_WAY) of sizes from 1 B to about 3 KiB, numbered in their codes: each
 * completes for the sender at once, and the receiver gets all of them, in the order sent, each
 * in its mapping with the bytes sent. The receiver takes them as they come (the driver holds
 * the next one of a node until the last is freed), so the sender asks, with a synchronous
 * transaction, until it has seen them all.
 */
static void case_oneway(void)
{
	enum { N = 64 };
	struct server s;
	struct bproc c;
	struct reply rep = { 0 };
	__u32 br = 0;
	int rim, i, queued = 0, tries;

	arm("oneway_in_order");
	if (pair_start(&s, &c, current_case))
		return;
	for (i = 0; i < N; i++) {
		br = transact_flags(&c, CODE_ONEWAY_BASE + i, 1 + (i * 997) % 3000, TF_ONE_WAY,
				    &rep, &rim);
		queued += br == BR_TRANSACTION_COMPLETE;
	}
	for (tries = 0; tries < 400; tries++) {
		memset(&rep, 0, sizeof(rep));
		br = transact(&c, CODE_ONEWAY_QUERY, 0, &rep, &rim);
		if (br != BR_REPLY || rep.offset >= N || (rep.status & R_ONEWAY_BAD))
			break;
		usleep(10000);
	}
	ktap_check(queued == N && br == BR_REPLY && rep.offset == N &&
		   rep.status == (R_IN_MAP | R_BYTES_OK), current_case,
		   "%d of %d completed; the receiver saw %u (status %#x, 8: out of order or not as sent) after %d queries",
		   queued, N, rep.offset, rep.status, tries + 1);
	transact(&c, CODE_EXIT, 0, &rep, &rim);
	server_wait(&s);
	munmap(c.map, c.size);
	close(c.fd);
}

/*
 * A file descriptor in a reply (BINDER_TYPE_FD; the transaction says TF_ACCEPT_FDS): the
 * receiver sends the read end of a pipe holding FD_BYTES and closes its own descriptors; the
 * sender gets a new descriptor of its own in the object, and reads the bytes from it.
 */
static void case_fd(void)
{
	struct binder_fd_object fo;
	struct server s;
	struct bproc c;
	struct reply rep;
	char buf[sizeof(FD_BYTES)] = { 0 };
	ssize_t got = -1;
	__u32 br = 0;
	int rim;

	arm("fd_in_reply");
	if (pair_start(&s, &c, current_case))
		return;
	br = transact_flags(&c, CODE_FD, 0, TF_ACCEPT_FDS, &rep, &rim);
	memcpy(&fo, last_reply_data, sizeof(fo));
	if (br == BR_REPLY && last_reply.data_size == sizeof(fo) &&
	    last_reply.offsets_size == sizeof(binder_size_t) && fo.hdr.type == BINDER_TYPE_FD) {
		got = read(fo.fd, buf, sizeof(buf));
		close(fo.fd);
	}
	ktap_check(got == sizeof(buf) && !memcmp(buf, FD_BYTES, sizeof(buf)), current_case,
		   "%s, %llu bytes and %llu of offsets, type %#x, fd %d: read %zd bytes",
		   br_name(br), (unsigned long long)last_reply.data_size,
		   (unsigned long long)last_reply.offsets_size, fo.hdr.type, (int)fo.fd, got);
	transact(&c, CODE_EXIT, 0, &rep, &rim);
	server_wait(&s);
	munmap(c.map, c.size);
	close(c.fd);
}

/*
 * A death notification on the receiver (handle 0): once it exits, or is killed, the sender
 * gets BR_DEAD_BINDER with its cookie, and acknowledges it (BC_DEAD_BINDER_DONE). The sender
 * registers as a looper first (it waits for process work), and takes a reference to handle 0
 * (BC_INCREFS, BC_ACQUIRE): a transaction to handle 0 needs none, a death notification is
 * requested on a reference.
 */
static void case_death(int use_kill)
{
	const char *name = use_kill ? "dead_binder_after_sigkill" : "dead_binder_after_exit";
	struct binder_handle_cookie hc = { .handle = 0, .cookie = 0x5eed };
	binder_uintptr_t cookie = 0;
	struct server s;
	struct bproc c;
	struct reply rep;
	__u32 zero = 0;
	__u8 w[64];
	size_t n;
	__u32 rbuf[64];
	int up, rim, got = 0;

	arm(name);
	if (pair_start(&s, &c, name))
		return;
	n = put(w, 0, BC_ENTER_LOOPER, NULL, 0);
	n = put(w, n, BC_INCREFS, &zero, sizeof(zero));
	n = put(w, n, BC_ACQUIRE, &zero, sizeof(zero));
	n = put(w, n, BC_REQUEST_DEATH_NOTIFICATION, &hc, sizeof(hc));
	up = !bwr(c.fd, w, n, NULL, 0, NULL);
	if (use_kill)
		kill(s.pid, SIGKILL);
	else
		up = up && transact(&c, CODE_EXIT, 0, &rep, &rim) == BR_REPLY;
	server_wait(&s);
	while (up && !got) {
		size_t done, off = 0;

		if (bwr(c.fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			break;
		while (off + 4 <= done && !got) {
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd == BR_DEAD_BINDER) {
				memcpy(&cookie, (char *)rbuf + off - sizeof(cookie),
				       sizeof(cookie));
				got = 1;
			}
		}
	}
	if (got)
		bwr(c.fd, w, put(w, 0, BC_DEAD_BINDER_DONE, &cookie, sizeof(cookie)), NULL, 0,
		    NULL);
	ktap_check(up && got && cookie == hc.cookie, name,
		   "setup %d, BR_DEAD_BINDER %d, cookie %#llx (expected %#llx)", up, got,
		   (unsigned long long)cookie, (unsigned long long)hc.cookie);
	munmap(c.map, c.size);
	close(c.fd);
}

/*
 * Oneway transactions may take at most half of the receiver's buffer space: both drivers
 * start a free_async_space (C, binder_alloc.c) or free_oneway_space (Rust, range_alloc/) at
 * half the mapped size, take a oneway buffer's size from it when it is allocated (at send
 * time), refuse one that does not fit with ENOSPC, and give the size back when the buffer is
 * freed. ENOSPC is BR_FAILED_REPLY for the sender on both (binder_transaction(); error.rs,
 * From<Error>). The receiver keeps the first oneway buffer (CODE_ONEWAY_HOLD), so the driver
 * delivers no other to the node and none is freed: the sender fills the half to the byte
 * (7 x 64 KiB, 64 KiB - 8, then 8 B), the next 8 B fail, a synchronous transaction still
 * fits in the other half; once the receiver frees the kept buffer (CODE_ONEWAY_RELEASE,
 * BC_FREE_BUFFER), the 8 B go, and the receiver gets every accepted one, in order, as sent.
 */
static void case_oneway_half(void)
{
	enum { FILL = 8, BIG = 64 * 1024 };
	struct server s;
	struct bproc c;
	struct reply rep = { 0 }, sync = { 0 }, rel = { 0 };
	__u32 br, over, br_sync, br_rel, again = 0;
	int rim, i, queued = 0, tries;

	arm("oneway_half_buffer_limit");
	if (pair_start(&s, &c, current_case))
		return;
	br = transact(&c, CODE_ONEWAY_HOLD, 0, &rep, &rim);
	queued = br == BR_REPLY ? 0 : -100;
	for (i = 0; i < FILL; i++) {
		br = transact_flags(&c, CODE_ONEWAY_BASE + i, i < FILL - 1 ? BIG : BIG - 8,
				    TF_ONE_WAY, &rep, &rim);
		queued += br == BR_TRANSACTION_COMPLETE;
	}
	/* MAP_SIZE / 2 - 8 taken: 8 B are left, and no more. */
	br = transact_flags(&c, CODE_ONEWAY_BASE + FILL, 8, TF_ONE_WAY, &rep, &rim);
	queued += br == BR_TRANSACTION_COMPLETE;
	over = transact_flags(&c, CODE_ONEWAY_BASE + FILL + 1, 8, TF_ONE_WAY, &rep, &rim);
	br_sync = transact(&c, CODE_DATA, 8192, &sync, &rim);
	br_rel = transact(&c, CODE_ONEWAY_RELEASE, 0, &rel, &rim);
	if (br_rel == BR_REPLY && rel.offset == 1)
		again = transact_flags(&c, CODE_ONEWAY_BASE + FILL + 1, 8, TF_ONE_WAY, &rep,
				       &rim);
	for (tries = 0; tries < 400; tries++) {
		memset(&rep, 0, sizeof(rep));
		br = transact(&c, CODE_ONEWAY_QUERY, 0, &rep, &rim);
		if (br != BR_REPLY || rep.offset >= FILL + 2 || (rep.status & R_ONEWAY_BAD))
			break;
		usleep(10000);
	}
	ktap_check(queued == FILL + 1 && over == BR_FAILED_REPLY && br_sync == BR_REPLY &&
		   sync.status == (R_IN_MAP | R_BYTES_OK) && rel.offset == 1 &&
		   again == BR_TRANSACTION_COMPLETE && br == BR_REPLY &&
		   rep.offset == FILL + 2 && rep.status == (R_IN_MAP | R_BYTES_OK),
		   current_case,
		   "%d of %d filling the half completed; over it: %s (expected BR_FAILED_REPLY); synchronous 8 KiB then: %s, status %#x; release %s, freed %u; again: %s; the receiver saw %u of %d (status %#x, 8: out of order or not as sent)",
		   queued, FILL + 1, br_name(over), br_name(br_sync), sync.status,
		   br_name(br_rel), rel.offset, br_name(again), rep.offset, FILL + 2,
		   rep.status);
	pair_stop(&s, &c);
}

/*
 * A mapping of 4 MiB, the most buffer space either driver uses (C: binder_alloc_mmap_handler()
 * takes min(size, SZ_4M); Rust: create_mapping() the same): a transaction of exactly 4 MiB
 * fills it, at offset 0, with the bytes sent; 8 B more do not fit anywhere, which both
 * answer BR_FAILED_REPLY (ENOSPC, as above); the receiver goes on serving after it.
 */
static void case_4mib(void)
{
	struct serve_opts o = { .map_size = SZ_4M };
	struct server s;
	struct bproc c;
	struct reply rep = { 0 }, after = { 0 };
	__u32 br, br_after;
	int rim, rim_after;

	arm("transaction_of_4_mib_fills_the_mapping");
	if (pair_start_opts(&s, &c, current_case, &o))
		return;
	br = transact(&c, CODE_DATA, SZ_4M, &rep, &rim);
	ktap_check(br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_BYTES_OK) &&
		   rep.offset == 0, current_case,
		   "%s, reply in our mapping %d, receiver status %#x (1 in map, 2 bytes ok), at %u",
		   br_name(br), rim, rep.status, rep.offset);
	arm("transaction_over_4_mib_is_failed_reply");
	memset(&rep, 0, sizeof(rep));
	br = transact(&c, CODE_DATA, SZ_4M + 8, &rep, &rim);
	br_after = transact(&c, CODE_DATA, 4096, &after, &rim_after);
	ktap_check(br == BR_FAILED_REPLY && br_after == BR_REPLY && rim_after &&
		   after.status == (R_IN_MAP | R_BYTES_OK), current_case,
		   "4 MiB + 8 B: %s (expected BR_FAILED_REPLY); 4 KiB after it: %s, status %#x",
		   br_name(br), br_name(br_after), after.status);
	pair_stop(&s, &c);
}

/*
 * Reads the pipe's read end FD (non-blocking) to its end, into BUF; the end comes once no
 * write end is open anywhere. Waits up to 5 s for it (a descriptor the drivers close may be
 * released by a work item): returns the bytes read, or -1 on an error or if the end never
 * came (a write end leaked).
 */
static ssize_t read_to_end(int fd, char *buf, size_t size)
{
	size_t got = 0;
	char sink[64];

	for (;;) {
		ssize_t r = got < size ? read(fd, buf + got, size - got) :
			read(fd, sink, sizeof(sink));
		struct pollfd pf = { .fd = fd, .events = POLLIN };

		if (r == 0)
			return got;
		if (r > 0 && got < size)
			got += r;
		else if (r > 0)
			return -1;	/* more than was written */
		else if (errno != EAGAIN || poll(&pf, 1, 5000) <= 0)
			return -1;
	}
}

/*
 * A file descriptor in a transaction (BINDER_TYPE_FD, at the offset the offsets array names):
 * the sender passes the write end of a pipe, the receiver gets a descriptor of its own for the
 * same file (check_fd_in()), writes through it and closes it; the sender closes its own, and
 * its read end then reads the bytes and the end of the file: nobody, driver included, holds a
 * write end any more. The sender has as many descriptors open after as before. ACCEPT_FDS:
 * the receiver's node accepts descriptors (FLAT_BINDER_FLAG_ACCEPTS_FDS, given with
 * BINDER_SET_CONTEXT_MGR_EXT); without it both refuse the transaction with BR_FAILED_REPLY
 * (C: binder_translate_fd(), "target does not allow fds", EPERM; Rust: translate_object(),
 * EPERM), and the file must not be held either.
 */
static void case_fd_in_transaction(int accept_fds)
{
	const char *name = accept_fds ? "fd_in_transaction" :
		"fd_in_transaction_refused_without_accept_fds";
	struct serve_opts o = { .accept_fds = accept_fds };
	static const binder_size_t off0;
	struct fd_msg m = { 0 };
	struct txn t = { .code = CODE_FD_IN, .data = &m, .size = sizeof(m),
			 .offsets = &off0, .offsets_size = sizeof(off0) };
	struct server s;
	struct bproc c;
	struct reply rep = { 0 }, after = { 0 };
	char buf[sizeof(FD_BYTES)] = { 0 };
	int pfd[2], rim, rim_after, before, now = -1, ok;
	ssize_t got = -2;
	struct stat st;
	__u32 br = 0, br_after = 0;

	arm(name);
	if (pair_start_opts(&s, &c, name, &o))
		return;
	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK) || fstat(pfd[1], &st)) {
		ktap_check(0, name, "pipe: %s", strerror(errno));
		pair_stop(&s, &c);
		return;
	}
	m.fo.hdr.type = BINDER_TYPE_FD;
	m.fo.fd = pfd[1];
	m.ino = st.st_ino;
	m.dev = st.st_dev;
	before = count_fds();
	br = transact_txn(&c, &t, &rep, &rim);
	now = count_fds();
	close(pfd[1]);
	got = read_to_end(pfd[0], buf, sizeof(buf));
	close(pfd[0]);
	br_after = transact(&c, CODE_DATA, 16, &after, &rim_after);
	if (accept_fds)
		ok = br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_FD_OK) &&
			got == sizeof(buf) && !memcmp(buf, FD_BYTES, sizeof(buf));
	else
		ok = br == BR_FAILED_REPLY && got == 0;
	ktap_check(ok && before == now && br_after == BR_REPLY &&
		   after.status == (R_IN_MAP | R_BYTES_OK), name,
		   "%s (expected %s), receiver status %#x (16: fd ok), failed check %u (1 sizes, 2 object, 3 fstat, 4 cloexec, 5 not one more fd, 6 write, 7 close); pipe read %zd bytes then %s; sender fds %d before, %d after; next transaction %s",
		   br_name(br), accept_fds ? "BR_REPLY" : "BR_FAILED_REPLY", rep.status,
		   accept_fds ? rep.offset : 0, got,
		   got >= 0 ? "its end" : "no end (a write end is held)",
		   before, now, br_name(br_after));
	pair_stop(&s, &c);
}

/*
 * Scatter-gather (BC_TRANSACTION_SG, BINDER_TYPE_PTR): a parent buffer A of four pages and a
 * child B whose address goes into A at SG_FIXUP (struct sg_msg). The receiver finds both in
 * its mapping, A's bytes around the fixup, B's new address in it, B's bytes (check_sg()).
 * BAD_FIXUP: the child's address would not fit in A (8 bytes at A's last 4): both drivers
 * refuse the transaction (C: binder_fixup_parent(), "invalid parent offset"; Rust:
 * validate_parent_fixup(), EINVAL) with BR_FAILED_REPLY, and the next one goes through.
 */
static void case_sg(int bad_fixup)
{
	const char *name = bad_fixup ? "sg_fixup_outside_parent_refused" : "sg_buffers_with_fixup";
	static __u8 a[SG_A_LEN], b[SG_B_LEN];
	static const binder_size_t offs[2] = MSG_OFFSETS(struct sg_msg, b);
	struct binder_extended_error ee = { 0 };
	struct sg_msg m = { 0 };
	struct txn t = { .code = CODE_SG, .data = &m, .size = sizeof(m), .offsets = offs,
			 .offsets_size = sizeof(offs),
			 .buffers_size = ALIGN8(SG_A_LEN) + ALIGN8(SG_B_LEN) };
	struct reply rep = { 0 }, after = { 0 };
	struct server s;
	struct bproc c;
	__u32 br, br_after;
	int rim = 0, rim_after = 0, ok;

	arm(name);
	if (pair_start(&s, &c, name))
		return;
	pattern(a, SG_A_LEN, SG_A_SEED);
	pattern(b, SG_B_LEN, SG_B_SEED);
	m.a.hdr.type = BINDER_TYPE_PTR;
	m.a.buffer = (uintptr_t)a;
	m.a.length = SG_A_LEN;
	m.b.hdr.type = BINDER_TYPE_PTR;
	m.b.flags = BINDER_BUFFER_FLAG_HAS_PARENT;
	m.b.buffer = (uintptr_t)b;
	m.b.length = SG_B_LEN;
	m.b.parent = 0;
	m.b.parent_offset = bad_fixup ? SG_A_LEN - 4 : SG_FIXUP;
	br = transact_txn(&c, &t, &rep, &rim);
	/* Why it failed: both drivers record the errno (BINDER_GET_EXTENDED_ERROR). */
	if (ioctl(c.fd, BINDER_GET_EXTENDED_ERROR, &ee))
		ee.param = 1;
	br_after = transact(&c, CODE_DATA, 3 * PAGE + 5, &after, &rim_after);
	if (bad_fixup)
		ok = br == BR_FAILED_REPLY && ee.command == BR_FAILED_REPLY && ee.param == -EINVAL;
	else
		ok = br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_SG_OK);
	ktap_check(ok && br_after == BR_REPLY && after.status == (R_IN_MAP | R_BYTES_OK), name,
		   "%s (expected %s), extended error %s, errno %d (expected EINVAL if refused), receiver status %#x (0x80: buffers ok), failed check %u (1 sizes, 2 objects, 3 not in map, 4 unreadable, 5 fixup, 6 parent bytes, 7 child bytes); next transaction %s, status %#x",
		   br_name(br), bad_fixup ? "BR_FAILED_REPLY" : "BR_REPLY",
		   br_name(ee.command), (int)ee.param, rep.status,
		   bad_fixup ? 0 : rep.offset, br_name(br_after), after.status);
	pair_stop(&s, &c);
}

/*
 * An array of file descriptors (BINDER_TYPE_FDA in a BINDER_TYPE_PTR buffer, sent with
 * BC_TRANSACTION_SG) to a node that accepts them: the write ends of two pipes. The receiver
 * gets descriptors of its own in the buffer, for the same files (check_fda()), writes through
 * them and leaves them to the driver, which closes them when the buffer is freed. The sender
 * closes its own write ends; each read end then reads the bytes and the end of the file, so
 * nobody, the receiver and the driver included, holds a write end any more. The sender has
 * as many descriptors open after as before.
 */
static void case_fda(void)
{
	static const binder_size_t offs[2] = MSG_OFFSETS(struct fda_msg, f);
	struct serve_opts o = { .accept_fds = 1 };
	struct fda_payload pl;
	struct fda_msg m = { 0 };
	struct txn t = { .code = CODE_FDA, .data = &m, .size = sizeof(m), .offsets = offs,
			 .offsets_size = sizeof(offs), .buffers_size = ALIGN8(sizeof(pl)) };
	struct reply rep = { 0 }, after = { 0 };
	char buf[FDA_FDS][sizeof(FD_BYTES)];
	ssize_t got[FDA_FDS] = { -2, -2 };
	int pfd[FDA_FDS][2], rim = 0, rim_after = 0, before, now, i, opened = 0, ok = 1;
	struct server s;
	struct bproc c;
	struct stat st;
	__u32 br = 0, br_after = 0;

	arm("fda_in_transaction");
	if (pair_start_opts(&s, &c, current_case, &o))
		return;
	memset(buf, 0, sizeof(buf));
	memset(&pl, 0, sizeof(pl));
	for (i = 0; i < FDA_FDS; i++) {
		if (pipe2(pfd[i], O_CLOEXEC | O_NONBLOCK))
			break;
		opened++;
		if (fstat(pfd[i][1], &st))
			break;
		pl.fd[i] = pfd[i][1];
		pl.ino[i] = st.st_ino;
		pl.dev[i] = st.st_dev;
	}
	if (i != FDA_FDS) {
		ktap_check(0, current_case, "pipe: %s", strerror(errno));
		for (i = 0; i < opened; i++) {
			close(pfd[i][0]);
			close(pfd[i][1]);
		}
		pair_stop(&s, &c);
		return;
	}
	m.a.hdr.type = BINDER_TYPE_PTR;
	m.a.buffer = (uintptr_t)&pl;
	m.a.length = sizeof(pl);
	m.f.hdr.type = BINDER_TYPE_FDA;
	m.f.num_fds = FDA_FDS;
	m.f.parent = 0;
	m.f.parent_offset = 0;
	before = count_fds();
	br = transact_txn(&c, &t, &rep, &rim);
	now = count_fds();
	for (i = 0; i < FDA_FDS; i++) {
		close(pfd[i][1]);
		got[i] = read_to_end(pfd[i][0], buf[i], sizeof(buf[i]));
		close(pfd[i][0]);
		ok &= got[i] == sizeof(buf[i]) && !memcmp(buf[i], FD_BYTES, sizeof(buf[i]));
	}
	br_after = transact(&c, CODE_DATA, 16, &after, &rim_after);
	ktap_check(ok && br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_FDA_OK) &&
		   before == now && br_after == BR_REPLY &&
		   after.status == (R_IN_MAP | R_BYTES_OK), current_case,
		   "%s, receiver status %#x (0x100: fds ok), failed check %u (1 sizes, 2 objects, 3 buffer, 4 fstat, 5 cloexec, 6 not two more fds, 7 write); pipes read %zd and %zd bytes (-1: no end, a write end is held); sender fds %d before, %d after; next transaction %s",
		   br_name(br), rep.status, rep.offset, got[0], got[1], before, now,
		   br_name(br_after));
	pair_stop(&s, &c);
}

/*
 * Binder's shrinker, through SHRINKER_DEBUG: its debugfs directory (both drivers name it
 * "android-binder", and the directory gets "-<id>") into PATH. Mounts debugfs if needed.
 */
static int shrinker_path(char *path, size_t size, const char *file)
{
	char found[64] = "";
	struct dirent *e;
	int n = 0;
	DIR *d;

	d = opendir(SHRINKER_DIR);
	if (!d && !mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL))
		d = opendir(SHRINKER_DIR);
	if (!d)
		return -1;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, SHRINKER_NAME, strlen(SHRINKER_NAME)) && ++n == 1)
			snprintf(found, sizeof(found), "%.63s", e->d_name);
	closedir(d);
	if (n != 1) {
		errno = n ? EEXIST : ENOENT;
		return -1;
	}
	snprintf(path, size, SHRINKER_DIR "/%s/%s", found, file);
	return 0;
}

/* The objects (free pages) on Binder's shrinker list, -1 on an error. */
static long shrinker_count(void)
{
	char path[256], line[256];
	long n = 0;
	FILE *f;

	if (shrinker_path(path, sizeof(path), "count"))
		return -1;
	f = fopen(path, "r");
	if (!f)
		return -1;
	/* A line per memory cgroup with objects: its id, then a count per node. */
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ' '), *end;

		while (p && *p) {
			n += strtol(p, &end, 10);
			if (end == p)
				break;
			p = end;
		}
	}
	fclose(f);
	return n;
}

/* Asks the shrinker to free every page on its list: "<memcg id> <node> <objects>". */
static int shrinker_scan(int fd)
{
	static const char cmd[] = "0 0 1000000";

	return write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd) ? 0 : -1;
}

/* CODE_PROBE: the receiver reads pages 1 and 2 of its mapping; returns how many faulted. */
static int probe_pages(struct bproc *c, __u32 *br)
{
	static const __u32 at[] = { PAGE, 2 * PAGE };
	struct txn t = { .code = CODE_PROBE, .data = at, .size = sizeof(at) };
	struct reply rep = { 0 };
	int rim;

	*br = transact_txn(c, &t, &rep, &rim);
	return *br == BR_REPLY && rim && (rep.status & R_PROBED) ? (int)rep.offset : -1;
}

/*
 * A deterministic shrinker scan. A transaction of 3 pages lands at offset 0 of a fresh
 * receiver, which frees it: its pages go on the shrinker's list, still mapped (the receiver
 * reads pages 1 and 2; the probe itself, 8 B, lands in page 0). A scan through debugfs frees
 * the list and zaps the pages from the mapping (C: binder_alloc_free_page(); Rust:
 * rust_shrink_free_page()): reading pages 1 and 2 now raises SIGBUS (no fault handler maps
 * them again). The next transaction of 3 pages lands at offset 0 again: the driver inserts new
 * pages, and the receiver reads the bytes sent (a size of its own, so its own bytes).
 */
static void case_shrinker(void)
{
	char path[256];
	struct server s;
	struct bproc c;
	struct reply rep = { 0 };
	__u32 br = 0, br_probe = 0;
	int fd = -1, rim, mapped = -1, zapped = -1, back = -1, scanned = -1;
	long before = -1, after = -1;

	arm("shrinker_scan_takes_freed_pages");
	if (pair_start(&s, &c, current_case))
		return;
	if (!shrinker_path(path, sizeof(path), "scan"))
		fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		ktap_check(0, current_case, "no Binder shrinker in " SHRINKER_DIR ": %s",
			   strerror(errno));
		pair_stop(&s, &c);
		return;
	}
	br = transact(&c, CODE_DATA, 3 * PAGE, &rep, &rim);
	if (br == BR_REPLY && rep.status == (R_IN_MAP | R_BYTES_OK) && rep.offset == 0) {
		mapped = probe_pages(&c, &br_probe);
		before = shrinker_count();
		scanned = shrinker_scan(fd);
		after = shrinker_count();
		zapped = probe_pages(&c, &br_probe);
	}
	ktap_check(mapped == 0 && before >= 2 && !scanned && zapped == 2, current_case,
		   "3 pages: %s, status %#x, at %u; pages 1, 2 faulted: %d before the scan (expected 0), %d after (expected 2); the list held %ld before (pages 1 and 2 at least), %ld after; scan %s",
		   br_name(br), rep.status, rep.offset, mapped, zapped, before, after,
		   scanned ? strerror(errno) : "done");
	arm("transaction_after_shrinker_scan");
	memset(&rep, 0, sizeof(rep));
	br = transact(&c, CODE_DATA, 3 * PAGE - 8, &rep, &rim);
	back = probe_pages(&c, &br_probe);
	ktap_check(br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_BYTES_OK) &&
		   rep.offset == 0 && back == 0, current_case,
		   "%s, status %#x (1 in map, 2 bytes ok, 64 SIGBUS), at %u (expected 0); pages 1, 2 faulted after it: %d (expected 0)",
		   br_name(br), rep.status, rep.offset, back);
	close(fd);
	pair_stop(&s, &c);
}

/*
 * A bounded stress: STRESS_CLIENTS processes send STRESS_ROUNDS transactions each to one
 * receiver, while another process scans Binder's shrinker every millisecond; at its round
 * STRESS_UNMAP_AT, client 0 asks the receiver to unmap (CODE_UNMAP), and the others go on.
 * Every reply is checked: before the unmap, BR_REPLY with the bytes as sent, in the
 * receiver's mapping; after it (the receiver sets a shared flag just before munmap()), the
 * driver's unmap_answer(), or BR_REPLY for a transaction delivered into pages the receiver no
 * longer maps (on C too: one whose buffer was allocated before the unmap, then delivered).
 */
#define STRESS_CLIENTS	3
#define STRESS_ROUNDS	200
#define STRESS_UNMAP_AT	150

struct stress_tally {
	int replies, ok, delivered_unmapped, failed_after, bad;
	int bad_round, bad_flag;
	__u32 bad_br, bad_status;
};

struct stress_shared {
	int unmapping;		/* set by the receiver just before it unmaps */
	int ready, go;		/* the clients that have mapped; then they start together */
	int stop;		/* tells the scanner to stop */
	int scans, scan_errors;
	struct stress_tally t[STRESS_CLIENTS];
};

static int stress_client(int i, struct stress_shared *sh, __u32 failure)
{
	struct stress_tally *t = &sh->t[i];
	struct bproc c;
	int r, j, waited = 0, up = !bopen(&c, MAP_SIZE);

	__atomic_add_fetch(&sh->ready, 1, __ATOMIC_SEQ_CST);
	if (!up)
		return 1;
	while (!__atomic_load_n(&sh->go, __ATOMIC_SEQ_CST))
		usleep(1000);
	for (r = 0; r < STRESS_ROUNDS; r++) {
		int unmap = i == 0 && r == STRESS_UNMAP_AT, rim, flag;
		size_t n = unmap ? 0 : 1 + (r * 7919 + i * 3001) % 20000;
		struct reply rep = { 0 };
		__u32 br;

		/* Mid-stream: the others have had half as many rounds (or 20 s). */
		for (j = 1; unmap && j < STRESS_CLIENTS && waited < 2000; waited++) {
			if (__atomic_load_n(&sh->t[j].replies, __ATOMIC_SEQ_CST) >=
			    STRESS_UNMAP_AT / 2)
				j++;
			else
				usleep(10000);
		}
		br = transact(&c, unmap ? CODE_UNMAP : CODE_DATA, n, &rep, &rim);
		flag = __atomic_load_n(&sh->unmapping, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&t->replies, br != 0, __ATOMIC_SEQ_CST);
		if (br == BR_REPLY && rim && rep.status == (R_IN_MAP | R_BYTES_OK)) {
			t->ok++;
		} else if (br == BR_REPLY && rim && rep.status == R_UNMAPPED && flag) {
			t->delivered_unmapped++;
		} else if (br == failure && flag) {
			t->failed_after++;
		} else if (!t->bad++) {
			t->bad_round = r;
			t->bad_flag = flag;
			t->bad_br = br;
			t->bad_status = rep.status;
		}
	}
	return 0;
}

static int stress_scanner(struct stress_shared *sh, int fd)
{
	while (!__atomic_load_n(&sh->stop, __ATOMIC_SEQ_CST)) {
		if (shrinker_scan(fd))
			sh->scan_errors++;
		else
			sh->scans++;
		usleep(1000);
	}
	return 0;
}

static void case_stress(void)
{
	struct stress_shared *sh;
	struct serve_opts o = { 0 };
	long start = now_ms();
	struct server s;
	const char *why;
	__u32 failure = unmap_answer(&why);
	pid_t scanner = -1, clients[STRESS_CLIENTS];
	int i, fd = -1, exited = 0, replies = 0, ok = 0, unmapped = 0, failed = 0, bad = 0;
	int least_ok = STRESS_ROUNDS;
	char path[256];

	arm("stress_clients_shrinker_unmap");
	ktap_diag("%s: expected on %s: after the unmap %s or a delivery into unmapped pages (%s)",
		  current_case, driver, br_name(failure), why);
	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh != MAP_FAILED && !shrinker_path(path, sizeof(path), "scan"))
		fd = open(path, O_WRONLY | O_CLOEXEC);
	if (sh == MAP_FAILED || fd < 0) {
		ktap_check(0, current_case, "setup: %s", strerror(errno));
		return;
	}
	memset(sh, 0, sizeof(*sh));
	o.unmapping = &sh->unmapping;
	if (server_start_opts(&s, &o)) {
		ktap_check(0, current_case, "the receiver did not start: %s", strerror(errno));
		close(fd);
		munmap(sh, sizeof(*sh));
		return;
	}
	scanner = fork();
	if (scanner == 0)
		_exit(stress_scanner(sh, fd));
	for (i = 0; i < STRESS_CLIENTS; i++) {
		clients[i] = fork();
		if (clients[i] == 0)
			_exit(stress_client(i, sh, failure));
	}
	while (__atomic_load_n(&sh->ready, __ATOMIC_SEQ_CST) < STRESS_CLIENTS)
		usleep(1000);
	__atomic_store_n(&sh->go, 1, __ATOMIC_SEQ_CST);
	for (i = 0; i < STRESS_CLIENTS; i++) {
		int st;

		exited += clients[i] > 0 && waitpid(clients[i], &st, 0) == clients[i] &&
			WIFEXITED(st) && WEXITSTATUS(st) == 0;
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_SEQ_CST);
	if (scanner > 0)
		waitpid(scanner, NULL, 0);
	kill(s.pid, SIGKILL);
	server_wait(&s);
	for (i = 0; i < STRESS_CLIENTS; i++) {
		struct stress_tally *t = &sh->t[i];

		replies += t->replies;
		ok += t->ok;
		unmapped += t->delivered_unmapped;
		failed += t->failed_after;
		bad += t->bad;
		if (t->ok < least_ok)
			least_ok = t->ok;
		if (t->bad)
			ktap_diag("client %d: %d unexpected, the first in round %d: %s, %#x, %s",
				  i, t->bad, t->bad_round, br_name(t->bad_br), t->bad_status,
				  t->bad_flag ? "after the unmap" : "before the unmap");
	}
	ktap_diag("%s: %d replies: %d as sent (a client %d or more), %d into unmapped pages, %d %s",
		  current_case, replies, ok, least_ok, unmapped, failed, br_name(failure));
	ktap_diag("%s: %d shrinker scans in %ld ms", current_case, sh->scans, now_ms() - start);
	ktap_check(exited == STRESS_CLIENTS && replies == STRESS_CLIENTS * STRESS_ROUNDS &&
		   !bad && sh->t[0].ok >= STRESS_UNMAP_AT + 1 && least_ok >= STRESS_UNMAP_AT / 2 &&
		   sh->t[0].delivered_unmapped + sh->t[0].failed_after ==
		   STRESS_ROUNDS - STRESS_UNMAP_AT - 1 && sh->scans > 0 && !sh->scan_errors,
		   current_case,
		   "%d of %d clients ran through; %d of %d replies: %d as sent, %d delivered after the unmap, %d %s, %d unexpected; client 0: %d as sent, %d after the unmap; the least as sent by a client: %d (expected %d or more); %d shrinker scans, %d failed",
		   exited, STRESS_CLIENTS, replies, STRESS_CLIENTS * STRESS_ROUNDS, ok, unmapped,
		   failed, br_name(failure), bad, sh->t[0].ok,
		   sh->t[0].delivered_unmapped + sh->t[0].failed_after, least_ok,
		   STRESS_UNMAP_AT / 2, sh->scans, sh->scan_errors);
	close(fd);
	munmap(sh, sizeof(*sh));
}

/*
 * Neither driver can be unloaded: C Binder has no module_exit (delete_module() says EBUSY), the
 * Rust Binder holds a reference to itself from its init on (our patch 0002: it has no exit
 * path; delete_module() says EWOULDBLOCK). Either way the module must still be loaded after.
 */
static void case_unload_refused(void)
{
	const char *mod = !strcmp(driver, "c") ? "binder_linux" :
		!strcmp(driver, "ported") ? "rust_binder_ported" : "rust_binder";
	int want = strcmp(driver, "c") ? EWOULDBLOCK : EBUSY;
	char line[256];
	int ret, err, loaded = 0;
	FILE *f;

	arm("driver_cannot_be_unloaded");
	ret = syscall(SYS_delete_module, mod, O_NONBLOCK);
	err = errno;
	f = fopen("/proc/modules", "r");
	while (f && fgets(line, sizeof(line), f))
		loaded |= !strncmp(line, mod, strlen(mod)) && line[strlen(mod)] == ' ';
	if (f)
		fclose(f);
	ktap_diag("%s: expected on %s: delete_module %s (%s)", current_case, driver,
		  strerror(want), strcmp(driver, "c") ? "patch 0002 holds the module" :
		  "no module_exit");
	ktap_check(ret < 0 && err == want && loaded, current_case,
		   "delete_module(%s): %d, %s (expected %s); still loaded: %d", mod, ret,
		   ret ? strerror(err) : "unloaded", strerror(want), loaded);
}

/* ------------------------------------------------------------------------------------------ */

static int setup_device(void)
{
	struct binderfs_device dev = { 0 };
	struct stat st;
	int fd, ret;

	arm("binderfs_ctl_add");
	mkdir(FS_DIR, 0755);
	if (mount("binder", FS_DIR, "binder", 0, NULL) && errno != EBUSY) {
		ktap_check(0, current_case, "mount binderfs: %s", strerror(errno));
		return -1;
	}
	fd = open(FS_DIR "/binder-control", O_RDWR | O_CLOEXEC);
	snprintf(dev.name, sizeof(dev.name), "%s", DEV_NAME);
	ret = fd < 0 ? -1 : ioctl(fd, BINDER_CTL_ADD, &dev);
	snprintf(dev_path, sizeof(dev_path), FS_DIR "/" DEV_NAME);
	ret = ret || stat(dev_path, &st) || major(st.st_rdev) != dev.major ||
		minor(st.st_rdev) != dev.minor;
	ktap_check(!ret, current_case, "binder-control fd %d, BINDER_CTL_ADD or stat: %s",
		   fd, strerror(errno));
	if (fd >= 0)
		close(fd);
	return ret ? -1 : 0;
}

int main(int argc, char **argv)
{
	char suite[32];
	long start;

	if (argc == 3 && !strcmp(argv[1], "--mmap-after-exec"))
		return mmap_after_exec(argv[2]);
	/* The suite's name: rmp_binder_<driver>. */
	if (argc != 2 || !argv[1][0] || strlen(argv[1]) > 16 ||
	    strspn(argv[1], "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(argv[1])) {
		fprintf(stderr, "usage: %s c|rust|<another Rust Binder>\n", argv[0]);
		return 2;
	}
	driver = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Our own process group, so that the watchdog can kill every process of the battery. */
	setpgid(0, 0);
	signal(SIGALRM, on_alarm);
	snprintf(suite, sizeof(suite), "rmp_binder_%s", driver);
	ktap_begin(suite, KTAP_PLAN_LATER);
	start = now_ms();
	if (!setup_device()) {
		case_version();
		case_mmap_write_refused();
		case_mmap_other_process();
		case_second_mapping();
		case_mmap_after_exec();
		case_dontcopy();
		case_context_manager();
		case_round_trips();
		case_oneway();
		case_oneway_half();
		case_4mib();
		case_fd();
		case_fd_in_transaction(1);
		case_fd_in_transaction(0);
		case_sg(0);
		case_sg(1);
		case_fda();
		case_shrinker();
		case_death(0);
		case_death(1);
		case_after_unmap(0);
		case_after_unmap(1);
		case_stress();
		case_unload_refused();
	}
	alarm(0);
	ktap_diag("%s: the battery took %ld ms", suite, now_ms() - start);
	return ktap_end();
}
