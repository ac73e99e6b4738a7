// SPDX-License-Identifier: GPL-2.0
/*
 * Fault-injection sweep of a Binder driver's open, mmap and ioctl paths (Documentation/
 * binder.rst, "The Binder fault sweep"), run in each Binder boot after the battery:
 * binder_fault_sweep c|rust|ported prints the KTAP suite rmp_binder_fault_sweep_<driver>.
 *
 * Each path runs with its 1st, 2nd, ... allocation or user copy failed (fail-nth, through
 * kunit/userspace/fault_sweep.h), until it runs with nothing injected. Every run must end in
 * success or in an error the ABI allows, and after it the driver must still work: the failed
 * step is tried again without injection and must succeed, then a round trip of BIG bytes each
 * way must bring back the right bytes. BIG is more than half of every mapping: a buffer that
 * an error path forgot to free, in the sender's or the receiver's mapping, makes that round
 * trip fail. What an error path leaks in the kernel, the boot's kmemleak scan reports.
 *
 * The receiver is a forked process, context manager of a binderfs device of the sweep's own,
 * never under injection: fail-nth counts the faults of the sweeping task alone.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

#include "../userspace/fault_sweep.h"

#define FS_DIR		"/dev/binderfs-sweep"
#define DEV_NAME	"rmp-sweep"
#define MAP_SIZE	(16 * 1024)
#define BIG		9000		/* more than half of MAP_SIZE, over three pages */
#define EBINDERFAIL	EPROTO		/* op's result for BR_FAILED_REPLY: the driver said no */
#define CODE_EXIT	0xe0e0		/* the receiver replies, then exits */
#define CODE_SYNC	0xe0e1		/* the receiver answers with 4 bytes (sync_receiver()) */
#define WATCHDOG_SECS	150

enum { P_OPEN, P_MMAP, P_CONTEXT_MGR, P_TRANSACTION, P_FREE_BUFFER, NR_PATHS };

static const char *driver;
static char dev_path[64];
static pid_t server_pid;
static __u32 seq = 1;		/* the code of the next transaction, which seeds its bytes */

struct bclient {
	int fd;
	char *map;
};

/* The client every run's usable() checks the driver with, open for the whole sweep. */
static struct bclient keeper = { -1, MAP_FAILED };

static void pattern(__u8 *buf, size_t n, __u32 seed)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = (__u8)(i * 131 + seed * 7 + 1);
}

static int pattern_ok(const __u8 *buf, size_t n, __u32 seed)
{
	for (size_t i = 0; i < n; i++)
		if (buf[i] != (__u8)(i * 131 + seed * 7 + 1))
			return 0;
	return 1;
}

static int in_map(const char *map, binder_uintptr_t ptr, size_t n)
{
	uintptr_t lo = (uintptr_t)map;

	return ptr >= lo && ptr <= lo + MAP_SIZE && n <= lo + MAP_SIZE - ptr;
}

static size_t put(__u8 *buf, size_t at, __u32 cmd, const void *arg, size_t n)
{
	memcpy(buf + at, &cmd, 4);
	memcpy(buf + at + 4, arg, n);
	return at + 4 + n;
}

/* One BINDER_WRITE_READ; 0 or -errno (EINTR retried). */
static long bwr(int fd, const void *w, size_t wsz, void *r, size_t rsz, size_t *rdone)
{
	struct binder_write_read b = {
		.write_size = wsz, .write_buffer = (uintptr_t)w,
		.read_size = rsz, .read_buffer = (uintptr_t)r,
	};
	int ret;

	do {
		ret = ioctl(fd, BINDER_WRITE_READ, &b);
	} while (ret < 0 && errno == EINTR);
	if (rdone)
		*rdone = b.read_consumed;
	return ret < 0 ? -errno : 0;
}

static long free_buffer(int fd, binder_uintptr_t buf)
{
	__u8 w[4 + sizeof(buf)];

	return bwr(fd, w, put(w, 0, BC_FREE_BUFFER, &buf, sizeof(buf)), NULL, 0, NULL);
}

