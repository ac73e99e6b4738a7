// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, the timings (guest side). Each case runs its variants (the
 * samples' devices and their C anchors) in interleaved rounds, the order
 * rotated by one variant each round; a variant's iteration count is calibrated
 * once so that one measurement lasts about the target time. Every measurement
 * is one line, turned into tables by kunit/bench/report.py:
 *
 *   rmp-bench-meta: rounds=R target_ms=T timer_ns=C
 *   rmp-bench-case: case=NAME per=UNIT desc="WHAT IS TIMED"
 *   rmp-bench: case=NAME n=N variant=V anchor=A[,A...] round=R ops=K ns=T
 *
 * ns is the time of ops units of the case (a unit is what per= says), with
 * the cost of reading the clock taken out where the clock is read per
 * iteration. anchor names the variants V is compared with, round by round
 * ("-" for none).
 *
 * Usage: rmp_bench [-r ROUNDS] [-t TARGET_MS] [-c CASE,CASE...]
 */
#define _GNU_SOURCE
#include <sys/resource.h>
#include <time.h>

#include "bench.h"
#include "../../userspace/proc_maps.h"

struct variant {
	const char *name;
	enum kind kind;
	const char *anchor;	/* comma-separated, NULL: none */
};

static const struct variant v_anon = { "anon", ANON, "memfd_secret" };
static const struct variant v_memfd = { "memfd", MEMFD, "memfd_secret" };
static const struct variant v_secret = { "memfd_secret", SECRET, NULL };
static const struct variant v_rust_secret = { "rust_secretmem", RUST_SECRET, "memfd_secret" };
static const struct variant v_rust_strict = { "rust_secretmem_strict", RUST_STRICT,
					      "memfd_secret" };
static const struct variant v_binder_c = { "binder_c", BINDER_C, "memfd_secret" };
static const struct variant v_binder_rust = { "rust_binder_pages", BINDER_RUST, "binder_c" };
/* SEND and the binder whole life: the Rust sample against its twin and the memfd transport. */
static const struct variant v_binder_rust_send = { "rust_binder_pages", BINDER_RUST,
						   "binder_c,memfd_pwrite" };
/* SEND and FREE: a memfd the receiver maps, written with pwrite() or punched. */
static const struct variant v_pwrite = { "memfd_pwrite", MEMFD, NULL };
static const struct variant v_punch = { "memfd_punch_hole", MEMFD, NULL };
static const struct variant v_binder_c_send = { "binder_c", BINDER_C, "memfd_pwrite" };
static const struct variant v_binder_c_free = { "binder_c", BINDER_C, "memfd_punch_hole" };
static const struct variant v_binder_rust_free = { "rust_binder_pages", BINDER_RUST,
						   "binder_c,memfd_punch_hole" };

typedef long long (*run_fn)(const struct variant *v, long n, long iters);

struct bench_case {
	const char *name;
	const char *per;
	const char *desc;
	run_fn run;
	const long *ns;		/* values of n, ended by a 0 after the first */
	const struct variant *const *variants;	/* NULL-terminated */
	int per_n;		/* one iteration is n units (per=), not one */
	int count_vmas;
};

static int rounds = 7;
static long long target_ns = 30000000;
static long long timer_ns;

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

/* The cost of one clock read in a timed interval (t1 - t0 with nothing between). */
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

/* mmap_munmap: mmap + munmap of n pages of an open area; nothing is touched. */
static long long run_mmap_munmap(const struct variant *v, long n, long iters)
{
	int fd = area_open(v->kind, n * PAGE);
	long long t0, t;

	t0 = now_ns();
	for (long i = 0; i < iters; i++)
		unmap(area_map(v->kind, fd, n * PAGE, 0, NULL), n * PAGE);
	t = now_ns() - t0;
	area_close(fd);
	return t;
}

/* fault: the first write to each of the n pages of a fresh mapping. */
static long long run_fault(const struct variant *v, long n, long iters)
{
	long long total = 0, t0;
	unsigned char *p;
	int fd;

	for (long i = 0; i < iters; i++) {
		fd = area_open(v->kind, n * PAGE);
		p = area_map(v->kind, fd, n * PAGE, 0, NULL);
		t0 = now_ns();
		touch(p, n);
		total += now_ns() - t0 - timer_ns;
		unmap(p, n * PAGE);
		area_close(fd);
	}
	return total;
}

/* create_close: a new area and its close, never mapped. */
static long long run_create_close(const struct variant *v, long n, long iters)
{
	long long t0 = now_ns();

	(void)n;
	for (long i = 0; i < iters; i++)
		area_close(area_open(v->kind, 0));
	return now_ns() - t0;
}

