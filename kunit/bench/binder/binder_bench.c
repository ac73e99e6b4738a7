// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, the Binder timings (guest side): real Binder transactions on the UAPI only
 * (linux/android/binder.h, binderfs.h), against the one Binder driver the boot loaded (C
 * Binder, the unmodified Rust Binder or the Rust Binder ported onto the crate: one boot each,
 * see scripts/bench.sh). A receiver process, the context manager of a fresh binderfs device,
 * answers a sender process (this one):
 *
 *   binder_rtt n      a synchronous transaction of n bytes to handle 0 and its reply
 *                     (4 bytes), the reply's buffer freed with the next transaction, as
 *                     libbinder does; time per round trip
 *   binder_oneway n   oneway transactions (TF_ONE_WAY) of n bytes, sent back to back; the
 *                     receiver frees each buffer and tells the sender through a pipe after
 *                     every ONEWAY_WINDOW of them, and the sender never has more than twice
 *                     that many in flight (Binder's async buffer space is half the mapping);
 *                     time per message, from the first send to the receiver's last free
 *
 * Both processes run on CPU 0 (see main()). Every (case, n) is one measurement; a round runs
 * each once, the order rotated by one each round (as rmp_bench rotates its variants);
 * iteration counts are calibrated once per boot so that a measurement lasts about the target
 * time. The lines are rmp_bench's, which
 * kunit/bench/report.py reads; the variant is the driver, the anchors are what the host
 * compares it with (the same round of the other drivers' boots, booted one after another):
 *
 *   rmp-bench-meta: rounds=R target_ms=T timer_ns=C
 *   rmp-bench-case: case=NAME per=UNIT desc="WHAT IS TIMED"
 *   rmp-bench: case=NAME n=N variant=DRIVER anchor=A[,A...] round=R ops=K ns=T
 *
 * Usage: binder_bench -d c|rust|ported [-r ROUNDS] [-t TARGET_MS]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

#define FS_DIR		"/dev/binderfs"
#define DEV_NAME	"rmp-bench"
#define MIB		(1024 * 1024)
/* The receiver's mapping: Binder's largest (4 MiB), so that 1 MiB transactions fit. */
#define RECV_MAP	(4 * MIB)
#define SEND_MAP	MIB
#define ONEWAY_WINDOW	32
#define MAX_MSG		MIB
#define WATCHDOG_SECS	600
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

enum { CODE_SYNC = 1, CODE_ONEWAY, CODE_EXIT };

static char dev_path[64];
static int rounds = 7;
static long long target_ns = 30000000;
static long long timer_ns;
static int ack_rd = -1;		/* sender: the receiver's acknowledgements of oneway windows */
static pid_t receiver = -1;

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	printf("rmp-bench-error: binder: ");
	vprintf(fmt, ap);
	printf(" (errno %d: %s)\n", errno, strerror(errno));
	va_end(ap);
	fflush(stdout);
	if (receiver > 0)
		kill(receiver, SIGKILL);
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return x < y ? -1 : x > y;
}

static long long measure_timer(void)
{
	long long d[1001], t0;

	for (unsigned int i = 0; i < ARRAY_SIZE(d); i++) {
		t0 = now_ns();
		d[i] = now_ns() - t0;
	}
	qsort(d, ARRAY_SIZE(d), sizeof(d[0]), cmp_ll);
	return d[ARRAY_SIZE(d) / 2];
}

/* One BINDER_WRITE_READ: write W (WSZ bytes), then read into R; the bytes read. */
static size_t bwr(int fd, const void *w, size_t wsz, void *r, size_t rsz)
{
	struct binder_write_read b = {
		.write_size = wsz,
		.write_buffer = (uintptr_t)w,
		.read_size = rsz,
		.read_buffer = (uintptr_t)r,
	};
	int ret;

	do {
		ret = ioctl(fd, BINDER_WRITE_READ, &b);
	} while (ret < 0 && errno == EINTR);
	if (ret < 0)
		die("BINDER_WRITE_READ");
	if (b.write_consumed != wsz)
		die("BINDER_WRITE_READ consumed %llu of %zu bytes", b.write_consumed, wsz);
	return b.read_consumed;
}

static size_t put(__u8 *buf, size_t at, __u32 cmd, const void *arg, size_t n)
{
	memcpy(buf + at, &cmd, 4);
	memcpy(buf + at + 4, arg, n);
	return at + 4 + n;
}

static int bopen(size_t size)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		die("open %s", dev_path);
	if (mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED)
		die("mmap of %zu bytes of %s", size, dev_path);
	return fd;
}