/* Opens the device and maps MAP_SIZE of it; 0 or -errno. */
static long bopen(struct bclient *c)
{
	c->map = MAP_FAILED;
	c->fd = open(dev_path, O_RDWR | O_CLOEXEC);
	if (c->fd < 0)
		return -errno;
	c->map = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, c->fd, 0);
	return c->map == MAP_FAILED ? -errno : 0;
}

static void bclose(struct bclient *c)
{
	if (c->map != MAP_FAILED)
		munmap(c->map, MAP_SIZE);
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->map = MAP_FAILED;
}

/*
 * The receiver: context manager of the device, one looper. A transaction of BIG bytes
 * seeded with its code that lay in its mapping is answered with BIG bytes seeded with the
 * code + 1, anything else with 4 bytes; its buffer is freed with the reply. Answers to a
 * sender that died meanwhile (BR_DEAD_REPLY, BR_FAILED_REPLY) are expected: runs close
 * their client whatever it was waiting for.
 */
static int serve(int ready)
{
	static __u8 out_data[BIG];
	struct bclient p;
	__u32 rbuf[128];
	__u32 bad = 0xbad, enter = BC_ENTER_LOOPER;

	if (bopen(&p) || ioctl(p.fd, BINDER_SET_CONTEXT_MGR, 0))
		return 10;
	if (bwr(p.fd, &enter, sizeof(enter), NULL, 0, NULL))
		return 11;
	if (write(ready, "r", 1) != 1)
		return 12;
	for (;;) {
		size_t done, off = 0;

		if (bwr(p.fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			return 13;
		while (off + 4 <= done) {
			struct binder_transaction_data tr, re = { 0 };
			__u8 w[2 * (4 + sizeof(re))];
			size_t n = 0;
			__u32 cmd;
			int ok;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd != BR_TRANSACTION)
				continue;
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			ok = tr.data_size == BIG && in_map(p.map, tr.data.ptr.buffer, BIG) &&
				pattern_ok((__u8 *)(uintptr_t)tr.data.ptr.buffer, BIG, tr.code);
			n = put(w, n, BC_FREE_BUFFER, &tr.data.ptr.buffer,
				sizeof(tr.data.ptr.buffer));
			if (ok) {
				pattern(out_data, BIG, tr.code + 1);
				re.data_size = BIG;
				re.data.ptr.buffer = (uintptr_t)out_data;
			} else {
				re.data_size = sizeof(bad);
				re.data.ptr.buffer = (uintptr_t)&bad;
			}
			n = put(w, n, BC_REPLY, &re, sizeof(re));
			if (bwr(p.fd, w, n, NULL, 0, NULL))
				return 14;
			if (tr.code == CODE_EXIT)
				return 0;
		}
	}
}

/* A reply to transaction CODE: BIG bytes seeded with CODE + 1, in C's mapping. */
static long reply_ok(const struct bclient *c, const struct binder_transaction_data *tr,
		     __u32 code)
{
	const __u8 *buf = (const __u8 *)(uintptr_t)tr->data.ptr.buffer;

	if (tr->data_size != BIG || !in_map(c->map, tr->data.ptr.buffer, BIG))
		return sw_fail("reply of %llu bytes at %#llx, not BIG in the mapping",
			       (unsigned long long)tr->data_size,
			       (unsigned long long)tr->data.ptr.buffer), -EBADMSG;
	if (!pattern_ok(buf, BIG, code + 1))
		return sw_fail("the reply's bytes are not those sent"), -EBADMSG;
	return 0;
}

/*
 * A synchronous transaction of SIZE bytes at DATA from C, in one BINDER_WRITE_READ and as
 * many reads as it takes. 0 with the reply in *TR (its buffer not freed); -EBINDERFAIL for
 * BR_FAILED_REPLY; -EBADMSG (sw.why set) for an unexpected BR_ code; -errno of a failed ioctl.
 */
static long call(struct bclient *c, __u32 code, const void *data, size_t size,
		 struct binder_transaction_data *tr)
{
	struct binder_transaction_data out = { .code = code, .data_size = size };
	__u8 w[4 + sizeof(out)];
	__u32 rbuf[64];
	size_t wn;
	long rc;

	out.target.handle = 0;
	out.data.ptr.buffer = (uintptr_t)data;
	wn = put(w, 0, BC_TRANSACTION, &out, sizeof(out));
	for (;;) {
		size_t done, off = 0;

		rc = bwr(c->fd, w, wn, rbuf, sizeof(rbuf), &done);
		if (rc)
			return rc;
		wn = 0;
		while (off + 4 <= done) {
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			switch (cmd) {
			case BR_NOOP:
			case BR_TRANSACTION_COMPLETE:
			case BR_SPAWN_LOOPER:
				continue;
			case BR_FAILED_REPLY:
				return -EBINDERFAIL;
			case BR_REPLY:
				memcpy(tr, (char *)rbuf + off - sizeof(*tr), sizeof(*tr));
				return 0;
			default:
				return sw_fail("unexpected return %#x", cmd), -EBADMSG;
			}
		}
	}
}

/*
 * A synchronous transaction of BIG bytes from C. 0 when the reply lay in C's mapping and held
 * the bytes expected (its buffer in *REPLY, not freed); -EBADMSG for a wrong reply; otherwise
 * what call() returned.
 */
static long transact(struct bclient *c, __u32 code, binder_uintptr_t *reply)
{
	static __u8 data[BIG];
	struct binder_transaction_data tr;
	long rc;

	pattern(data, BIG, code);
	rc = call(c, code, data, BIG, &tr);
	if (rc)
		return rc;
	*reply = tr.data.ptr.buffer;
	return reply_ok(c, &tr, code);
}

/*
 * A small transaction from C, its reply freed: the receiver handles transactions in order,
 * so when it answers, it has answered (and freed the buffer of) every transaction queued to
 * it before, such as one a closed client's failed ioctl had queued. 1, or 0 with sw.why set.
 */
static int sync_receiver(struct bclient *c)
{
	__u64 data = 0;
	struct binder_transaction_data tr;
	long rc = call(c, CODE_SYNC, &data, sizeof(data), &tr);

	if (rc == -EBADMSG)
		return 0;
	if (rc)
		return sw_fail("sync with the receiver: %s", rc == -EBINDERFAIL ?
			       "BR_FAILED_REPLY" : strerror(-rc));
	rc = free_buffer(c->fd, tr.data.ptr.buffer);
	return rc ? sw_fail("sync: BC_FREE_BUFFER: %s", strerror(-rc)) : 1;
}

/* A round trip on C, its reply's buffer freed: 1, or 0 with sw.why set. */
static int round_trip(struct bclient *c, const char *what)
{
	binder_uintptr_t reply = 0;
	long rc = transact(c, seq++, &reply);

	if (rc == -EBADMSG)
		return 0;
	if (rc)
		return sw_fail("%s: round trip: %s", what, rc == -EBINDERFAIL ?
			       "BR_FAILED_REPLY" : strerror(-rc));
	rc = free_buffer(c->fd, reply);
	return rc ? sw_fail("%s: BC_FREE_BUFFER: %s", what, strerror(-rc)) : 1;
}

/* ------------------------------------------------------------------------------------------ */
/* The paths. */

static struct bclient cur = { -1, MAP_FAILED };
static binder_uintptr_t held;	/* P_FREE_BUFFER: the reply buffer the op frees */
static int cm_fd = -1;
static char cm_path[sizeof(FS_DIR) + BINDERFS_MAX_NAME + 1];
static int cm_count;

/*
 * After an ioctl error the closed client's transaction may still be queued to the receiver,
 * its buffer taking space in the receiver's mapping: synchronise with the receiver first.
 */
static int usable(void *arg)
{
	(void)arg;
	return sync_receiver(&keeper) &&
		round_trip(&keeper, "the sweep's own client, after the run");
}

static void teardown(void *arg)
{
	(void)arg;
	bclose(&cur);
}

static int setup_none(void *arg)
{
	(void)arg;
	return 0;
}

/* open(): a new binder_proc. */
static long op_open(void *arg)
{
	(void)arg;
	cur.fd = open(dev_path, O_RDWR | O_CLOEXEC);
	return cur.fd < 0 ? -errno : 0;
}

static int check_open(void *arg, long rc, int injected)
{
	struct binder_version v = { -1 };

	(void)arg;
	(void)injected;
	if (rc < 0)	/* The next open works: usable() opens nothing, so do it here. */
		op_open(NULL);
	if (cur.fd < 0)
		return sw_fail("open again, nothing injected: %s", strerror(errno));
	if (ioctl(cur.fd, BINDER_VERSION, &v) || v.protocol_version !=
	    BINDER_CURRENT_PROTOCOL_VERSION)
		return sw_fail("BINDER_VERSION on the new file: %s, version %d",
			       strerror(errno), v.protocol_version);
	cur.map = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, cur.fd, 0);
	if (cur.map == MAP_FAILED)
		return sw_fail("mmap of the new file: %s", strerror(errno));
	return round_trip(&cur, "the file opened");
}