/* teardown: munmap + close of an area whose n pages were all touched. */
static long long run_teardown(const struct variant *v, long n, long iters)
{
	long long total = 0, t0;
	unsigned char *p;
	int fd;

	for (long i = 0; i < iters; i++) {
		fd = area_open(v->kind, n * PAGE);
		p = area_map(v->kind, fd, n * PAGE, 0, NULL);
		touch(p, n);
		t0 = now_ns();
		unmap(p, n * PAGE);
		area_close(fd);
		total += now_ns() - t0 - timer_ns;
	}
	return total;
}

/*
 * first_fault: the first write to a fresh area, one page of an n-page mapping:
 * what an area's first fault costs beyond the next ones (the secret devices
 * make their page slots there).
 */
static long long run_first_fault(const struct variant *v, long n, long iters)
{
	long long total = 0, t0;
	unsigned char *p;
	int fd;

	for (long i = 0; i < iters; i++) {
		fd = area_open(v->kind, n * PAGE);
		p = area_map(v->kind, fd, n * PAGE, 0, NULL);
		t0 = now_ns();
		touch(p, 1);
		total += now_ns() - t0 - timer_ns;
		unmap(p, n * PAGE);
		area_close(fd);
	}
	return total;
}

/* lifecycle: an area's whole life, all timed: create, map n pages, touch each, unmap, close. */
static long long run_lifecycle(const struct variant *v, long n, long iters)
{
	long long t0 = now_ns();
	unsigned char *p;
	int fd;

	for (long i = 0; i < iters; i++) {
		fd = area_open(v->kind, n * PAGE);
		p = area_map(v->kind, fd, n * PAGE, 0, NULL);
		touch(p, n);
		unmap(p, n * PAGE);
		area_close(fd);
	}
	return now_ns() - t0;
}

/* Free address space for n pages. */
static unsigned char *free_range(long n)
{
	void *p = mmap(NULL, n * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("reserving %ld pages", n);
	unmap(p, n * PAGE);
	return p;
}

static void map_adjacent(const struct variant *v, int fd, unsigned char *base, long n)
{
	for (long i = 0; i < n; i++)
		area_map(v->kind, fd, PAGE, i * PAGE, base + i * PAGE);
}

/* adjacent: n one-page mappings of consecutive pages at consecutive addresses, one munmap. */
static long long run_adjacent(const struct variant *v, long n, long iters)
{
	int fd = area_open(v->kind, n * PAGE);
	long long total = 0, t0;
	unsigned char *base;

	for (long i = 0; i < iters; i++) {
		base = free_range(n);
		t0 = now_ns();
		map_adjacent(v, fd, base, n);
		unmap(base, n * PAGE);
		total += now_ns() - t0 - timer_ns;
	}
	area_close(fd);
	return total;
}

/* The VMAs that n adjacent mappings make. */
static int adjacent_vmas(const struct variant *v, long n)
{
	int fd = area_open(v->kind, n * PAGE), vmas;
	unsigned char *base = free_range(n);

	map_adjacent(v, fd, base, n);
	vmas = maps_lines((uintptr_t)base, (uintptr_t)base + n * PAGE);
	unmap(base, n * PAGE);
	area_close(fd);
	return vmas;
}

/* A receiver of BINDER_SIZE bytes: the binder devices, or a memfd mapped read-only. */
struct receiver {
	const struct variant *v;
	int fd;
	unsigned char *map;
	unsigned char *msg;
};

/* A message of len bytes, for a receiver. */
static unsigned char *message(long len)
{
	unsigned char *msg = malloc(len);

	if (!msg)
		die("malloc");
	for (long i = 0; i < len; i++)
		msg[i] = (unsigned char)(i * 7 + 1);
	return msg;
}

static void receiver_open(struct receiver *r, const struct variant *v, unsigned char *msg)
{
	r->v = v;
	r->fd = area_open(v->kind, BINDER_SIZE);
	r->map = mmap(NULL, BINDER_SIZE, PROT_READ, MAP_SHARED, r->fd, 0);
	r->msg = msg;
	if (r->map == MAP_FAILED)
		die("receiver of kind %d", v->kind);
}

static void receiver_close(struct receiver *r)
{
	unmap(r->map, BINDER_SIZE);
	close(r->fd);
}

static void send_msg(struct receiver *r, long len)
{
	struct rbp_send s = { .offset = 0, .len = len, .data = (unsigned long)r->msg };

	if (r->v->kind == MEMFD) {
		if (pwrite(r->fd, r->msg, len, 0) != len)
			die("pwrite");
		return;
	}
	rbp_ioctl(r->fd, RBP_IOC_SEND, &s, "RBP_IOC_SEND");
}

/* FREE of the pages a SEND of len bytes at 0 touched. */
static void free_msg(struct receiver *r, long len)
{
	long whole = (len + PAGE - 1) / PAGE * PAGE;
	struct rbp_free f = { .offset = 0, .len = whole };

	if (r->v->kind == MEMFD) {
		if (fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, whole))
			die("fallocate");
		return;
	}
	rbp_ioctl(r->fd, RBP_IOC_FREE, &f, "RBP_IOC_FREE");
}

