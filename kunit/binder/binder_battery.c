// SPDX-License-Identifier: GPL-2.0
/*
 * Real Binder transactions against a Binder driver, C Binder (binder_linux.ko) or Rust Binder
 * (rust_binder.ko), on the UAPI only (linux/android/binder.h, binderfs.h). One boot per driver
 * (scripts/binder.sh): both register the "binder" file system.
 *
 *	binder_battery c|rust
 *
 * Prints one KTAP suite, rmp_binder_<driver>. Every case runs under a watchdog: a protocol
 * mistake that leaves a process waiting fails the case (and the suite) instead of hanging.
 * Where the two drivers legitimately answer differently, the case names each driver's
 * expected answer and the reason (expect[] below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
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
#include <unistd.h>
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

#include "../userspace/ktap.h"

#define FS_DIR		"/dev/binderfs"
#define DEV_NAME	"rmp-battery"
#define MAP_SIZE	(1024 * 1024)
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
	CODE_ONEWAY_BASE = 0x1000, /* + n: the n-th oneway transaction */
};

/* Bits of the receiver's reply. */
#define R_IN_MAP	0x1	/* the buffer lay inside the receiver's mapping */
#define R_BYTES_OK	0x2	/* and held the bytes sent */
#define R_UNMAPPED	0x4	/* delivered after the receiver unmapped: not read */
#define R_ONEWAY_BAD	0x8	/* a oneway transaction out of order, or not as sent */

/* What the pipe of a CODE_FD reply holds. */
#define FD_BYTES	"rmp-binder-fd-ok"