/* mmap() of an open binder file: the driver's buffer space. */
static int setup_mmap(void *arg)
{
	(void)arg;
	cur.fd = open(dev_path, O_RDWR | O_CLOEXEC);
	return cur.fd < 0 ? sw_fail("open: %s", strerror(errno)), -1 : 0;
}

static long op_mmap(void *arg)
{
	(void)arg;
	cur.map = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, cur.fd, 0);
	return cur.map == MAP_FAILED ? -errno : 0;
}

/* A failed mmap() leaves the file mappable: the next mmap() of it works. */
static int check_mmap(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc < 0 && op_mmap(NULL) < 0)
		return sw_fail("mmap again on the same file, nothing injected: %s",
			       strerror(errno));
	return round_trip(&cur, "the file mapped");
}

/*
 * BINDER_SET_CONTEXT_MGR, on a device of its own each run (binderfs, BINDER_CTL_ADD): a
 * device has one context manager, and a closed one goes only when its process is released.
 */
static int setup_cm(void *arg)
{
	struct binderfs_device dev = { 0 };
	int ctl = open(FS_DIR "/binder-control", O_RDWR | O_CLOEXEC), ret;

	(void)arg;
	snprintf(dev.name, sizeof(dev.name), "cm-%d", cm_count++);
	ret = ctl < 0 ? -1 : ioctl(ctl, BINDER_CTL_ADD, &dev);
	if (ctl >= 0)
		close(ctl);
	if (ret)
		return sw_fail("BINDER_CTL_ADD %s: %s", dev.name, strerror(errno)), -1;
	snprintf(cm_path, sizeof(cm_path), FS_DIR "/%s", dev.name);
	cm_fd = open(cm_path, O_RDWR | O_CLOEXEC);
	return cm_fd < 0 ? sw_fail("open %s: %s", cm_path, strerror(errno)), -1 : 0;
}

