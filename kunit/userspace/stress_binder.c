// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded stress of /dev/rust_binder_pages (samples/rust_binder_pages.rs).
 *
 * Every message is made of 128-byte cells, each self-describing: a magic, the
 * sender, the SEND's sequence number, a checksum, and bytes derived from them.
 * A cell of the buffer is either zero or one whole cell of one SEND, so a scan
 * of the receiver's mapping checks every byte it can read, at any moment. Each
 * sender records in shared memory whether each of its SENDs succeeded; every
 * tag a scan finds must belong to a SEND that succeeded: a rejected SEND
 * provably wrote nothing.
 *
 * A scan reads while SENDs copy, so a cell it reads may be torn by a copy in
 * flight: under TCG, or when the sender is preempted in the middle of its
 * copy, a copy can take milliseconds. A torn cell is therefore read again
 * once every sender has stopped between two system calls (no SEND or FREE is
 * in flight then): whole or zero, it was a copy in flight; still torn, it is
 * a partial write that stayed, and the test fails; gone (its page freed by a
 * FREE that returned meanwhile), there is nothing left to judge.
 *
 * storm: senders (threads of the receiver's process, forked processes, and
 *   short-lived children those fork) SEND, FREE and STATS while the receiver
 *   replaces its mapping (MAP_FIXED, by a smaller one at the same address),
 *   moves it (mremap), zaps it (MADV_DONTNEED), frees pages and scans it.
 *   Then, with nothing else running, every page is sent once more and the
 *   whole buffer must read exactly as sent; STATS must count every page and
 *   every byte of every successful SEND of the run.
 * receiver_exits: receivers in children that map the context and exit while
 *   senders SEND; afterwards the context has no receiver and no page.
 * open_mmap_close: threads open, map, SEND, read back, unmap and close.
 *
 * Each case runs for a few seconds (TCG is slow), then prints how much it did.
 * This replaces the stress test binder_pages_user.c used to have.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/types.h>

#include "rust_binder_pages.h"
#include "ktap.h"
#include "probe.h"

#ifndef DEV
#define DEV		"/dev/rust_binder_pages"
#define REFCNT		"/sys/module/rust_binder_pages/refcnt"
#endif
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SIZE		(1024L * 1024)		/* the receiver's mapping, 256 pages */
#define CELL		128
#define MAGIC		0x7ab1ce11u
#define THREADS		4			/* sender threads of the receiver's process */
#define PROCS		3			/* sender processes */
#define SENDERS		(THREADS + PROCS)
#define LOOPS		(THREADS + 2 * PROCS)	/* sender loops: threads, processes and theirs */
#define MAXPAGES	(SIZE / 4096)
/* Tags a sender may number: Debian's stock kernel used 131072 in under STORM_S. */
#define MAXSEQ		(1024u * 1024)
#define STORM_S		20
#define EXITS_S		8
#define LOOP_S		5
#define AT_A		((uintptr_t)0x540000000000)
#define AT_B		((uintptr_t)0x548000000000)

struct cell {
	__u32 magic;
	__u16 sender, part;
	__u32 seq, sum;
	__u8 payload[CELL - 16];
};

/*
 * The SENDs of a sender loop, published for the report: GEN is odd while one
 * is in flight, and SEND k (from 0) wrote [off, off + len) of slot k % FLIGHTS.
 */
#define FLIGHTS		16
struct flight {
	__u32 gen;
	long off[FLIGHTS], len[FLIGHTS];
};

/* Shared by every process of a case (MAP_SHARED | MAP_ANONYMOUS). */
struct shared {
	int stop;
	int pause, parked, loops_done;	/* the receiver stops the sender loops, see park() */
	__u32 freed[MAXPAGES];		/* FREEs of each page by its sender that returned */
	struct flight flight[LOOPS];
	__u32 next_seq[SENDERS];
	__u64 bytes_ok, sends_ok, esrch, einval, other, other_errno;
	__u64 frees, stats, stats_bad, forks, children;
	__u8 ok[SENDERS][MAXSEQ / 8], err[SENDERS][MAXSEQ / 8], seen[SENDERS][MAXSEQ / 8];
};

static struct shared *sh;
static long page;
static int fd;
static char why[512];
static __thread int loop_slot = -1;	/* the sender loop this thread (or its child) runs */

static __u64 mix(__u64 x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	return x ^ (x >> 33);
}

static void set_bit(__u8 *map, __u32 bit)
{
	__atomic_fetch_or(&map[bit / 8], 1 << (bit % 8), __ATOMIC_RELAXED);
}