struct reply {
	__u32 status;
	__u32 offset;	/* of the buffer in the receiver's mapping */
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

static void pattern(__u8 *buf, size_t n, __u32 seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		buf[i] = (__u8)(i * 131 + seed * 7 + 1);
}

static int pattern_ok(const __u8 *buf, size_t n, __u32 seed)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (buf[i] != (__u8)(i * 131 + seed * 7 + 1))
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
 * Makes the process of FD the context manager. The previous receiver may still hold the place:
 * it has exited, but a driver releases a process's Binder state in a work item after the file
 * is released (C: binder_deferred_release(); Rust: Process::deferred_release()), so EBUSY is
 * retried for up to 5 s.
 */
static int become_manager(int fd)
{
	int tries, ret = -1;

	for (tries = 0; tries < 500; tries++) {
		ret = ioctl(fd, BINDER_SET_CONTEXT_MGR, 0);
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
static int serve(int ready)
{
	struct bproc p;
	__u32 rbuf[256];
	binder_uintptr_t held = 0;
	int unmapped = 0, oneway_bad = 0;
	__u32 oneway_seen = 0;

	if (bopen(&p, MAP_SIZE) || become_manager(p.fd) || bc_simple(p.fd, BC_ENTER_LOOPER))
		return 10;
	if (write(ready, "r", 1) != 1)
		return 11;
	for (;;) {
		size_t done, off = 0;

		if (bwr(p.fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			return 12;
		while (off + 4 <= done) {
			__u8 out[128];
			size_t n = 0;
			__u32 cmd;
			struct binder_transaction_data tr, re = { 0 };
			struct reply rep = { 0 };
			struct binder_fd_object fo = { 0 };
			binder_size_t fo_off = 0;
			int pfd[2];

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd != BR_TRANSACTION)
				continue;
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			if (tr.flags & TF_ONE_WAY) {
				/* No reply: check the order and the bytes, free the buffer. */
				if (tr.code != CODE_ONEWAY_BASE + oneway_seen ||
				    !in_map(&p, tr.data.ptr.buffer, tr.data_size) ||
				    !pattern_ok((__u8 *)(uintptr_t)tr.data.ptr.buffer, tr.data_size,
						tr.data_size))
					oneway_bad = 1;
				oneway_seen++;
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
				if (in_map(&p, tr.data.ptr.buffer, tr.data_size)) {
					rep.status = R_IN_MAP;
					rep.offset = tr.data.ptr.buffer - (uintptr_t)p.map;
					if (pattern_ok((__u8 *)(uintptr_t)tr.data.ptr.buffer,
						       tr.data_size, tr.data_size))
						rep.status |= R_BYTES_OK;
				}
				/* A held buffer is freed with the next transaction. */
				if (held)
					n = put(out, n, BC_FREE_BUFFER, &held, sizeof(held));
				held = 0;
				if (tr.code == CODE_HOLD)
					held = tr.data.ptr.buffer;
				else
					n = put(out, n, BC_FREE_BUFFER, &tr.data.ptr.buffer,
						sizeof(tr.data.ptr.buffer));
			}
			if (tr.code == CODE_ONEWAY_QUERY) {
				rep.offset = oneway_seen;
				if (oneway_bad)
					rep.status |= R_ONEWAY_BAD;
			}
			/* Unmapped before the reply: the sender goes on once it is done. */
			if (tr.code == CODE_UNMAP) {
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

static int server_start(struct server *s)
{
	int pipefd[2];
	char c;

	if (pipe(pipefd))
		return -1;
	s->pid = fork();
	if (s->pid < 0)
		return -1;
	if (s->pid == 0) {
		close(pipefd[0]);
		_exit(serve(pipefd[1]));
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

/* Waits for the server; returns its exit status, or -1 if it did not exit normally. */
static int server_wait(struct server *s)
{
	int st;

	if (waitpid(s->pid, &st, 0) != s->pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/*
 * The receiver (forked, the context manager) and the sender (this process, its own mapping).
 * 0 when both are up; otherwise -1 with errno set, the receiver killed and reaped if it had
 * started, and, if NAME is given, the case NAME reported as failed.
 */
static int pair_start(struct server *s, struct bproc *c, const char *name)
{
	const char *who = "receiver";
	int err = 0;

	if (server_start(s)) {
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

/*
 * A synchronous transaction to handle 0 of N bytes (the pattern seeded with N). Returns the
 * BR_ code that ended it (BR_REPLY, BR_DEAD_REPLY, BR_FAILED_REPLY, ...) or 0 on an ioctl
 * error; with BR_REPLY, *REP holds the receiver's answer and *REPLY_IN_MAP whether the
 * reply's buffer lay in our mapping, which is then freed.
 */
/* The last reply transact() read, and its first bytes (if it lay in the sender's mapping). */
static struct binder_transaction_data last_reply;
static __u8 last_reply_data[64];

static __u32 transact_flags(struct bproc *c, __u32 code, size_t n, __u32 flags,
			    struct reply *rep, int *reply_in_map)
{
	static __u8 data[256 * 1024];
	struct binder_transaction_data out = { .code = code, .flags = flags, .data_size = n };
	__u8 wbuf[4 + sizeof(out)];
	__u32 rbuf[128];

	pattern(data, n, n);
	out.target.handle = 0;
	out.data.ptr.buffer = (uintptr_t)data;
	if (bwr(c->fd, wbuf, put(wbuf, 0, BC_TRANSACTION, &out, sizeof(out)), NULL, 0, NULL))
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
				if (flags & TF_ONE_WAY)
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

static __u32 transact(struct bproc *c, __u32 code, size_t n, struct reply *rep,
		      int *reply_in_map)
{
	return transact_flags(c, code, n, 0, rep, reply_in_map);
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
	if (!strcmp(driver, "c")) {
		*want = "BR_DEAD_REPLY";
		*why = "C Binder's vm_ops->close clears the allocator's VMA: no buffer space";
		return br == BR_DEAD_REPLY;
	}
	if (!used_pages) {
		*want = "BR_FAILED_REPLY";
		*why = "Rust Binder has no vm_ops->close: a new page finds no VMA";
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
 * Neither driver can be unloaded: C Binder has no module_exit (delete_module() says EBUSY), the
 * Rust Binder holds a reference to itself from its init on (our patch 0002: it has no exit
 * path; delete_module() says EWOULDBLOCK). Either way the module must still be loaded after.
 */
static void case_unload_refused(void)
{
	const char *mod = strcmp(driver, "c") ? "rust_binder" : "binder_linux";
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

	if (argc != 2 || (strcmp(argv[1], "c") && strcmp(argv[1], "rust"))) {
		fprintf(stderr, "usage: %s c|rust\n", argv[0]);
		return 2;
	}
	driver = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Our own process group, so that the watchdog can kill every process of the battery. */
	setpgid(0, 0);
	signal(SIGALRM, on_alarm);
	snprintf(suite, sizeof(suite), "rmp_binder_%s", driver);
	ktap_begin(suite, KTAP_PLAN_LATER);
	if (!setup_device()) {
		case_version();
		case_mmap_write_refused();
		case_mmap_other_process();
		case_dontcopy();
		case_context_manager();
		case_round_trips();
		case_oneway();
		case_fd();
		case_death(0);
		case_death(1);
		case_after_unmap(0);
		case_after_unmap(1);
		case_unload_refused();
	}
	alarm(0);
	return ktap_end();
}