static long op_cm(void *arg)
{
	(void)arg;
	return ioctl(cm_fd, BINDER_SET_CONTEXT_MGR, 0) ? -errno : 0;
}

/*
 * The failed ioctl can be made again and works; then the device has a context manager: a
 * second process's BINDER_SET_CONTEXT_MGR gets EBUSY.
 */
static int check_cm(void *arg, long rc, int injected)
{
	int fd, ret, err;

	(void)arg;
	(void)injected;
	if (rc < 0 && op_cm(NULL) < 0)
		return sw_fail("BINDER_SET_CONTEXT_MGR again, nothing injected: %s",
			       strerror(errno));
	fd = open(cm_path, O_RDWR | O_CLOEXEC);
	ret = fd < 0 ? -1 : ioctl(fd, BINDER_SET_CONTEXT_MGR, 0);
	err = errno;
	if (fd >= 0)
		close(fd);
	if (fd < 0 || ret == 0 || err != EBUSY)
		return sw_fail("a second context manager: %s (expected EBUSY)",
			       fd < 0 ? "open failed" : ret ? strerror(err) : "accepted");
	return 1;
}

static void teardown_cm(void *arg)
{
	(void)arg;
	if (cm_fd >= 0)
		close(cm_fd);
	cm_fd = -1;
	if (unlink(cm_path))
		sw_fail("unlink %s: %s", cm_path, strerror(errno));
}

