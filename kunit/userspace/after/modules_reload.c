// SPDX-License-Identifier: GPL-2.0
/*
 * Loads and unloads the project's modules 100 times, once the test run has
 * unloaded them (kunit/init.sh runs the programs of kunit/userspace/after/
 * then). Each round loads every module of /etc/rmp/modules in order, uses
 * every device, and unloads them in reverse order; every third round leaves
 * the files open, every third leaves mappings of them (with their files
 * closed), and then each module in use must refuse to unload (the module
 * reference a file or mapping holds) until they are gone. Afterwards the
 * user's locked memory (read through /dev/rmp_kunit) must be back where it
 * was, and so must the free page count (/proc/vmstat nr_free_pages plus the
 * pages the per-CPU lists hold, /proc/zoneinfo's pagesets, caches dropped),
 * sampled after every round: its trend over the rounds (a least
 * squares slope) must lose less than one page a round, and the last count
 * must be within the noise measured over the warm-up rounds of the first.
 * The pages the stack depot took meanwhile count as free (depot_pages()).
 *
 * KUnit must not run the suites of the KUnit modules again at each load:
 * kunit.filter_glob is set to match no suite meanwhile.
 *
 * On a kernel without KUnit (make test KERNEL=debian) the KUnit module is not
 * in /etc/rmp/modules: its device is not used, no canary is planted (there is
 * no kmemleak either), and the locked memory is read through
 * /dev/rmp_locked_vm (kunit/rmp_locked_vm.c, loaded with the others instead).
 *
 * In each of its first CANARIES rounds it plants a leak canary
 * (RMP_KUNIT_IOC_LEAK_CANARY), of which the leak scan at the end
 * (kunit/kmemleak.sh) must report at least one. Planted first, not last: a
 * pointer to one left on a kernel stack or in a register would hide it (one
 * run in a few saw the single canary of an earlier version hidden so), and
 * the rounds overwrite such leftovers.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "rust_binder_pages.h"
#include "../harness.h"
#include "../ktap.h"
#include "../probe.h"
#include "../rmp_kunit.h"

#define ROUNDS		100
#define CANARIES	8
#define WARMUP		5
#define MAX_MODULES	16
#define FILTER		"/sys/module/kunit/parameters/filter_glob"
#define NO_SUITE	"rmp_modules_reload_runs_no_suite"

enum { NOTHING_LEFT, FILES_LEFT, MAPPINGS_LEFT };

static const char * const devices[] = {
	"/dev/rust_secretmem", "/dev/rust_secretmem_strict", "/dev/rust_binder_pages",
	"/dev/rmp_kunit",
};

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define NR_DEVICES	ARRAY_SIZE(devices)

static char modules[MAX_MODULES][64];
static int nr_modules;
/* The KUnit module is loaded (its test device is the last of devices[]); else one fewer. */
static int have_kunit;
static unsigned int nr_devices = NR_DEVICES;
static long page;
static char why[1200];

static int write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n = fd < 0 ? -1 : write(fd, value, strlen(value));

	if (fd >= 0)
		close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

static long vmstat_value(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	char key[64];
	long value, found = -1;

	while (f && fscanf(f, "%63s %ld", key, &value) == 2)
		if (!strcmp(key, name))
			found = value;
	if (f)
		fclose(f);
	return found;
}

/*
 * The free pages the per-CPU lists hold (the "count:" of every pageset in /proc/zoneinfo):
 * nr_free_pages does not count them, and their number moves by a thousand pages and more
 * from one round to the next as the lists' high marks adapt (seen on Debian's stock kernel,
 * while the sum of the two stayed within a few dozen pages; on arm64 as a slope of -3 to -5
 * pages a round of nr_free_pages alone, with every leak check clean).
 */
static long pcp_pages(void)
{
	FILE *f = fopen("/proc/zoneinfo", "r");
	char key[64];
	long sum = 0, value;
	int c;

	if (!f)
		return -1;
	while (fscanf(f, "%63s", key) == 1) {
		if (!strcmp(key, "count:") && fscanf(f, "%ld", &value) == 1)
			sum += value;
		while ((c = fgetc(f)) != EOF && c != '\n')
			;
	}
	fclose(f);
	return sum;
}