/*
 * The receiver: context manager, one looper. A synchronous transaction gets its buffer freed
 * and a 4-byte reply in one write, whose read waits for the next transaction; a oneway one
 * gets its buffer freed with the next read, and every ONEWAY_WINDOW of them a byte on ACK.
 */
static int serve(int ready, int ack)
{
	static __u32 rbuf[1024];
	__u8 out[256];
	size_t n = 0;
	__u32 answer = 0x600d, oneway = 0;
	int fd = bopen(RECV_MAP);
	__u32 looper = BC_ENTER_LOOPER;

	if (ioctl(fd, BINDER_SET_CONTEXT_MGR, 0))
		die("BINDER_SET_CONTEXT_MGR");
	bwr(fd, &looper, sizeof(looper), NULL, 0);
	if (write(ready, "r", 1) != 1)
		die("receiver: ready");
	for (;;) {
		size_t done = bwr(fd, out, n, rbuf, sizeof(rbuf)), off = 0;

		n = 0;
		while (off + 4 <= done) {
			struct binder_transaction_data tr, re = { 0 };
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd == BR_NOOP || cmd == BR_TRANSACTION_COMPLETE ||
			    cmd == BR_SPAWN_LOOPER)
				continue;
			if (cmd != BR_TRANSACTION)
				die("receiver: unexpected BR 0x%x", cmd);
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			n = put(out, n, BC_FREE_BUFFER, &tr.data.ptr.buffer,
				sizeof(tr.data.ptr.buffer));
			if (tr.flags & TF_ONE_WAY) {
				if (++oneway % ONEWAY_WINDOW == 0 && write(ack, "a", 1) != 1)
					die("receiver: ack");
				continue;
			}
			re.data_size = sizeof(answer);
			re.data.ptr.buffer = (uintptr_t)&answer;
			n = put(out, n, BC_REPLY, &re, sizeof(re));
			if (tr.code == CODE_EXIT) {
				/* Its BR_TRANSACTION_COMPLETE read before the exit. */
				bwr(fd, out, n, rbuf, sizeof(rbuf));
				return 0;
			}
		}
	}
}

static void setup_device(void)
{
	struct binderfs_device dev = { 0 };
	int fd;

	mkdir(FS_DIR, 0755);
	if (mount("binder", FS_DIR, "binder", 0, NULL) && errno != EBUSY)
		die("mount binderfs");
	fd = open(FS_DIR "/binder-control", O_RDWR | O_CLOEXEC);
	snprintf(dev.name, sizeof(dev.name), "%s", DEV_NAME);
	if (fd < 0 || ioctl(fd, BINDER_CTL_ADD, &dev))
		die("BINDER_CTL_ADD");
	close(fd);
	snprintf(dev_path, sizeof(dev_path), FS_DIR "/" DEV_NAME);
}

static void receiver_start(void)
{
	int ready[2], ack[2];
	char c;

	if (pipe(ready) || pipe(ack))
		die("pipe");
	receiver = fork();
	if (receiver < 0)
		die("fork");
	if (receiver == 0) {
		close(ready[0]);
		close(ack[0]);
		receiver = -1;
		exit(serve(ready[1], ack[1]));
	}
	close(ready[1]);
	close(ack[1]);
	if (read(ready[0], &c, 1) != 1)
		die("the receiver did not start");
	close(ready[0]);
	ack_rd = ack[0];
}

/* The sender's state: its fd, the reply buffer it still has to free. */
static int sfd = -1;
static binder_uintptr_t pending_free;
static __u8 message[MAX_MSG];