static int test_bit(const __u8 *map, __u32 bit)
{
	return map[bit / 8] >> (bit % 8) & 1;
}

static void add(__u64 *counter, __u64 n)
{
	__atomic_fetch_add(counter, n, __ATOMIC_RELAXED);
}

/* The checksum of the header: the payload is checked whole against the tag. */
static __u32 cell_sum(const struct cell *c)
{
	__u64 h = mix((__u64)c->sender << 48 | (__u64)c->part << 32 | c->seq);

	return (__u32)(h ^ h >> 32);
}

static void make_cell(struct cell *c, int sender, __u32 seq, int part)
{
	__u64 h = mix((__u64)sender << 40 | (__u64)seq << 8 | part);

	c->magic = MAGIC;
	c->sender = sender;
	c->part = part;
	c->seq = seq;
	for (unsigned int i = 0; i < sizeof(c->payload); i++)
		c->payload[i] = (__u8)(h >> (i % 8 * 8)) ^ (__u8)i;
	c->sum = cell_sum(c);
}

/* 1: a whole cell of a SEND, 0: zero, -1: anything else. */
static int cell_state(const struct cell *c)
{
	static const struct cell zero;
	struct cell want;

	if (!memcmp(c, &zero, sizeof(zero)))
		return 0;
	if (c->magic != MAGIC || c->sender >= SENDERS || c->seq >= MAXSEQ || c->sum != cell_sum(c))
		return -1;
	make_cell(&want, c->sender, c->seq, c->part);
	return memcmp(c, &want, sizeof(want)) ? -1 : 1;
}

static int rbp_send(int f, long off, long len, const void *data)
{
	struct rbp_send s = { .offset = off, .len = len, .data = (uintptr_t)data };

	return ioctl(f, RBP_IOC_SEND, &s) ? errno : 0;
}

static int rbp_free(int f, long off, long len)
{
	struct rbp_free fr = { .offset = off, .len = len };

	return ioctl(f, RBP_IOC_FREE, &fr) ? errno : 0;
}

static int rbp_stats(int f, struct rbp_stats *st)
{
	return ioctl(f, RBP_IOC_STATS, st) ? errno : 0;
}

/*
 * The sequence numbers the final SENDs of storm_final_buffer_and_stats_exact need (one per
 * page of a sender thread): the storm may not take them, however fast the kernel lets it
 * run (Debian's stock kernel ran out of all MAXSEQ within STORM_S).
 */
#define FINAL_SEQS	((MAXPAGES + THREADS - 1) / THREADS)
static __u32 seq_limit = MAXSEQ - FINAL_SEQS;