/* send: a message of n bytes to offset 0 of a receiver, again and again. */
static long long run_send(const struct variant *v, long n, long iters)
{
	struct receiver r;
	long long t0, t;

	receiver_open(&r, v, message(n));
	send_msg(&r, n);
	t0 = now_ns();
	for (long i = 0; i < iters; i++)
		send_msg(&r, n);
	t = now_ns() - t0;
	free(r.msg);
	receiver_close(&r);
	return t;
}

/* free: FREE of the pages a SEND of n bytes filled (the SEND is not timed). */
static long long run_free(const struct variant *v, long n, long iters)
{
	long long total = 0, t0;
	struct receiver r;

	receiver_open(&r, v, message(n));
	for (long i = 0; i < iters; i++) {
		send_msg(&r, n);
		t0 = now_ns();
		free_msg(&r, n);
		total += now_ns() - t0 - timer_ns;
	}
	free(r.msg);
	receiver_close(&r);
	return total;
}

/*
 * binder_life: a receiver's whole life, all timed: open, map BINDER_SIZE
 * read-only (the binder devices register the mapping in mapped), one message
 * of n bytes (the devices allocate and insert its pages), unmap, close.
 */
static long long run_binder_life(const struct variant *v, long n, long iters)
{
	unsigned char *msg = message(n);
	struct receiver r;
	long long t0 = now_ns(), t;

	for (long i = 0; i < iters; i++) {
		receiver_open(&r, v, msg);
		send_msg(&r, n);
		receiver_close(&r);
	}
	t = now_ns() - t0;
	free(msg);
	return t;
}

static const struct variant *const mmap_variants[] = {
	&v_secret, &v_rust_secret, &v_rust_strict, &v_memfd, &v_anon, &v_binder_c, &v_binder_rust,
	NULL,
};

static const struct variant *const fault_variants[] = {
	&v_secret, &v_rust_secret, &v_rust_strict, &v_memfd, &v_anon, NULL,
};

static const struct variant *const create_variants[] = {
	&v_secret, &v_rust_secret, &v_rust_strict, &v_memfd, &v_binder_c, &v_binder_rust, NULL,
};

static const struct variant *const send_variants[] = {
	&v_pwrite, &v_binder_c_send, &v_binder_rust_send, NULL,
};

static const struct variant *const free_variants[] = {
	&v_punch, &v_binder_c_free, &v_binder_rust_free, NULL,
};

static const long one_page[] = { 1, 0 };
static const long touched_pages[] = { 256, 0 };
static const long no_n[] = { 0, 0 };
static const long adjacent_ns[] = { 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 0 };
static const long message_ns[] = { 64, 4096, 65536, MIB, 0 };
static const long life_pages[] = { 1, 256, 0 };
static const long life_messages[] = { 64, 65536, 0 };