/*
 * One synchronous transaction of N bytes, the previous reply's buffer freed in the same
 * write; waits for the reply.
 */
static void transact(__u32 code, size_t len)
{
	static __u32 rbuf[256];
	struct binder_transaction_data out = { .code = code, .data_size = len };
	__u8 w[16 + 2 * sizeof(out)];
	size_t n = 0, done;

	out.target.handle = 0;
	out.data.ptr.buffer = (uintptr_t)message;
	if (pending_free)
		n = put(w, n, BC_FREE_BUFFER, &pending_free, sizeof(pending_free));
	pending_free = 0;
	n = put(w, n, BC_TRANSACTION, &out, sizeof(out));
	for (;;) {
		size_t off = 0;

		done = bwr(sfd, w, n, rbuf, sizeof(rbuf));
		n = 0;
		while (off + 4 <= done) {
			struct binder_transaction_data tr;
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd == BR_NOOP || cmd == BR_TRANSACTION_COMPLETE)
				continue;
			if (cmd != BR_REPLY)
				die("sender: BR 0x%x instead of BR_REPLY (%zu bytes)", cmd, len);
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			if (tr.data_size != 4 || *(__u32 *)(uintptr_t)tr.data.ptr.buffer != 0x600d)
				die("sender: a reply of %llu bytes, not the receiver's",
				    tr.data_size);
			pending_free = tr.data.ptr.buffer;
			return;
		}
	}
}

/* One oneway transaction of N bytes: returns once the driver has queued it. */
static void send_oneway(size_t len)
{
	static __u32 rbuf[64];
	struct binder_transaction_data out = { .code = CODE_ONEWAY, .flags = TF_ONE_WAY,
					       .data_size = len };
	__u8 w[16 + 2 * sizeof(out)];
	size_t n = 0;

	out.target.handle = 0;
	out.data.ptr.buffer = (uintptr_t)message;
	if (pending_free)
		n = put(w, n, BC_FREE_BUFFER, &pending_free, sizeof(pending_free));
	pending_free = 0;
	n = put(w, n, BC_TRANSACTION, &out, sizeof(out));
	for (;;) {
		size_t done = bwr(sfd, w, n, rbuf, sizeof(rbuf)), off = 0;

		n = 0;
		while (off + 4 <= done) {
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd == BR_TRANSACTION_COMPLETE)
				return;
			if (cmd != BR_NOOP)
				die("sender: BR 0x%x after a oneway transaction of %zu bytes", cmd,
				    len);
		}
	}
}

static void wait_acks(long count)
{
	char buf[64];

	while (count > 0) {
		size_t want = count < (long)sizeof(buf) ? (size_t)count : sizeof(buf);
		ssize_t got = read(ack_rd, buf, want);

		if (got <= 0)
			die("sender: the receiver's acknowledgements");
		count -= got;
	}
}

static long long run_rtt(long n, long iters)
{
	long long t0 = now_ns();

	for (long i = 0; i < iters; i++)
		transact(CODE_SYNC, n);
	return now_ns() - t0;
}

/* ITERS is a multiple of ONEWAY_WINDOW (calibrate() rounds it). */
static long long run_oneway(long n, long iters)
{
	long windows = iters / ONEWAY_WINDOW, acked = 0;
	long long t0 = now_ns();

	for (long w = 0; w < windows; w++) {
		/* At most two windows in flight. */
		if (w >= 2) {
			wait_acks(1);
			acked++;
		}
		for (int i = 0; i < ONEWAY_WINDOW; i++)
			send_oneway(n);
	}
	wait_acks(windows - acked);
	return now_ns() - t0;
}

struct bcase {
	const char *name;
	const char *per;
	const char *desc;
	long n;
	long long (*run)(long n, long iters);
	long unit;	/* iteration counts are multiples of this */
	long iters;
};