/* A synchronous transaction of BIG bytes and its reply, from a new client each run. */
static int setup_client(void *arg)
{
	long rc;

	(void)arg;
	rc = bopen(&cur);
	return rc ? sw_fail("client: %s", strerror(-rc)), -1 : 0;
}

static long op_transaction(void *arg)
{
	(void)arg;
	held = 0;
	return transact(&cur, seq++, &held);
}

/*
 * BR_FAILED_REPLY is the driver's own answer: the thread is left with nothing pending, and
 * its next transaction works. After an ioctl error the client's state is not known (the
 * transaction may be queued, its reply pending): the client is closed, and usable() checks
 * that the driver, and the receiver's buffers, are still whole.
 */
static int check_transaction(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc == -EBADMSG)
		return 0;
	if (rc == 0) {	/* The reply's buffer (free_buffer sweeps BC_FREE_BUFFER). */
		rc = free_buffer(cur.fd, held);
		return rc ? sw_fail("BC_FREE_BUFFER of the reply: %s", strerror(-rc)) : 1;
	}
	if (rc == -EBINDERFAIL)
		return round_trip(&cur, "the same client, after BR_FAILED_REPLY");
	return 1;
}

/* BC_FREE_BUFFER of a reply's buffer. */
static int setup_free(void *arg)
{
	long rc;

	(void)arg;
	if (setup_client(NULL))
		return -1;
	rc = transact(&cur, seq++, &held);
	return rc ? sw_fail("transaction before the free: %s", rc == -EBINDERFAIL ?
			    "BR_FAILED_REPLY" : strerror(-rc)), -1 : 0;
}

static long op_free(void *arg)
{
	(void)arg;
	return free_buffer(cur.fd, held);
}

/*
 * After a failed BC_FREE_BUFFER the buffer is freed again, nothing injected (a buffer freed
 * twice is an error the drivers only log: the failed call may have freed it before its last
 * user copy); then a reply of BIG bytes fits in the client's mapping only if it is free.
 */
static int check_free(void *arg, long rc, int injected)
{
	(void)arg;
	(void)injected;
	if (rc < 0) {
		rc = free_buffer(cur.fd, held);
		if (rc)
			return sw_fail("BC_FREE_BUFFER again, nothing injected: %s",
				       strerror(-rc));
	}
	return round_trip(&cur, "the same client, after BC_FREE_BUFFER");
}

static const struct sw_path paths[NR_PATHS] = {
	[P_OPEN] = { "open", setup_none, op_open, check_open, teardown, usable, 0,
		     { ENOMEM, EFAULT } },
	[P_MMAP] = { "mmap", setup_mmap, op_mmap, check_mmap, teardown, usable, 0, { ENOMEM } },
	[P_CONTEXT_MGR] = { "set_context_mgr", setup_cm, op_cm, check_cm, teardown_cm, usable, 0,
			    { ENOMEM, EFAULT } },
	[P_TRANSACTION] = { "transaction_and_reply", setup_client, op_transaction,
			    check_transaction, teardown, usable, 0,
			    { ENOMEM, EFAULT, EBINDERFAIL } },
	[P_FREE_BUFFER] = { "free_buffer", setup_free, op_free, check_free, teardown, usable, 0,
			    { ENOMEM, EFAULT } },
};