/*
 * The pages of the stack depot (lib/stackdepot.c): KASAN and kmemleak store the stack of
 * every allocation there, each distinct stack once, in pools of 1 << DEPOT_POOL_ORDER (2)
 * pages that are never freed. Where a module lands at a new address at each load (arm64:
 * fresh vmalloc ranges, where x86_64 reuses its EXECMEM_ROX_CACHE addresses), the stacks
 * through its code are new ones, and the depot grows at every round: on arm64 by 548 pages
 * in the 105 rounds of a test run, where the free pages alone fell by 204 (-2 a round, the
 * check's old failure). Those pages are the kernel's, so they count as free. 0 where the
 * kernel has no depot statistics (no KASAN, kmemleak or page_owner).
 */
static long depot_pages(void)
{
	FILE *f = fopen("/sys/kernel/debug/stackdepot/stats", "r");
	long pools = 0;

	if (f && fscanf(f, "pools: %ld", &pools) != 1)
		pools = -1;
	if (f)
		fclose(f);
	return pools < 0 ? -1 : 4 * pools;
}

/*
 * Free pages, in the buddy lists and the per-CPU lists, with the caches dropped first, plus
 * those the stack depot took since the start.
 */
static long depot_start = -1;

static long free_pages(void)
{
	long free, pcp, depot;

	sync();
	write_file("/proc/sys/vm/drop_caches", "3");
	free = vmstat_value("nr_free_pages");
	pcp = pcp_pages();
	depot = depot_pages();
	if (depot_start < 0)
		depot_start = depot;
	return free < 0 || pcp < 0 || depot < 0 ? -1 : free + pcp + depot - depot_start;
}

