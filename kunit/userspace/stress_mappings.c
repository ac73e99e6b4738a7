// SPDX-License-Identifier: GPL-2.0
/*
 * Bounded stress of /dev/rust_secretmem, /dev/rust_secretmem_strict and the
 * KUnit module's test device /dev/rmp_kunit.
 *
 * concurrent_first_faults: threads and forked processes fault the same pages
 *   of a fresh secret area at once, each writing its own byte into every
 *   page: afterwards every page holds every writer's byte (all saw the same
 *   page) and the user's locked memory is charged once per page.
 * fork_storm: bursts of children check an area's pages and write into them
 *   while the parent writes too; the parent sees each child's write, and the
 *   charge does not move.
 * open_mmap_close: threads open, map, fault, unmap and close (or close
 *   first); afterwards nothing is charged, no file or VMA data is left, and
 *   the module is unused.
 *
 * The locked memory is read through /dev/rmp_kunit (RMP_KUNIT_IOC_STATS), or, on
 * a kernel without KUnit (make test KERNEL=debian), where the KUnit module is not
 * loaded, through /dev/rmp_locked_vm, and the test device's case is skipped.
 * Each case runs for a few seconds under TCG and prints how much it did.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"
#include "ktap.h"
#include "probe.h"
#include "rmp_kunit.h"

#define KDEV		"/dev/rmp_kunit"
#define SECRETMEM_REFCNT "/sys/module/rust_secretmem/refcnt"
#define FAULT_PAGES	32
#define FAULT_THREADS	6
#define FAULT_PROCS	2
#define WRITERS		(FAULT_THREADS + FAULT_PROCS)
#define FAULT_S		6
#define STORM_PAGES	16
#define STORM_CHILDREN	8
#define STORM_S		5
#define LOOP_THREADS	4
#define LOOP_S		4

static long page;
static int kfd = -1, have_kunit;
static char why[256];

static int kstats(struct rmp_kunit_stats *st)
{
	return ioctl(kfd, RMP_KUNIT_IOC_STATS, st) ? -1 : 0;
}

static long locked_vm(void)
{
	struct rmp_kunit_stats st;

	if (!have_kunit)
		return rmp_user_locked_vm();
	return kstats(&st) ? -1 : (long)st.locked_vm;
}

static int refcnt(const char *path)
{
	FILE *f = fopen(path, "r");
	int n = -1;

	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		fclose(f);
	return n;
}

static unsigned char pattern(long index, long off)
{
	return (unsigned char)(index * 61 + off * 7 + 1);
}

/* One writer of concurrent_first_faults: waits for the start, then every page, in its order. */
struct writer {
	unsigned char *map;
	int id, *go, bad;
};

static void write_pages(struct writer *w)
{
	long order[FAULT_PAGES], j, tmp;
	unsigned char *p;

	for (long i = 0; i < FAULT_PAGES; i++)
		order[i] = i;
	for (long i = FAULT_PAGES - 1; i > 0; i--) {
		j = (i * 7919 + w->id * 104729) % (i + 1);
		tmp = order[i];
		order[i] = order[j];
		order[j] = tmp;
	}
	while (!__atomic_load_n(w->go, __ATOMIC_ACQUIRE))
		sched_yield();
	for (long i = 0; i < FAULT_PAGES; i++) {
		p = w->map + order[i] * page;
		p[w->id * 8] = w->id + 1;
		/* Others' bytes are theirs or not written yet; the rest of the page is zero. */
		for (long off = 0; off < page; off++)
			if (p[off] && !(off % 8 == 0 && off / 8 < WRITERS && p[off] == off / 8 + 1))
				w->bad++;
	}
}

static void *writer_thread(void *arg)
{
	write_pages(arg);
	return NULL;
}