static struct bcase cases[] = {
	{ "binder_rtt", "round trip",
	  "synchronous transaction of n bytes to the context manager and its 4-byte reply",
	  64, run_rtt, 1, 0 },
	{ "binder_rtt", "round trip", NULL, 4096, run_rtt, 1, 0 },
	{ "binder_rtt", "round trip", NULL, MIB, run_rtt, 1, 0 },
	{ "binder_oneway", "message",
	  "oneway transactions of n bytes back to back, until the receiver has freed them all",
	  64, run_oneway, ONEWAY_WINDOW, 0 },
};

/* As rmp_bench's calibrate(): a measurement of about target_ns. */
static long calibrate(struct bcase *c)
{
	long iters = c->unit;
	long long t;

	for (;;) {
		t = c->run(c->n, iters);
		if (t >= target_ns / 4 || iters >= 1L << 30)
			break;
		iters *= t > 0 && target_ns / t < 16 ? 4 : 16;
	}
	for (int i = 0; i < 2; i++) {
		iters = (long)((double)iters * target_ns / (t > 0 ? t : 1));
		iters = (iters + c->unit - 1) / c->unit * c->unit;
		if (iters < c->unit)
			return c->unit;
		if (i == 0)
			t = c->run(c->n, iters);
	}
	return iters;
}

int main(int argc, char **argv)
{
	const char *driver = NULL, *anchor;
	unsigned int nc = ARRAY_SIZE(cases);
	cpu_set_t cpu0;
	int opt;

	while ((opt = getopt(argc, argv, "d:r:t:")) != -1) {
		switch (opt) {
		case 'd':
			driver = optarg;
			break;
		case 'r':
			rounds = atoi(optarg);
			break;
		case 't':
			target_ns = atoll(optarg) * 1000000;
			break;
		default:
			driver = NULL;
			optind = argc + 1;
			break;
		}
	}
	if (!driver || optind > argc || (strcmp(driver, "c") && strcmp(driver, "rust") &&
					 strcmp(driver, "ported"))) {
		fprintf(stderr, "usage: %s -d c|rust|ported [-r ROUNDS] [-t TARGET_MS]\n",
			argv[0]);
		return 2;
	}
	/* C Binder is the anchor of both Rust drivers; the port's is the unmodified driver too. */
	anchor = !strcmp(driver, "c") ? "-" : !strcmp(driver, "rust") ? "c" : "rust,c";
	setvbuf(stdout, NULL, _IOFBF, 1 << 16);
	alarm(WATCHDOG_SECS);
	/*
	 * Sender and receiver on one CPU: a wakeup is then a context switch on that CPU, not a
	 * wakeup of the other virtual CPU, whose QEMU thread the host may not be running (TCG
	 * on a shared machine); what is timed is the driver's path, not the host's scheduler.
	 */
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	if (sched_setaffinity(0, sizeof(cpu0), &cpu0))
		die("sched_setaffinity to CPU 0");
	setup_device();
	receiver_start();
	sfd = bopen(SEND_MAP);
	memset(message, 0x5a, sizeof(message));
	timer_ns = measure_timer();
	printf("rmp-bench-meta: rounds=%d target_ms=%lld timer_ns=%lld\n", rounds,
	       target_ns / 1000000, timer_ns);
	for (unsigned int i = 0; i < nc; i++) {
		if (cases[i].desc)
			printf("rmp-bench-case: case=%s per=\"%s\" desc=\"%s\"\n", cases[i].name,
			       cases[i].per, cases[i].desc);
		cases[i].iters = calibrate(&cases[i]);
	}
	for (int r = 0; r < rounds; r++) {
		for (unsigned int j = 0; j < nc; j++) {
			struct bcase *c = &cases[(j + r) % nc];
			long long t = c->run(c->n, c->iters);

			printf("rmp-bench: case=%s n=%ld variant=%s anchor=%s", c->name, c->n,
			       driver, anchor);
			printf(" round=%d ops=%ld ns=%lld\n", r, c->iters, t);
		}
	}
	transact(CODE_EXIT, 0);
	if (waitpid(receiver, NULL, 0) != receiver)
		die("waitpid");
	printf("rmp-bench-end\n");
	fflush(stdout);
	return 0;
}