/* binderfs of the sweep's own, a device, its receiver, and the sweep's own client. */
static int start(void)
{
	struct binderfs_device dev = { 0 };
	int ctl, pipefd[2];
	long rc;
	char c;

	mkdir(FS_DIR, 0755);
	if (mount("binder", FS_DIR, "binder", 0, NULL))
		return sw_fail("mount binderfs on %s: %s", FS_DIR, strerror(errno)), -1;
	ctl = open(FS_DIR "/binder-control", O_RDWR | O_CLOEXEC);
	snprintf(dev.name, sizeof(dev.name), "%s", DEV_NAME);
	if (ctl < 0 || ioctl(ctl, BINDER_CTL_ADD, &dev))
		return sw_fail("BINDER_CTL_ADD: %s", strerror(errno)), -1;
	close(ctl);
	snprintf(dev_path, sizeof(dev_path), FS_DIR "/" DEV_NAME);
	if (pipe(pipefd))
		return sw_fail("pipe: %s", strerror(errno)), -1;
	server_pid = sw_fork();
	if (server_pid == 0) {
		close(pipefd[0]);
		_exit(serve(pipefd[1]));
	}
	close(pipefd[1]);
	if (server_pid < 0 || read(pipefd[0], &c, 1) != 1)
		return sw_fail("the receiver never said it was ready"), -1;
	close(pipefd[0]);
	rc = bopen(&keeper);
	if (rc)
		return sw_fail("the sweep's client: %s", strerror(-rc)), -1;
	return round_trip(&keeper, "before the sweep") ? 0 : -1;
}

/* The receiver exits when asked; its status says whether it ever failed. */
static int stop(void)
{
	binder_uintptr_t reply;
	int st = -1;

	transact(&keeper, CODE_EXIT, &reply);
	bclose(&keeper);
	if (server_pid > 0 && waitpid(server_pid, &st, 0) != server_pid)
		return sw_fail("waitpid: %s", strerror(errno));
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		return sw_fail("the receiver: status %#x (10-14: a step of serve() failed)", st);
	return 1;
}

static void body(void)
{
	char title[64];

	/* A hang (a reply that never comes) kills the sweep: sw_main() reports it. */
	alarm(WATCHDOG_SECS);
	if (start()) {
		printf("    # setup: %s\n", sw.why);
		if (server_pid > 0)
			kill(server_pid, SIGKILL);
		return;
	}
	for (int i = 0; i < NR_PATHS; i++)
		sw_run(&paths[i], NULL);
	ktap_check(stop(), "receiver_exits_cleanly", "%s", sw.why);
	/*
	 * How many user copies a transaction makes, so its number of points: about one a page
	 * on every driver. The port copies the sender's bytes straight into each page of the
	 * receiver's buffer (PageArray::copy_from_user_at, rust/pages.rs); through the crate's
	 * former 256-byte stack buffer it made about 16 copies a page.
	 */
	printf("    # transaction_and_reply: expected on %s: %s (%d user copies, %d B)\n", driver,
	       strcmp(driver, "ported") ?
	       "about one user copy a page of payload (a page is copied at once)" :
	       "about one user copy a page of payload (copy_from_user() straight into each page, rust/pages.rs)",
	       sw.results[P_TRANSACTION].cap[SW_COPY], BIG);
	snprintf(title, sizeof(title), "Binder driver %s", driver);
	sw_table(title);
	umount2(FS_DIR, MNT_DETACH);
}

int main(int argc, char **argv)
{
	char suite[48];

	if (argc != 2 || (strcmp(argv[1], "c") && strcmp(argv[1], "rust") &&
			  strcmp(argv[1], "ported"))) {
		fprintf(stderr, "usage: %s c|rust|ported\n", argv[0]);
		return 2;
	}
	driver = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
	snprintf(suite, sizeof(suite), "rmp_binder_fault_sweep_%s", driver);
	return sw_main(suite, NR_PATHS + 1, body);
}