/* Takes sender's next sequence number below seq_limit; 0 when there is none left. */
static int take_seq(int sender, __u32 *seq)
{
	__u32 s = __atomic_load_n(&sh->next_seq[sender], __ATOMIC_RELAXED);

	do {
		if (s >= seq_limit)
			return 0;
	} while (!__atomic_compare_exchange_n(&sh->next_seq[sender], &s, s + 1, 0,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	*seq = s;
	return 1;
}

/* One tagged SEND of CELLS cells at cell index AT by SENDER; records the outcome. */
static int tagged_send(int f, int sender, long at, int cells, struct cell *buf)
{
	struct flight *fl = loop_slot >= 0 ? &sh->flight[loop_slot] : NULL;
	__u32 seq;
	int err, k;

	if (!take_seq(sender, &seq))
		return -1;
	for (int i = 0; i < cells; i++)
		make_cell(&buf[i], sender, seq, i);
	if (fl) {
		k = __atomic_load_n(&fl->gen, __ATOMIC_SEQ_CST) / 2 % FLIGHTS;
		__atomic_store_n(&fl->off[k], at * CELL, __ATOMIC_SEQ_CST);
		__atomic_store_n(&fl->len[k], (long)cells * CELL, __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&fl->gen, 1, __ATOMIC_SEQ_CST);
	}
	err = rbp_send(f, at * CELL, (long)cells * CELL, buf);
	if (fl)
		__atomic_add_fetch(&fl->gen, 1, __ATOMIC_SEQ_CST);
	if (!err) {
		set_bit(sh->ok[sender], seq);
		add(&sh->sends_ok, 1);
		add(&sh->bytes_ok, (__u64)cells * CELL);
	} else {
		set_bit(sh->err[sender], seq);
		if (err == ESRCH)
			add(&sh->esrch, 1);
		else if (err == EINVAL)
			add(&sh->einval, 1);
		else if (!__atomic_fetch_add(&sh->other, 1, __ATOMIC_RELAXED))
			sh->other_errno = err;
	}
	return err;
}

/* STATS during a storm: pages_mapped <= pages_allocated <= the largest buffer. */
static void checked_stats(int f)
{
	struct rbp_stats st;

	add(&sh->stats, 1);
	if (rbp_stats(f, &st) || st.pages_mapped > st.pages_allocated ||
	    st.pages_allocated > (__u64)SIZE / page)
		add(&sh->stats_bad, 1);
}

/*
 * Between two system calls of a sender loop: waits while the receiver has the
 * senders stopped (sh->pause), counted in sh->parked. A loop's forked children
 * are done by then (it waits for them), so with every loop parked or done, no
 * SEND or FREE is in flight.
 */
static void park(void)
{
	while (__atomic_load_n(&sh->pause, __ATOMIC_SEQ_CST)) {
		__atomic_add_fetch(&sh->parked, 1, __ATOMIC_SEQ_CST);
		while (__atomic_load_n(&sh->pause, __ATOMIC_SEQ_CST))
			usleep(50);
		__atomic_sub_fetch(&sh->parked, 1, __ATOMIC_SEQ_CST);
	}
}

/*
 * A sender: its own pages (page % SENDERS == sender), 1 to 40 cells at a time
 * (up to two pages, across a page boundary), now and then a FREE of one of
 * its pages or STATS; processes also fork children that send a few and exit.
 * SLOT numbers the loop (0 to LOOPS - 1): two loops share each process's id.
 */
static void sender_loop(int sender, int forks, int slot)
{
	struct cell *buf = malloc(40 * CELL);
	__u64 r = mix(sender + 1);
	long pages = SIZE / page, cells_per_page = page / CELL, p, at;
	int cells;
	pid_t pid;

	loop_slot = slot;
	while (buf && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED)) {
		park();
		r = mix(r);
		p = (long)(r % (pages / SENDERS)) * SENDERS + sender;
		at = p * cells_per_page + (long)(r >> 16) % cells_per_page;
		cells = 1 + (int)((r >> 32) % 40);
		if (at + cells > (p + 2) * cells_per_page || at + cells > SIZE / CELL)
			cells = 1;
		if (r % 61 == 0) {
			add(&sh->frees, 1);
			rbp_free(fd, p * page, page);
			__atomic_add_fetch(&sh->freed[p], 1, __ATOMIC_SEQ_CST);
		} else if (r % 7 == 0) {
			checked_stats(fd);
		} else if (forks && r % 97 == 0) {
			pid = fork();
			if (pid == 0) {
				for (int i = 0; i < 3; i++)
					tagged_send(fd, sender, p * cells_per_page + i, 1, buf);
				_exit(0);
			}
			if (pid > 0) {
				add(&sh->forks, 1);
				waitpid(pid, NULL, 0);
			}
		} else if (tagged_send(fd, sender, at, cells, buf) < 0) {
			break;	/* out of sequence numbers */
		}
	}
	free(buf);
	__atomic_add_fetch(&sh->loops_done, 1, __ATOMIC_SEQ_CST);
}

/* ARG: the sender's id, plus its loop's slot times 256. */
static void *sender_thread(void *arg)
{
	sender_loop((int)(intptr_t)arg % 256, 0, (int)(intptr_t)arg / 256);
	return NULL;
}

/* Reading a page whose entry a SEND or MADV_DONTNEED just zapped raises SIGBUS. */
static __thread sigjmp_buf bus_jmp;
static __thread int bus_armed;

static void on_bus(int sig, siginfo_t *info, void *uc)
{
	char msg[96];
	int len;

	(void)uc;
	if (!__atomic_load_n(&bus_armed, __ATOMIC_SEQ_CST)) {
		/* Not a read of the receiver's mapping: a bug; say where, and die of it. */
		len = snprintf(msg, sizeof(msg), "    # unexpected %s at %p\n", strsignal(sig),
			       info->si_addr);
		if (write(1, msg, len) < 0)
			len = 0;
		signal(sig, SIG_DFL);
		return;
	}
	__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
	siglongjmp(bus_jmp, 1);
}

/* Copies the page at P, or returns 0 if it cannot be read now. */
static int copy_page(unsigned char *dst, const unsigned char *p)
{
	if (sigsetjmp(bus_jmp, 1))
		return 0;
	__atomic_store_n(&bus_armed, 1, __ATOMIC_SEQ_CST);
	memcpy(dst, p, page);
	__atomic_store_n(&bus_armed, 0, __ATOMIC_SEQ_CST);
	return 1;
}

struct scan {
	long pages, unreadable, cells, bad;
	long torn, whole, freed;	/* cells read torn, and what became of them */
	long flying, crowded;		/* a SEND to the cell overlapped the read; unknown */
	double stopped;			/* the longest wait for the senders to stop */
	char bad_what[200], torn_what[200];
};

/* What the senders had done before a page was read. */
struct before {
	__u32 freed;		/* FREEs of the page that had returned */
	__u32 gen[LOOPS];	/* each sender loop's SEND count (struct flight) */
};

static void before_reading(long p, struct before *b)
{
	b->freed = __atomic_load_n(&sh->freed[p], __ATOMIC_SEQ_CST);
	for (int l = 0; l < LOOPS; l++)
		b->gen[l] = __atomic_load_n(&sh->flight[l].gen, __ATOMIC_SEQ_CST);
}

/*
 * Whether a SEND to byte OFF of the buffer was in flight at some time since
 * the sender loops' counts were GEN: one of the SENDs from the one in flight
 * then to the one in flight now (-1: too many since to tell).
 */
static int send_overlapped(const __u32 *gen, long off)
{
	for (int l = 0; l < LOOPS; l++) {
		struct flight *fl = &sh->flight[l];
		__u32 now = __atomic_load_n(&fl->gen, __ATOMIC_SEQ_CST);
		long start, len;

		if (now == gen[l] && now % 2 == 0)
			continue;	/* no SEND of this loop since */
		if ((now - 1) / 2 - gen[l] / 2 >= FLIGHTS - 1)
			return -1;
		for (__u32 k = gen[l] / 2; k <= (now - 1) / 2; k++) {
			start = __atomic_load_n(&fl->off[k % FLIGHTS], __ATOMIC_SEQ_CST);
			len = __atomic_load_n(&fl->len[k % FLIGHTS], __ATOMIC_SEQ_CST);
			if (start <= off && off < start + len)
				return 1;
		}
	}
	return 0;
}

/* Every sender loop parked or done: no SEND or FREE in flight, none starting. */
static int senders_stopped(void)
{
	return __atomic_load_n(&sh->parked, __ATOMIC_SEQ_CST) +
	       __atomic_load_n(&sh->loops_done, __ATOMIC_SEQ_CST) == LOOPS;
}

/*
 * Cell I of page P was read torn into COPY, a copy of the page read after B.
 * Stops every sender loop between two system calls, reads the page again into
 * COPY and judges the cell: whole or zero now, it was a copy in flight (unless
 * a FREE of the page returned since: then the torn one is gone, and only what
 * is there now is judged); still torn, a partial write that stayed (the test
 * fails); unreadable, a FREE of the page must have returned since (or the test
 * fails). Returns 0 if the page cannot be read any more.
 */
static int settle(const unsigned char *at, long p, long i, unsigned char *copy,
		  const struct before *b, struct scan *sc)
{
	const struct cell *c = (const struct cell *)(copy + i * CELL);
	int flying = send_overlapped(b->gen, p * page + i * CELL), readable, state, all, freed;
	double t0 = rmp_now(), waited;
	char was[64];

	snprintf(was, sizeof(was), "magic %#x sender %u seq %u", c->magic, c->sender, c->seq);
	sc->torn++;
	sc->flying += flying > 0;
	sc->crowded += flying < 0;
	__atomic_store_n(&sh->pause, 1, __ATOMIC_SEQ_CST);
	while (!(all = senders_stopped()) && rmp_now() - t0 < 10)
		usleep(100);
	waited = rmp_now() - t0;
	if (waited > sc->stopped)
		sc->stopped = waited;
	readable = all && copy_page(copy, at + p * page);
	freed = __atomic_load_n(&sh->freed[p], __ATOMIC_SEQ_CST) != b->freed;
	__atomic_store_n(&sh->pause, 0, __ATOMIC_SEQ_CST);
	state = readable ? cell_state(c) : -1;
	if (all && (readable ? state >= 0 : freed)) {
		/* Whole or zero now, or gone; its page freed (and maybe sent again) since? */
		if (freed)
			sc->freed++;
		else if (!sc->whole++)
			snprintf(sc->torn_what, sizeof(sc->torn_what),
				 "page %ld cell %ld read torn (%s), %s once the senders stopped%s",
				 p, i, was, state ? "whole" : "zero",
				 flying > 0 ? ", a SEND to it in flight during the read" : "");
		return readable;
	}
	if (!sc->bad++)
		snprintf(sc->bad_what, sizeof(sc->bad_what),
			 "page %ld cell %ld: read torn (%s), %s", p, i, was,
			 !all ? "and the senders did not stop in 10 s" :
			 readable ? "still torn with every sender stopped" :
			 "then unreadable with no FREE of it");
	return readable;
}

/*
 * Scans the mapping at AT: every cell whole or zero (a cell read torn is
 * judged again with the senders stopped, see settle()), every tag found
 * recorded as seen.
 */
static void scan(const unsigned char *at, long size, struct scan *sc)
{
	unsigned char *copy = malloc(page);
	const struct cell *c;
	struct before b;
	int state;

	for (long p = 0; copy && p < size / page; p++) {
		sc->pages++;
		before_reading(p, &b);
		if (!copy_page(copy, at + p * page)) {
			sc->unreadable++;
			continue;
		}
		for (long i = 0; i < page / CELL; i++) {
			c = (const struct cell *)(copy + i * CELL);
			state = cell_state(c);
			if (state < 0) {
				if (!settle(at, p, i, copy, &b, sc))
					break;
				state = cell_state(c);
			}
			if (state > 0) {
				sc->cells++;
				set_bit(sh->seen[c->sender], c->seq);
			}
		}
	}
	free(copy);
}

static void *shared_alloc(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

/* The receiver's mapping, of SIZE bytes or half, at one of two reserved places. */
struct receiver {
	unsigned char *at;
	long size;
	long replaced, shrunk, moved, dontneed, freed, scans;
};

static int map_receiver(struct receiver *r, unsigned char *at, long size)
{
	void *p = mmap(at, size, PROT_READ, MAP_SHARED | MAP_FIXED, fd, 0);

	if (p != at) {
		snprintf(why, sizeof(why), "mmap at %p: %s", at, strerror(errno));
		return 0;
	}
	r->at = at;
	r->size = size;
	return 1;
}

/* Puts a reservation where the mapping was: its VMA goes, the address stays ours. */
static int reserve(unsigned char *at)
{
	if (mmap(at, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != at) {
		snprintf(why, sizeof(why), "PROT_NONE over %p: %s", at, strerror(errno));
		return 0;
	}
	return 1;
}

/* One action of the receiver during the storm. */
static int receiver_step(struct receiver *r, __u64 x, struct scan *sc)
{
	unsigned char *other = r->at == (unsigned char *)AT_A ? (unsigned char *)AT_B :
			       (unsigned char *)AT_A;
	long off, len;

	switch (x % 8) {
	case 0:		/* replaced, by a new mapping of the same size */
		r->replaced++;
		return reserve(r->at) && map_receiver(r, r->at, SIZE);
	case 1:		/* replaced by a smaller one at the same address, or back */
		r->shrunk++;
		return reserve(r->at) && map_receiver(r, r->at, r->size == SIZE ? SIZE / 2 : SIZE);
	case 2:		/* moved; the old place reserved again */
		r->moved++;
		if (mremap(r->at, r->size, r->size, MREMAP_MAYMOVE | MREMAP_FIXED, other) !=
		    other) {
			snprintf(why, sizeof(why), "mremap: %s", strerror(errno));
			return 0;
		}
		if (mmap(r->at, r->size, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) != r->at) {
			snprintf(why, sizeof(why), "reserving the old place: %s", strerror(errno));
			return 0;
		}
		r->at = other;
		return 1;
	case 3:
		r->dontneed++;
		off = (long)(x >> 8) % (r->size / page) * page;
		len = (1 + (long)(x >> 24) % 8) * page;
		if (off + len > r->size)
			len = r->size - off;
		if (madvise(r->at + off, len, MADV_DONTNEED)) {
			snprintf(why, sizeof(why), "madvise: %s", strerror(errno));
			return 0;
		}
		return 1;
	case 4:
		r->freed++;
		off = (long)(x >> 8) % r->size;
		len = (long)(x >> 32) % (8 * page);
		rbp_free(fd, off, off + len > r->size ? r->size - off : len);
		return 1;
	default:
		r->scans++;
		scan(r->at, r->size, sc);
		return 1;
	}
}

/* The pages each sender owns, filled whole (32 cells a SEND), with nothing else running. */
static void *final_sender(void *arg)
{
	int t = (int)(intptr_t)arg, err;
	struct cell *buf = malloc(page);

	for (long p = t; buf && p < SIZE / page; p += THREADS) {
		err = tagged_send(fd, t, p * (page / CELL), page / CELL, buf);
		if (err)
			snprintf(why, sizeof(why), "final SEND to page %ld: %s", p,
				 err < 0 ? "out of sequence numbers" : strerror(err));
	}
	free(buf);
	return NULL;
}

/* After the storm: the buffer reads exactly as sent, and STATS counts all of it. */
static int final_check(struct receiver *r)
{
	unsigned char *want = malloc(page), *got = malloc(page);
	struct rbp_stats st = { 0 };
	pthread_t th[THREADS];
	int err, ok = 1;
	__u32 seq;

	if (!want || !got || !reserve(r->at) || !map_receiver(r, r->at, SIZE))
		ok = 0;
	/* Every sender process has exited: the numbers kept for the final SENDs are free. */
	seq_limit = MAXSEQ;
	for (int t = 0; ok && t < THREADS; t++)
		pthread_create(&th[t], NULL, final_sender, (void *)(intptr_t)t);
	for (int t = 0; ok && t < THREADS; t++)
		pthread_join(th[t], NULL);
	ok = ok && !why[0];
	for (long p = 0; ok && p < SIZE / page; p++) {
		const struct cell *c = (const struct cell *)got;
		int t = p % THREADS;

		if (!copy_page(got, r->at + p * page)) {
			snprintf(why, sizeof(why), "final: page %ld is not mapped", p);
			ok = 0;
			break;
		}
		/* The page is thread t's one SEND to it: 32 cells of one sequence number. */
		seq = c->seq % MAXSEQ;
		for (long i = 0; i < page / CELL; i++)
			make_cell((struct cell *)(want + i * CELL), t, seq, i);
		if (!test_bit(sh->ok[t], seq) || memcmp(got, want, page)) {
			snprintf(why, sizeof(why), "final: page %ld is not thread %d's SEND", p, t);
			ok = 0;
		}
	}
	free(want);
	free(got);
	if (!ok)
		return 0;
	err = rbp_stats(fd, &st);
	if (err || st.pages_allocated != (__u64)SIZE / page ||
	    st.pages_mapped != (__u64)SIZE / page || st.bytes_sent != sh->bytes_ok) {
		snprintf(why, sizeof(why),
			 "final STATS %s: %llu allocated, %llu mapped, %llu bytes sent; wanted %ld, %ld, %llu",
			 strerror(err), st.pages_allocated, st.pages_mapped, st.bytes_sent,
			 SIZE / page, SIZE / page, (unsigned long long)sh->bytes_ok);
		return 0;
	}
	return 1;
}

/* No tag of a SEND that failed was ever seen; every tag seen is of a SEND that succeeded. */
static long tags_of_failed_sends(long *seen)
{
	long bad = 0;

	*seen = 0;
	for (int s = 0; s < SENDERS; s++) {
		for (__u32 q = 0; q < MAXSEQ; q++) {
			if (!test_bit(sh->seen[s], q))
				continue;
			(*seen)++;
			if (test_bit(sh->err[s], q) || !test_bit(sh->ok[s], q))
				bad++;
		}
	}
	return bad;
}

static void test_storm(void)
{
	struct receiver r = { 0 };
	struct scan sc = { 0 };
	pthread_t th[THREADS];
	pid_t pid[PROCS];
	double t0 = rmp_now(), elapsed;
	__u64 x = 12345;
	long seen = 0, bad_tags;
	int ok = 1, status, procs_ok = 1;

	why[0] = 0;
	fd = open(DEV, O_RDWR);
	if (fd < 0 || mmap((void *)AT_A, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
			   MAP_FIXED_NOREPLACE, -1, 0) != (void *)AT_A ||
	    mmap((void *)AT_B, SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_FIXED_NOREPLACE, -1, 0) != (void *)AT_B ||
	    !map_receiver(&r, (unsigned char *)AT_A, SIZE)) {
		ktap_check(0, "storm_senders_vs_remapping_receiver", "setup: %s", strerror(errno));
		ktap_check(0, "storm_no_tag_of_a_failed_send", "no setup");
		ktap_check(0, "storm_final_buffer_and_stats_exact", "no setup");
		return;
	}
	for (int i = 0; i < PROCS; i++) {
		pid[i] = fork();
		if (pid[i] == 0) {
			intptr_t arg = THREADS + i + 256 * (THREADS + PROCS + i);
			pthread_t t2;

			/* Two senders per process: a thread and the process itself share one id. */
			pthread_create(&t2, NULL, sender_thread, (void *)arg);
			sender_loop(THREADS + i, 1, THREADS + i);
			pthread_join(t2, NULL);
			_exit(0);
		}
	}
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, sender_thread, (void *)(intptr_t)(t + 256 * t));
	while (ok && rmp_now() - t0 < STORM_S) {
		x = mix(x);
		ok = receiver_step(&r, x, &sc);
		usleep(2000);	/* the senders' turn, with a receiver in place */
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	for (int i = 0; i < PROCS; i++) {
		waitpid(pid[i], &status, 0);
		procs_ok &= WIFEXITED(status) && !WEXITSTATUS(status);
	}
	elapsed = rmp_now() - t0;
	scan(r.at, r.size, &sc);
	printf("    # storm: %.1f s: %llu SENDs ok, %llu ESRCH, %llu EINVAL, %llu other; "
	       "%llu FREEs, %llu STATS, %llu forked senders\n",
	       elapsed, (unsigned long long)sh->sends_ok, (unsigned long long)sh->esrch,
	       (unsigned long long)sh->einval, (unsigned long long)sh->other,
	       (unsigned long long)sh->frees, (unsigned long long)sh->stats,
	       (unsigned long long)sh->forks);
	printf("    # storm: receiver: %ld replaced, %ld shrunk or grown, %ld moved; "
	       "%ld MADV_DONTNEED, %ld FREEs, %ld scans (%ld pages, %ld unreadable, %ld cells)\n",
	       r.replaced, r.shrunk, r.moved, r.dontneed, r.freed, r.scans, sc.pages,
	       sc.unreadable, sc.cells);
	printf("    # storm: %ld cells read torn; "
	       "a SEND to the cell in flight during %ld of the reads, too many to tell for %ld; "
	       "read again with every sender stopped (%.1f ms at most to stop them): %ld whole; "
	       "%ld in a page freed since; %ld still torn\n",
	       sc.torn, sc.flying, sc.crowded, sc.stopped * 1000, sc.whole, sc.freed, sc.bad);
	if (sc.whole)
		printf("    # storm: e.g. %s\n", sc.torn_what);
	ktap_check(ok && procs_ok && !sh->other && !sh->stats_bad && !sc.bad && sh->sends_ok,
		   "storm_senders_vs_remapping_receiver",
		   "%s; sender processes %s; %llu unexpected errors (errno %llu); %llu STATS out of bounds; %ld bad cells (%s)",
		   why[0] ? why : "receiver ok", procs_ok ? "ok" : "failed",
		   (unsigned long long)sh->other, (unsigned long long)sh->other_errno,
		   (unsigned long long)sh->stats_bad, sc.bad, sc.bad_what);
	bad_tags = tags_of_failed_sends(&seen);
	printf("    # storm: %ld distinct tags seen in the buffer, each checked against its SEND\n",
	       seen);
	ktap_check(!bad_tags && seen, "storm_no_tag_of_a_failed_send",
		   "%ld tags of SENDs that did not succeed were found in the buffer (of %ld seen)",
		   bad_tags, seen);
	why[0] = 0;
	ktap_check(final_check(&r), "storm_final_buffer_and_stats_exact", "%s", why);
	munmap((void *)AT_A, SIZE);
	munmap((void *)AT_B, SIZE);
	close(fd);
}

/* Senders of the receiver_exits case: SEND to the context until told to stop. */
static void *exit_sender(void *arg)
{
	int sender = (int)(intptr_t)arg;
	struct cell *buf = malloc(4 * CELL);

	while (buf && !__atomic_load_n(&sh->stop, __ATOMIC_RELAXED))
		if (tagged_send(fd, sender, (sender * 7 + sh->children) % 100, 4, buf) < 0)
			break;
	free(buf);
	return NULL;
}

static void test_receiver_exits(void)
{
	pthread_t th[THREADS];
	struct rbp_stats st = { 0 };
	double t0 = rmp_now();
	int ok = 1, status, sync[2], err;
	unsigned char byte = 1;
	char c;
	pid_t pid;

	memset(sh, 0, sizeof(*sh));
	fd = open(DEV, O_RDWR);
	if (fd < 0 || pipe(sync)) {
		ktap_check(0, "receiver_exits_during_sends", "open: %s", strerror(errno));
		return;
	}
	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, exit_sender, (void *)(intptr_t)t);
	while (ok && rmp_now() - t0 < EXITS_S) {
		pid = fork();
		if (pid == 0) {
			void *p = mmap(NULL, 64 * page, PROT_READ, MAP_SHARED, fd, 0);

			if (write(sync[1], "x", 1) != 1 || p == MAP_FAILED)
				_exit(1);
			usleep(mix(getpid()) % 3000);
			_exit(0);	/* the address space goes, and the receiver with it */
		}
		ok = pid > 0 && read(sync[0], &c, 1) == 1 && waitpid(pid, &status, 0) == pid &&
		     WIFEXITED(status) && !WEXITSTATUS(status);
		/*
		 * The receiver is gone: SEND fails (ESRCH) and no page is left. A SEND
		 * in flight when the receiver exited holds its address space until it
		 * returns (the last mmput() may be the sender's): allow it a second.
		 */
		for (int i = 0; i < 1000; i++) {
			err = rbp_send(fd, 0, 1, &byte);
			if (!err)
				add(&sh->bytes_ok, 1);
			if (err == ESRCH && !rbp_stats(fd, &st) && !st.pages_allocated &&
			    !st.pages_mapped)
				break;
			usleep(1000);
		}
		ok = ok && err == ESRCH && !st.pages_allocated && !st.pages_mapped;
		add(&sh->children, 1);
	}
	__atomic_store_n(&sh->stop, 1, __ATOMIC_RELAXED);
	for (int t = 0; t < THREADS; t++)
		pthread_join(th[t], NULL);
	printf("    # receiver_exits: %.1f s: %llu receivers came and went; "
	       "%llu SENDs ok, %llu ESRCH, %llu other\n",
	       rmp_now() - t0, (unsigned long long)sh->children, (unsigned long long)sh->sends_ok,
	       (unsigned long long)sh->esrch, (unsigned long long)(sh->other + sh->einval));
	ktap_check(ok && !sh->other && !sh->einval && !rbp_stats(fd, &st) &&
		   st.bytes_sent == sh->bytes_ok, "receiver_exits_during_sends",
		   "last receiver: SEND errno %d, %llu pages allocated, %llu mapped; bytes_sent %llu, successful SENDs %llu bytes; %llu unexpected errors",
		   err, st.pages_allocated, st.pages_mapped, st.bytes_sent,
		   (unsigned long long)sh->bytes_ok, (unsigned long long)(sh->other + sh->einval));
	close(sync[0]);
	close(sync[1]);
	close(fd);
}

/* open, mmap, SEND, read back, munmap and close (or close first), in a loop. */
static void *loop_thread(void *arg)
{
	long *bad = arg, n = 0;
	unsigned char msg[300];
	double t0 = rmp_now();
	unsigned char *p;
	int f, late;

	while (rmp_now() - t0 < LOOP_S) {
		late = n % 2;
		f = open(DEV, O_RDWR);
		p = f < 0 ? MAP_FAILED : mmap(NULL, 8 * page, PROT_READ, MAP_SHARED, f, 0);
		memset(msg, (int)(n & 0xff) | 1, sizeof(msg));
		if (p == MAP_FAILED || rbp_send(f, page - 100, sizeof(msg), msg) ||
		    memcmp(p + page - 100, msg, sizeof(msg)))
			(*bad)++;
		if (!late && f >= 0)
			close(f);
		if (p != MAP_FAILED)
			munmap(p, 8 * page);
		if (late && f >= 0)
			close(f);
		n++;
	}
	bad[1] = n;
	return NULL;
}

static void test_open_mmap_close(void)
{
	long res[THREADS][2] = { { 0 } }, bad = 0, n = 0;
	pthread_t th[THREADS];
	FILE *f;
	int refs = -1;

	for (int t = 0; t < THREADS; t++)
		pthread_create(&th[t], NULL, loop_thread, res[t]);
	for (int t = 0; t < THREADS; t++) {
		pthread_join(th[t], NULL);
		bad += res[t][0];
		n += res[t][1];
	}
	f = fopen(REFCNT, "r");
	if (f && fscanf(f, "%d", &refs) != 1)
		refs = -1;
	if (f)
		fclose(f);
	printf("    # open_mmap_close: %ld rounds in %d threads, %d s\n", n, THREADS, LOOP_S);
	ktap_check(!bad && n && refs == 0, "open_mmap_close_loop",
		   "%ld of %ld rounds failed; module refcnt %d after", bad, n, refs);
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_bus, .sa_flags = SA_SIGINFO };

	page = sysconf(_SC_PAGESIZE);
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	ktap_begin("rmp_stress_binder", 5);
	sh = shared_alloc(sizeof(*sh));
	if (!sh) {
		printf("    # shared memory: %s\n", strerror(errno));
		return ktap_end();
	}
	test_storm();
	test_receiver_exits();
	test_open_mmap_close();
	return ktap_end();
}