static int load(const char *name)
{
	char path[128];
	int fd, err;

	snprintf(path, sizeof(path), "/lib/modules/%s.ko", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	err = syscall(SYS_finit_module, fd, "", 0) ? errno : 0;
	close(fd);
	return err;
}

static int unload(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? errno : 0;
}

static int loaded(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/module/%s", name);
	return !access(path, F_OK);
}

static long locked_vm(void)
{
	struct rmp_kunit_stats st;
	int fd;
	long n = -1;

	if (!have_kunit)
		return rmp_user_locked_vm();
	fd = open("/dev/rmp_kunit", O_RDWR);
	if (fd >= 0 && !ioctl(fd, RMP_KUNIT_IOC_STATS, &st))
		n = st.locked_vm;
	if (fd >= 0)
		close(fd);
	return n;
}

/* A leak the scan at the end must find. */
static void plant_canary(void)
{
	static int planted;
	int fd;

	if (planted == CANARIES || !have_kunit)
		return;
	fd = open("/dev/rmp_kunit", O_RDWR);
	if (fd >= 0 && !ioctl(fd, RMP_KUNIT_IOC_LEAK_CANARY) && !planted++) {
		close(open("/tmp/rmp-kmemleak-canary", O_WRONLY | O_CREAT, 0644));
		printf("rmp-harness: kmemleak canary planted\n");
	}
	if (fd >= 0)
		close(fd);
}

/* Every device used: opened, and in MAPPINGS_LEFT rounds mapped and touched. */
struct use {
	int fd[NR_DEVICES];
	unsigned char *map[NR_DEVICES];
};

static int use_devices(struct use *u, int how)
{
	struct rbp_send send;
	unsigned char byte = 7;

	for (unsigned int d = 0; d < nr_devices; d++) {
		u->map[d] = MAP_FAILED;
		u->fd[d] = open(devices[d], O_RDWR);
		if (u->fd[d] < 0) {
			snprintf(why, sizeof(why), "open %s: %s", devices[d], strerror(errno));
			return 0;
		}
		if (how != MAPPINGS_LEFT)
			continue;
		u->map[d] = mmap(NULL, 2 * page, d == 2 || d == 3 ? PROT_READ :
				 PROT_READ | PROT_WRITE, MAP_SHARED, u->fd[d], 0);
		if (u->map[d] == MAP_FAILED) {
			snprintf(why, sizeof(why), "mmap %s: %s", devices[d], strerror(errno));
			return 0;
		}
		if (d < 2) {		/* secret areas: two pages charged */
			u->map[d][0] = 1;
			u->map[d][page] = 1;
		} else if (d == 2) {	/* binder: a page sent */
			send = (struct rbp_send){
				.offset = 5, .len = 1, .data = (unsigned long)&byte
			};
			if (ioctl(u->fd[d], RBP_IOC_SEND, &send) || u->map[d][5] != byte) {
				snprintf(why, sizeof(why), "SEND: %s", strerror(errno));
				return 0;
			}
		} else if (!u->map[d][0]) {	/* the test device's pattern starts at 1 */
			snprintf(why, sizeof(why), "the test device's page reads 0");
			return 0;
		}
		close(u->fd[d]);
		u->fd[d] = -1;
	}
	return 1;
}

static void release(struct use *u)
{
	for (unsigned int d = 0; d < nr_devices; d++) {
		if (u->map[d] != MAP_FAILED)
			munmap(u->map[d], 2 * page);
		if (u->fd[d] >= 0)
			close(u->fd[d]);
		u->map[d] = MAP_FAILED;
		u->fd[d] = -1;
	}
}

/* Modules that a file or mapping holds must refuse to unload; the library while used. */
static int refused_while_used(void)
{
	static const char * const held[] = {
		"rust_secretmem", "rust_binder_pages", "rust_mmap_prepare_kunit",
		"rust_mmap_prepare",
	};
	int err;

	for (int m = nr_modules - 1; m >= 0; m--) {
		err = unload(modules[m]);
		for (unsigned int h = 0; h < ARRAY_SIZE(held); h++) {
			if (strcmp(modules[m], held[h]))
				continue;
			if (!err || (err != EAGAIN && err != EBUSY)) {
				snprintf(why, sizeof(why), "unloading %s while in use: %s",
					 modules[m], err ? strerror(err) : "unloaded");
				return 0;
			}
		}
	}
	return 1;
}

/* One round; 0 with why set on failure. BASE: locked_vm before, or -1 to learn it. */
static int round_trip(int how, long *base)
{
	struct use u;
	long charged;
	int err;

	for (int m = 0; m < nr_modules; m++) {
		err = load(modules[m]);
		if (err) {
			snprintf(why, sizeof(why), "loading %s: %s", modules[m], strerror(err));
			return 0;
		}
	}
	if (*base < 0)
		*base = locked_vm();
	plant_canary();
	if (!use_devices(&u, how))
		return 0;
	charged = locked_vm() - *base;
	if (how == MAPPINGS_LEFT ? charged != 4 : charged != 0) {
		snprintf(why, sizeof(why), "%ld pages charged with the devices in use", charged);
		return 0;
	}
	if (how != NOTHING_LEFT && !refused_while_used())
		return 0;
	release(&u);
	charged = loaded(have_kunit ? RMP_KUNIT_MODULE : "rmp_locked_vm") ? locked_vm() - *base : 0;
	if (charged) {
		snprintf(why, sizeof(why), "%ld pages still charged after release", charged);
		return 0;
	}
	for (int m = nr_modules - 1; m >= 0; m--) {
		err = loaded(modules[m]) ? unload(modules[m]) : 0;
		if (err) {
			snprintf(why, sizeof(why), "unloading %s after release: %s", modules[m],
				 strerror(err));
			return 0;
		}
	}
	return 1;
}

int main(void)
{
	long base = -1, warm[WARMUP], before, after, lo, hi, noise, tolerance, locked_after = -1;
	double sx = 0, sy = 0, sxx = 0, sxy = 0, slope = 0, first = 0, last = 0;
	long sample;
	char old_filter[256] = "";
	int ok = 1, n = 0, fd;
	double t0;
	FILE *f;

	page = sysconf(_SC_PAGESIZE);
	ktap_begin("rmp_modules_reload", 3);
	f = fopen("/etc/rmp/modules", "r");
	while (f && nr_modules < MAX_MODULES && fscanf(f, "%63s", modules[nr_modules]) == 1)
		nr_modules++;
	if (f)
		fclose(f);
	fd = open(FILTER, O_RDONLY);
	if (fd >= 0) {
		if (read(fd, old_filter, sizeof(old_filter) - 1) < 0)
			old_filter[0] = 0;
		old_filter[strcspn(old_filter, "\n")] = 0;
		close(fd);
	}
	have_kunit = rmp_module_listed(RMP_KUNIT_MODULE);
	nr_devices = have_kunit ? NR_DEVICES : NR_DEVICES - 1;
	/* Without KUnit no module's suites can run at load: there is no filter to set. */
	if (!nr_modules || loaded(modules[0]) ||
	    ((have_kunit || !access(FILTER, F_OK)) && write_file(FILTER, NO_SUITE))) {
		printf("    # %d modules in /etc/rmp/modules; %s loaded; filter_glob: %s\n",
		       nr_modules, nr_modules ? modules[0] : "-", strerror(errno));
		return ktap_end();
	}
	/* For depot_pages(): kunit/kmemleak.sh mounts it in a test run, not on every kernel. */
	if (access("/sys/kernel/debug/stackdepot", F_OK))
		mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	t0 = rmp_now();
	/* Warm-up rounds, which also measure the noise of the free page count. */
	for (int i = 0; ok && i < WARMUP; i++) {
		ok = round_trip(i % 3, &base);
		warm[i] = free_pages();
	}
	lo = warm[0];
	hi = warm[0];
	for (int i = 1; i < WARMUP; i++) {
		lo = warm[i] < lo ? warm[i] : lo;
		hi = warm[i] > hi ? warm[i] : hi;
	}
	noise = hi - lo;
	before = free_pages();
	for (n = 0; ok && n < ROUNDS; n++) {
		ok = round_trip(n % 3, &base);
		sample = free_pages();
		sx += n;
		sy += sample;
		sxx += (double)n * n;
		sxy += (double)n * sample;
	}
	after = free_pages();
	if (n > 1) {
		slope = (n * sxy - sx * sy) / (n * sxx - sx * sx);
		/* The trend line at the first and the last round. */
		first = (sy - slope * sx) / n;
		last = first + slope * (n - 1);
	}
	if (ok && load(modules[0]) == 0) {
		/* The library alone cannot show locked_vm: load up to the test device. */
		for (int m = 1; m < nr_modules; m++)
			load(modules[m]);
		locked_after = locked_vm();
		for (int m = nr_modules - 1; m >= 0; m--)
			unload(modules[m]);
	}
	if (have_kunit || !access(FILTER, F_OK))
		write_file(FILTER,
			   old_filter[0] && strcmp(old_filter, "(null)") ? old_filter : "*.*");
	printf("    # %d rounds of %d modules in %.1f s (after %d warm-up rounds)\n", n,
	       nr_modules, rmp_now() - t0, WARMUP);
	ktap_check(ok && n == ROUNDS, "load_use_unload_100_times_refused_while_in_use",
		   "round %d: %s", n, why);
	printf("    # locked_vm: %ld pages before, %ld after\n", base, locked_after);
	ktap_check(ok && base >= 0 && locked_after == base, "locked_vm_back_where_it_was",
		   "%ld pages before, %ld after", base, locked_after);
	/*
	 * A page kept per round is a slope of -1 and 100 pages in the end: the
	 * slope judges what is lost round by round. The counts judge a loss at
	 * once, a step away from the trend: the trend line's first round must be
	 * within the tolerance of the count before the rounds (a loss in the
	 * first round), and the count after them within the tolerance of its last
	 * round (a loss at the end). The tolerance is three times the spread of
	 * the warm-up rounds, and at least 32 pages. (Comparing the two counts
	 * directly counted the trend twice: Debian's stock kernel, with no stack
	 * depot and no KASAN quarantine to hide it, drifts by 0.06 to 0.39 pages
	 * a round with every build of these modules, 5 to 44 pages in the end.)
	 */
	tolerance = 3 * noise > 32 ? 3 * noise : 32;
	printf("    # free pages (buddy and per-CPU lists): ");
	printf("%ld before, %ld after (%+ld), %+.2f pages a round, ",
	       before, after, after - before, slope);
	printf("%d rounds; ", n);
	printf("warm-up spread %ld pages; the stack depot took %ld pages; ", noise,
	       depot_pages() - depot_start);
	printf("trend %.0f to %.0f\n", first, last);
	ktap_check(before > 0 && n > 1 && first >= before - tolerance &&
		   after >= last - tolerance && slope > -1.0,
		   "free_pages_back_where_they_were",
		   "%ld pages fewer after %d rounds, %+.2f pages a round; trend %.0f pages below the count before, the count after %.0f below the trend (tolerance %ld)",
		   before - after, n, slope, before - first, last - after, tolerance);
	return ktap_end();
}