static void test_concurrent_faults(const char *dev, const char *prefix)
{
	struct writer w[WRITERS];
	pthread_t th[FAULT_THREADS];
	long rounds = 0, bad = 0, base = locked_vm(), charged = -1, after = -1;
	double t0 = rmp_now();
	unsigned char *map;
	int fd, *go, status, ok = 1;
	pid_t pid[FAULT_PROCS];
	char name[96];

	snprintf(why, sizeof(why), "ok");
	go = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	while (ok && go != MAP_FAILED && rmp_now() - t0 < FAULT_S) {
		*go = 0;
		fd = open(dev, O_RDWR);
		map = fd < 0 ? MAP_FAILED : mmap(NULL, FAULT_PAGES * page, PROT_READ | PROT_WRITE,
						 MAP_SHARED, fd, 0);
		if (map == MAP_FAILED) {
			snprintf(why, sizeof(why), "open and mmap: %s", strerror(errno));
			ok = 0;
			break;
		}
		for (int i = 0; i < WRITERS; i++)
			w[i] = (struct writer){ .map = map, .id = i, .go = go };
		for (int i = 0; i < FAULT_PROCS; i++) {
			pid[i] = fork();
			if (pid[i] == 0) {
				write_pages(&w[FAULT_THREADS + i]);
				_exit(w[FAULT_THREADS + i].bad ? 1 : 0);
			}
		}
		for (int i = 0; i < FAULT_THREADS; i++)
			pthread_create(&th[i], NULL, writer_thread, &w[i]);
		__atomic_store_n(go, 1, __ATOMIC_RELEASE);
		for (int i = 0; i < FAULT_THREADS; i++) {
			pthread_join(th[i], NULL);
			bad += w[i].bad;
		}
		for (int i = 0; i < FAULT_PROCS; i++) {
			waitpid(pid[i], &status, 0);
			bad += !WIFEXITED(status) || WEXITSTATUS(status);
		}
		/* Every page holds every writer's byte: they all faulted in the same page. */
		for (long p = 0; p < FAULT_PAGES; p++)
			for (int i = 0; i < WRITERS; i++)
				bad += map[p * page + i * 8] != i + 1;
		charged = locked_vm() - base;
		munmap(map, FAULT_PAGES * page);
		close(fd);
		after = locked_vm() - base;
		ok = !bad && charged == FAULT_PAGES && after == 0;
		rounds++;
	}
	printf("    # %s: concurrent_first_faults: %ld rounds over %d pages; "
	       "%d writers (%d threads, %d processes), %.1f s\n",
	       prefix, rounds, FAULT_PAGES, WRITERS, FAULT_THREADS, FAULT_PROCS, rmp_now() - t0);
	snprintf(name, sizeof(name), "%s_concurrent_first_faults", prefix);
	ktap_check(ok && rounds, name,
		   "%s; %ld bad bytes or writers; charged %ld pages for %d (then %ld after close)",
		   why, bad, charged, FAULT_PAGES, after);
}

static void test_fork_storm(const char *dev, const char *prefix)
{
	long base = locked_vm(), forks = 0, bad = 0, drift = 0;
	double t0 = rmp_now();
	unsigned char *map;
	pid_t pid[STORM_CHILDREN];
	int fd, status;
	char name[96];

	fd = open(dev, O_RDWR);
	map = fd < 0 ? MAP_FAILED : mmap(NULL, STORM_PAGES * page, PROT_READ | PROT_WRITE,
					 MAP_SHARED, fd, 0);
	snprintf(name, sizeof(name), "%s_fork_storm", prefix);
	if (map == MAP_FAILED) {
		ktap_check(0, name, "open and mmap: %s", strerror(errno));
		return;
	}
	for (long i = 0; i < STORM_PAGES * page; i++)
		map[i] = pattern(i / page, i % page);
	while (rmp_now() - t0 < STORM_S) {
		for (int c = 0; c < STORM_CHILDREN; c++) {
			long k = forks + c;

			pid[c] = fork();
			if (pid[c] == 0) {
				long bad_child = 0;

				for (long i = 0; i < STORM_PAGES * page; i += 61) {
					if (i % page >= 2048)
						continue;
					bad_child += map[i] != pattern(i / page, i % page);
				}
				map[(k % STORM_PAGES) * page + 2048 + c] = 0x80 | (k & 0x7f);
				_exit(bad_child ? 1 : 0);
			}
		}
		/* The parent writes meanwhile, elsewhere in the pages. */
		for (long p = 0; p < STORM_PAGES; p++)
			map[p * page + 3000] = (unsigned char)forks;
		for (int c = 0; c < STORM_CHILDREN; c++) {
			long k = forks + c;

			if (pid[c] < 0 || waitpid(pid[c], &status, 0) != pid[c] ||
			    !WIFEXITED(status) || WEXITSTATUS(status) ||
			    map[(k % STORM_PAGES) * page + 2048 + c] != (0x80 | (k & 0x7f)))
				bad++;
		}
		forks += STORM_CHILDREN;
		drift += locked_vm() - base != STORM_PAGES;
	}
	munmap(map, STORM_PAGES * page);
	close(fd);
	printf("    # %s: fork_storm: %ld children in bursts of %d, %.1f s\n", prefix, forks,
	       STORM_CHILDREN, rmp_now() - t0);
	ktap_check(!bad && !drift && locked_vm() == base && forks, name,
		   "%ld children failed or were not seen; the charge moved in %ld bursts; %ld pages charged after close",
		   bad, drift, locked_vm() - base);
}