static const struct bench_case cases[] = {
	{ .name = "mmap_munmap", .per = "mapping", .run = run_mmap_munmap, .ns = one_page,
	  .desc = "mmap + munmap of n pages of an open area, untouched",
	  .variants = mmap_variants },
	{ .name = "fault", .per = "page", .run = run_fault, .ns = touched_pages, .per_n = 1,
	  .desc = "first write to each page of a fresh n-page mapping (fault-in)",
	  .variants = fault_variants },
	{ .name = "create_close", .per = "area", .run = run_create_close, .ns = no_n,
	  .desc = "create an area and close it, never mapped (open + close of the device)",
	  .variants = create_variants },
	{ .name = "teardown", .per = "area", .run = run_teardown, .ns = touched_pages,
	  .desc = "munmap + close of an area whose n pages were all touched",
	  .variants = fault_variants },
	{ .name = "first_fault", .per = "area", .run = run_first_fault, .ns = touched_pages,
	  .desc = "first write to a fresh area, one page of an n-page mapping",
	  .variants = fault_variants },
	{ .name = "lifecycle", .per = "area", .run = run_lifecycle, .ns = life_pages,
	  .desc = "create, map n pages, touch each, unmap, close: an area's whole life",
	  .variants = fault_variants },
	{ .name = "adjacent", .per = "set", .run = run_adjacent, .ns = adjacent_ns, .count_vmas = 1,
	  .desc = "n one-page mappings at adjacent addresses and offsets, then one munmap",
	  .variants = fault_variants },
	{ .name = "send", .per = "message", .run = run_send, .ns = message_ns,
	  .desc = "SEND of n bytes to offset 0 of a mapped receiver, again (its pages exist)",
	  .variants = send_variants },
	{ .name = "free", .per = "call", .run = run_free, .ns = message_ns,
	  .desc = "FREE of the pages a SEND of n bytes filled (the SEND is not timed)",
	  .variants = free_variants },
	{ .name = "binder_life", .per = "receiver", .run = run_binder_life, .ns = life_messages,
	  .desc = "open, map 4 MiB read-only, one message of n bytes, unmap, close",
	  .variants = send_variants },
};

/*
 * The iteration count that makes one measurement last about target_ns: grow it
 * until a run lasts a quarter of that, then scale it twice from measured runs
 * (a first short run is often slower than the steady state).
 */
static long calibrate(const struct bench_case *c, const struct variant *v, long n)
{
	long iters = 1;
	long long t;

	for (;;) {
		t = c->run(v, n, iters);
		if (t >= target_ns / 4 || iters >= 1L << 30)
			break;
		iters *= t > 0 && target_ns / t < 16 ? 4 : 16;
	}
	for (int i = 0; i < 2; i++) {
		iters = (long)((double)iters * target_ns / (t > 0 ? t : 1));
		if (iters < 1)
			return 1;
		if (i == 0)
			t = c->run(v, n, iters);
	}
	return iters;
}

static void run_case(const struct bench_case *c, long n)
{
	unsigned int nv = 0;
	long iters[16];
	long long t;

	while (c->variants[nv])
		nv++;

	for (unsigned int i = 0; i < nv; i++) {
		iters[i] = calibrate(c, c->variants[i], n);
		if (c->count_vmas)
			printf("rmp-bench-vmas: case=%s n=%ld variant=%s vmas=%d\n", c->name, n,
			       c->variants[i]->name, adjacent_vmas(c->variants[i], n));
	}
	for (int r = 0; r < rounds; r++) {
		for (unsigned int j = 0; j < nv; j++) {
			unsigned int i = (j + r) % nv;
			const struct variant *v = c->variants[i];

			t = c->run(v, n, iters[i]);
			printf("rmp-bench: case=%s n=%ld variant=%s anchor=%s", c->name, n, v->name,
			       v->anchor ? v->anchor : "-");
			printf(" round=%d ops=%ld ns=%lld\n", r, iters[i] * (c->per_n ? n : 1), t);
		}
	}
	fflush(stdout);
}

static int selected(const char *list, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = list; p && *p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, len) && (p[len] == ',' || !p[len]))
			return 1;
	return !list || !strcmp(list, "all");
}

int main(int argc, char **argv)
{
	struct rlimit unlimited = { RLIM_INFINITY, RLIM_INFINITY };
	const char *only = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "r:t:c:")) != -1) {
		switch (opt) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 't':
			target_ns = atoll(optarg) * 1000000;
			break;
		case 'c':
			only = optarg;
			break;
		default:
			fprintf(stderr, "usage: %s [-r ROUNDS] [-t TARGET_MS] [-c CASE,...]\n",
				argv[0]);
			return 2;
		}
	}
	/* Secret areas are charged to RLIMIT_MEMLOCK. */
	if (setrlimit(RLIMIT_MEMLOCK, &unlimited))
		die("setrlimit(RLIMIT_MEMLOCK)");
	timer_ns = measure_timer();
	printf("rmp-bench-meta: rounds=%d target_ms=%lld timer_ns=%lld\n", rounds,
	       target_ns / 1000000, timer_ns);
	for (unsigned int i = 0; i < ARRAY_SIZE(cases); i++) {
		const struct bench_case *c = &cases[i];

		if (!selected(only, c->name))
			continue;
		printf("rmp-bench-case: case=%s per=%s desc=\"%s\"\n", c->name, c->per, c->desc);
		for (const long *n = c->ns; n == c->ns || *n; n++)
			run_case(c, *n);
	}
	printf("rmp-bench-end\n");
	return 0;
}