struct loop {
	const char *dev;
	off_t offset;		/* of the mapping (the test device's mode) */
	int check_pattern;	/* pages hold the test device's pattern, else zero then written */
	long rounds, bad;
};

static void *loop_thread(void *arg)
{
	struct loop *l = arg;
	double t0 = rmp_now();
	unsigned char *p, *q;
	int fd, late;
	long n;

	for (n = 0; rmp_now() - t0 < LOOP_S; n++) {
		late = n % 2;
		fd = open(l->dev, O_RDWR);
		p = fd < 0 ? MAP_FAILED : mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED,
					       fd, l->offset);
		if (p == MAP_FAILED) {
			l->bad++;
			if (fd >= 0)
				close(fd);
			continue;
		}
		q = p + (n % 4) * page;
		if (l->check_pattern) {
			l->bad += q[5] != pattern(n % 4, 5);
		} else {
			l->bad += q[5] != 0;
			q[5] = 1;
			l->bad += q[5] != 1;
		}
		if (!late)
			close(fd);
		munmap(p, 4 * page);
		if (late)
			close(fd);
	}
	l->rounds = n;
	return NULL;
}

static long run_loops(struct loop *l)
{
	struct loop each[LOOP_THREADS];
	pthread_t th[LOOP_THREADS];

	for (int t = 0; t < LOOP_THREADS; t++) {
		each[t] = *l;
		pthread_create(&th[t], NULL, loop_thread, &each[t]);
	}
	for (int t = 0; t < LOOP_THREADS; t++) {
		pthread_join(th[t], NULL);
		l->rounds += each[t].rounds;
		l->bad += each[t].bad;
	}
	return l->rounds;
}

static void test_secretmem_loop(const char *dev, const char *prefix)
{
	struct loop l = { .dev = dev };
	long base = locked_vm(), after;
	char name[96];

	run_loops(&l);
	after = locked_vm() - base;
	printf("    # %s: open_mmap_close: %ld rounds in %d threads, %d s\n", prefix, l.rounds,
	       LOOP_THREADS, LOOP_S);
	snprintf(name, sizeof(name), "%s_open_mmap_close_loop", prefix);
	ktap_check(!l.bad && l.rounds && !after && !refcnt(SECRETMEM_REFCNT), name,
		   "%ld of %ld rounds failed; %ld pages charged after; module refcnt %d", l.bad,
		   l.rounds, after, refcnt(SECRETMEM_REFCNT));
}

static void test_kunit_loop(void)
{
	struct loop l = { .dev = KDEV, .offset = 0, .check_pattern = 1 };
	struct rmp_kunit_stats st = { 0 };

	run_loops(&l);
	printf("    # rmp_kunit: open_mmap_close: %ld rounds in %d threads, %d s\n", l.rounds,
	       LOOP_THREADS, LOOP_S);
	/* The test's own /dev/rmp_kunit file is the one left. */
	ktap_check(!l.bad && l.rounds && !kstats(&st) && st.files_live == 1 &&
		   !st.vma_data_live, "rmp_kunit_open_mmap_close_loop",
		   "%ld of %ld rounds failed; %llu files and %llu VMA data alive after", l.bad,
		   l.rounds, st.files_live, st.vma_data_live);
}

int main(void)
{
	static const char * const devs[][2] = {
		{ "/dev/rust_secretmem", "merging" },
		{ "/dev/rust_secretmem_strict", "strict" },
	};

	page = sysconf(_SC_PAGESIZE);
	ktap_begin("rmp_stress_mappings", 7);
	have_kunit = rmp_module_listed(RMP_KUNIT_MODULE);
	if (have_kunit)
		kfd = open(KDEV, O_RDWR);
	if ((have_kunit && kfd < 0) || locked_vm() < 0) {
		printf("    # %s: %s\n", have_kunit ? KDEV : "/dev/rmp_locked_vm", strerror(errno));
		return ktap_end();
	}
	for (int d = 0; d < 2; d++) {
		test_concurrent_faults(devs[d][0], devs[d][1]);
		test_fork_storm(devs[d][0], devs[d][1]);
		test_secretmem_loop(devs[d][0], devs[d][1]);
	}
	if (have_kunit)
		test_kunit_loop();
	else
		ktap_skip("rmp_kunit_open_mmap_close_loop",
			  "no KUnit module: /dev/rmp_kunit is not loaded");
	return ktap_end();
}
