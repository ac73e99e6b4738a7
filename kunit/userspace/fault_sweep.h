/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fault-injection sweeps with /proc/thread-self/fail-nth: a path (one or a
 * few system calls on a device) runs with its 1st, 2nd, 3rd, ... fault
 * injected, until it runs with nothing injected. Every run must end in a
 * clean errno (or succeed: some failures are tolerated) and leave the device
 * consistent, which the path's own checks verify.
 *
 * fail-nth counts every should_fail() of the task: slab and page allocations
 * and user copies (CONFIG_FAILSLAB, CONFIG_FAIL_PAGE_ALLOC,
 * CONFIG_FAULT_INJECTION_USERCOPY). failslab and fail_page_alloc skip
 * allocations that may sleep, and fail_page_alloc order-0 ones, unless told
 * otherwise in debugfs: sw_main() sets ignore-gfp-wait to N and min-order
 * to 0, and verbose to 2, so that each injected failure logs its call trace:
 * after every run the sweep reads the trace from /dev/kmsg and reports where
 * the failure hit (which capability, the first function that is not the
 * allocator, the innermost function of our modules). No verdict depends on a
 * trace: allocations made with __GFP_NOWARN fail without one (the "quiet"
 * points), and what a sweep must prove about where its failures were is
 * proved with the kernel's stack filter instead (see sw_moves()). Meanwhile
 * the console shows only messages of an explicit level of warning or above
 * (kernel.printk "5 5"): the traces, logged at the default level, stay in the
 * log buffer, while every splat header (WARNING:, BUG:, ...) still reaches the
 * console, and a splat in the buffer also fails the sweep. A parent process
 * restores the settings whatever becomes of the sweep.
 *
 * Used by fault_sweep_*.c; each prints one KTAP suite, one case per path,
 * and a table of the points each path reached.
 */
#ifndef RMP_FAULT_SWEEP_H
#define RMP_FAULT_SWEEP_H

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ktap.h"
#include "probe.h"

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define SW_MAX_N	4000	/* a path that still fails at this n did not converge */
#define SW_SITES	24	/* distinct sites in our modules remembered per path */
#define SW_DEBUGFS	"/sys/kernel/debug"
#define SW_PRINTK	"/proc/sys/kernel/printk"

/* Where an injected failure hit, from its trace. */
enum { SW_QUIET, SW_SLAB, SW_PAGE, SW_COPY, SW_OTHER, SW_NR_CAPS };
static const char * const sw_cap_name[SW_NR_CAPS] = {
	"quiet", "slab", "page", "usercopy", "other"
};

struct sw_hit {
	int cap;		/* SW_QUIET: a __GFP_NOWARN allocation, which logs no trace */
	char site[128];		/* the first frame past the allocator or the user copy */
	char ours[200];		/* the innermost frame in one of our modules, "[module] symbol" */
	int syscall, pagefault;	/* a system call's frames; a page fault's */
	int splat;		/* a splat header was logged */
};

/*
 * The core's functions whose failures a move by mremap() must reach: after
 * them mremap() closes the copy of the VMA it has just opened.
 */
enum { SW_COPY_VMA, SW_MOVE_PAGE_TABLES, SW_NR_MOVE_FNS };
#define SW_MOVES	1	/* sw_path.moves */
static const char * const sw_move_fn[SW_NR_MOVE_FNS] = { "copy_vma", "move_page_tables" };

/* One path: a system call (or a few) run under injection, with its checks. */
struct sw_path {
	const char *name;
	/* Before each run, outside the injection window; 0, or -1 with sw.why set. */
	int (*setup)(void *arg);
	/* The system calls under injection: a non-negative result or -errno. */
	long (*op)(void *arg);
	/* After the run: 1 if the state is what the ABI promises after RC, or 0 with sw.why set. */
	int (*check)(void *arg, long rc, int injected);
	/* Undoes setup and whatever op made. */
	void (*teardown)(void *arg);
	/* After teardown: the device is back where it was and usable; 1, or 0 with sw.why set. */
	int (*usable)(void *arg);
	long expect;		/* op's result with nothing injected: >= 0 or -errno */
	int errnos[4];		/* errors allowed under injection; ENOMEM if none given */
	/* A move by mremap(): it must reach the failures of sw_move_fn[], see sw_moves(). */
	int moves;
};

/* What a path reached. */
struct sw_result {
	const char *name;
	int points, ok, moves;
	int cap[SW_NR_CAPS];
	int enomem, efault, other_err, tolerated;
	int in_ours;
	int under[SW_NR_MOVE_FNS], failed[SW_NR_MOVE_FNS];	/* points under sw_move_fn[] */
	int after;		/* injected into the program's own page faults after the call */
	int nsites;
	char sites[SW_SITES][200];
	int site_count[SW_SITES];
	double seconds;
};

static struct {
	int fail_fd, kmsg_fd;
	const char *path;	/* the path running, and its run, for the crash report */
	int run;
	char why[512];
	struct sw_result results[64];
	int nresults;
	unsigned long text[SW_NR_MOVE_FNS][2];	/* where sw_move_fn[] are, [start, end) */
	double start;
} sw;

/* Sets sw.why; returns 0, so that checks can `return sw_fail(...)`. */
static inline int sw_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(sw.why, sizeof(sw.why), fmt, ap);
	va_end(ap);
	return 0;
}

static inline int sw_write_file(const char *path, const char *value)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, value, strlen(value));
	close(fd);
	return n == (ssize_t)strlen(value) ? 0 : -1;
}

static inline int sw_read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

/* The debugfs knobs sweep_begin() sets, and their values; the old values are restored. */
static const char * const sw_knobs[][2] = {
	{ "failslab/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-wait", "N" },
	{ "fail_page_alloc/ignore-gfp-highmem", "N" },
	{ "fail_page_alloc/min-order", "0" },
	{ "failslab/verbose", "2" },
	{ "fail_page_alloc/verbose", "2" },
	{ "fail_usercopy/verbose", "2" },
	/* The stack filter (sw_moves()): off, and at its deepest when on. */
	{ "failslab/require-start", "0" },
	{ "failslab/require-end", "0xffffffffffffffff" },
	{ "failslab/stacktrace-depth", "32" },
	{ "fail_page_alloc/require-start", "0" },
	{ "fail_page_alloc/require-end", "0xffffffffffffffff" },
	{ "fail_page_alloc/stacktrace-depth", "32" },
	{ "fail_usercopy/require-start", "0" },
	{ "fail_usercopy/require-end", "0xffffffffffffffff" },
	{ "fail_usercopy/stacktrace-depth", "32" },
	{ SW_PRINTK, "5 5" },
	{ "/proc/sys/kernel/print-fatal-signals", "1" },
};

#define SW_NR_KNOBS ARRAY_SIZE(sw_knobs)

static char sw_saved[SW_NR_KNOBS][64];

static inline const char *sw_knob_path(unsigned int i, char *buf, size_t size)
{
	if (sw_knobs[i][0][0] == '/')
		return sw_knobs[i][0];
	snprintf(buf, size, "%s/%s", SW_DEBUGFS, sw_knobs[i][0]);
	return buf;
}

static inline void sw_restore_knobs(void)
{
	char path[128];

	for (unsigned int i = 0; i < SW_NR_KNOBS; i++)
		if (sw_saved[i][0])
			sw_write_file(sw_knob_path(i, path, sizeof(path)), sw_saved[i]);
}

/* Arms the n-th fault of this thread. */
static inline void sw_arm(int n)
{
	char buf[16];
	int len = snprintf(buf, sizeof(buf), "%d", n);

	if (pwrite(sw.fail_fd, buf, len, 0) != len)
		sw_fail("arming fail-nth: %s", strerror(errno));
}

/*
 * Disarms; returns 1 if the armed fault was injected. Reading fail-nth is a
 * user copy, which counts too: if the count was 1 the read itself consumes it
 * and fails (EFAULT), which means nothing was injected before. Writing 0 then
 * disarms whatever is left (its own copy may consume the last count: the
 * count is 0 either way).
 */
static inline int sw_disarm(void)
{
	char buf[16] = "";
	ssize_t n = pread(sw.fail_fd, buf, sizeof(buf) - 1, 0);
	int injected = n > 0 && atoi(buf) == 0;

	if (pwrite(sw.fail_fd, "0", 1, 0) != 1 && errno != EFAULT)
		sw_fail("disarming fail-nth: %s", strerror(errno));
	return injected;
}

/* The text of a /dev/kmsg record: after the first ';', up to the newline. */
static inline char *sw_kmsg_text(char *rec)
{
	char *text = strchr(rec, ';');

	if (!text)
		return NULL;
	text++;
	text[strcspn(text, "\n")] = 0;
	return text;
}

static inline int sw_prefixed(const char *s, const char * const *prefixes)
{
	for (; *prefixes; prefixes++)
		if (!strncmp(s, *prefixes, strlen(*prefixes)))
			return 1;
	return 0;
}

/* Frames of the injection machinery, of the allocators and of the user copy. */
static const char * const sw_machinery[] = {
	"show_stack", "dump_stack", "fail_dump", "should_fail", "__should_fail", "kmem_cache_alloc",
	"kmalloc", "__kmalloc", "__do_kmalloc", "kvmalloc", "__kvmalloc", "kvrealloc",
	"krealloc", "__krealloc", "slab_", "__slab", "___slab", "alloc_slab", "allocate_slab",
	"new_slab", "alloc_pages", "__alloc_pages", "alloc_frozen", "__alloc_frozen",
	"prepare_alloc_pages", "folio_alloc", "__folio_alloc", "pagetable_alloc",
	"__get_free_pages", "get_zeroed_page", "_copy_from_user", "_copy_to_user",
	"copy_from_user", "copy_to_user", "_inline_copy", "kasan", "__kasan", "___kasan",
	"vmalloc", "__vmalloc", "vm_area_alloc_pages", "kmemdup", "kstrdup", "mempool_",
	NULL
};

/* Our modules, as the trace names them ("[name]" after a frame). */
static const char * const sw_our_modules[] = {
	"[rust_mmap_prepare]", "[rust_secretmem]", "[rust_binder_pages]",
	"[rust_mmap_prepare_kunit]",
	/* The Binder drivers (kunit/binder/binder_fault_sweep.c). */
	"[binder_linux]", "[rust_binder]", "[rust_binder_ported]", NULL
};

/* Splat headers (kunit/console_to_ktap.py's SPLAT_PATTERNS, less "Call Trace:"). */
static const char * const sw_splats[] = {
	"WARNING:", "BUG:", "kernel BUG at", "Oops", "general protection fault",
	"Kernel panic", "UBSAN:", "refcount_t:", "INFO: possible", "INFO: rcu_",
	"rcu: INFO:", "list_add corruption", "list_del corruption", "KFENCE: ", NULL
};

/* One frame of a trace ("name+0x1/0x2 [module]"). */
static inline void sw_frame(struct sw_hit *hit, const char *text)
{
	const char *mod = strrchr(text, '[');
	char name[128];
	size_t len;

	while (*text == ' ')
		text++;
	if (!strncmp(text, "? ", 2) || *text == '<')
		return;		/* unreliable frame, or <TASK>, <IRQ>... */
	len = strcspn(text, "+ ");
	snprintf(name, sizeof(name), "%.*s", (int)len, text);
#if defined(__aarch64__)
	/*
	 * arm64: el0_svc() -> el0_svc_common() -> invoke_syscall(); a fault,
	 * el0_da() or el1_abort(), -> do_mem_abort() -> do_page_fault() (static
	 * functions, which the compiler may inline: any of them marks it).
	 */
	if (!strncmp(name, "el0_svc", 7) || !strncmp(name, "invoke_syscall", 14))
		hit->syscall = 1;
	if (!strcmp(name, "do_mem_abort") || !strncmp(name, "do_page_fault", 13) ||
	    !strncmp(name, "do_translation_fault", 20))
		hit->pagefault = 1;
#else
	if (!strcmp(name, "do_syscall_64"))
		hit->syscall = 1;
	if (strstr(name, "exc_page_fault"))
		hit->pagefault = 1;
#endif
	if (mod && sw_prefixed(mod, sw_our_modules) && !hit->ours[0])
		snprintf(hit->ours, sizeof(hit->ours), "%.*s %s", (int)strcspn(mod, " "), mod,
			 name);
	/* Rust frames without a module are the kernel crate's (allocation helpers). */
	if (!hit->site[0] && !sw_prefixed(name, sw_machinery) && (mod || strncmp(name, "_R", 2)))
		snprintf(hit->site, sizeof(hit->site), "%s", name);
}

/*
 * Reads the records logged since the last call: the trace of the injected
 * failure, if any, into HIT; splat headers are printed (the console does not
 * show them all during the sweep) and counted.
 */
static inline void sw_read_kmsg(struct sw_hit *hit)
{
	char rec[2048], *text, *name;
	int in_trace = 0;
	ssize_t len;

	memset(hit, 0, sizeof(*hit));
	for (;;) {
		len = read(sw.kmsg_fd, rec, sizeof(rec) - 1);
		if (len < 0 && errno == EPIPE)
			continue;	/* records overwritten before we read them */
		if (len <= 0)
			break;
		rec[len] = 0;
		text = sw_kmsg_text(rec);
		if (!text)
			continue;
		if (strstr(text, "FAULT_INJECTION: forcing a failure")) {
			name = strstr(text, "name ");
			hit->cap = SW_OTHER;
			if (name && !strncmp(name + 5, "failslab", 8))
				hit->cap = SW_SLAB;
			else if (name && !strncmp(name + 5, "fail_page_alloc", 15))
				hit->cap = SW_PAGE;
			else if (name && !strncmp(name + 5, "fail_usercopy", 13))
				hit->cap = SW_COPY;
			in_trace = 1;
			continue;
		}
		for (const char * const *p = sw_splats; *p; p++) {
			if (strstr(text, *p)) {
				printf("    # kernel: %s\n", text);
				hit->splat = 1;
				break;
			}
		}
		if (!in_trace)
			continue;
		if (strstr(text, "</TASK>"))
			in_trace = 0;
		else if (strstr(text, "+0x"))
			sw_frame(hit, text);
#if defined(__aarch64__)
		/*
		 * arm64 closes no trace with </TASK>: it ends at the entry from
		 * userspace (el0t_64_sync) or at a kernel thread's start.
		 */
		if (strstr(text, "el0t_64_") || strstr(text, "ret_from_fork"))
			in_trace = 0;
#endif
	}
}

/*
 * fork() as one system call. glibc's fork() wraps the clone in two
 * rt_sigprocmask calls, so a user copy failed in the second one (fail-nth
 * still armed) left every signal blocked for the rest of the sweep, and the
 * next SIGSEGV killed it without a word. The sweep is single-threaded and its
 * children only _exit() after plain code, so the raw call is enough. arm64
 * has no fork system call: clone() with only the exit signal is one (the
 * generic argument order: flags, stack, parent_tid, tls, child_tid).
 */
static inline pid_t sw_fork(void)
{
#ifdef SYS_fork
	return syscall(SYS_fork);
#else
	return syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, NULL);
#endif
}

/* The signal mask is empty after a run (a path must not leave signals blocked). */
static inline int sw_mask_clean(void)
{
	sigset_t set;

	sigprocmask(SIG_SETMASK, NULL, &set);
	for (int sig = 1; sig < NSIG; sig++)
		if (sigismember(&set, sig) == 1)
			return sw_fail("signal %d left blocked", sig);
	return 1;
}

static inline int sw_errno_allowed(const struct sw_path *p, long rc)
{
	if (!p->errnos[0])
		return rc == -ENOMEM;
	for (int i = 0; i < 4 && p->errnos[i]; i++)
		if (rc == -p->errnos[i])
			return 1;
	return 0;
}

static inline void sw_note_site(struct sw_result *r, const char *ours)
{
	int i;

	for (i = 0; i < r->nsites; i++)
		if (!strcmp(r->sites[i], ours))
			break;
	if (i == r->nsites) {
		if (r->nsites == SW_SITES)
			return;
		snprintf(r->sites[r->nsites++], sizeof(r->sites[0]), "%s", ours);
	}
	r->site_count[i]++;
}

static inline const char *sw_rc_name(long rc)
{
	static char buf[32];
	const char *name;

	if (rc >= 0) {
		snprintf(buf, sizeof(buf), "ok (%ld)", rc);
		return buf;
	}
	name = strerrorname_np(-rc);
	return name ? name : "E?";
}

/* A signal the sweep did not expect: say where it was, with the fault address and the maps. */
static void sw_crash(int sig, siginfo_t *info, void *uc)
{
	char line[256];
	FILE *f;

	(void)uc;
	printf("    # %s run %d: %s at %p (code %d)\n", sw.path ? sw.path : "?", sw.run,
	       strsignal(sig), info->si_addr, info->si_code);
	f = fopen("/proc/self/maps", "r");
	while (f && fgets(line, sizeof(line), f))
		printf("    # maps: %s", line);
	fflush(stdout);
	signal(sig, SIG_DFL);
}

/*
 * Runs path P with the 1st, 2nd, ... fault injected until it runs with
 * nothing injected, and records what it reached in R; FN < 0 counts every
 * fault, FN >= 0 only those under sw_move_fn[FN] (sw_moves() set the filter).
 * Returns 1, or 0 with sw.why set.
 */
static inline int sw_sweep(const struct sw_path *p, void *arg, struct sw_result *r, int fn)
{
	struct sw_hit hit;
	int n, injected, ok = 1;
	long rc;

	for (n = 1; ok && n <= SW_MAX_N; n++) {
		sw.run = n;
		sw.why[0] = 0;
		if (p->setup(arg))
			return 0;
		sw_read_kmsg(&hit);	/* drop what setup logged */
		sw_arm(n);
		rc = p->op(arg);
		injected = sw_disarm();
		sw_read_kmsg(&hit);
		if (hit.splat) {
			ok = sw_fail("run %d: the kernel logged a splat (above)", n);
		} else if (!injected && rc != p->expect) {
			ok = sw_fail("run %d, nothing injected: %s, wanted %s", n, sw_rc_name(rc),
				     sw_rc_name(p->expect));
		} else if (injected && rc != p->expect && !sw_errno_allowed(p, rc)) {
			ok = sw_fail("run %d: %s hit %s: result %s", n, sw_cap_name[hit.cap],
				     hit.site[0] ? hit.site : "?", sw_rc_name(rc));
		} else if (!p->check(arg, rc, injected)) {
			char why[sizeof(sw.why)];

			snprintf(why, sizeof(why), "%s", sw.why);
			ok = sw_fail("run %d (%s at %s, result %s): %s", n, injected ?
				     sw_cap_name[hit.cap] : "nothing injected",
				     hit.site[0] ? hit.site : "?", sw_rc_name(rc), why);
		}
		p->teardown(arg);
		if (ok && !sw_mask_clean()) {
			char why[sizeof(sw.why)];

			snprintf(why, sizeof(why), "%s", sw.why);
			ok = sw_fail("after run %d: %s", n, why);
		}
		if (ok && !p->usable(arg)) {
			char why[sizeof(sw.why)];

			snprintf(why, sizeof(why), "%s", sw.why);
			ok = sw_fail("after run %d (%s at %s, result %s): %s", n,
				     injected ? sw_cap_name[hit.cap] : "nothing injected",
				     hit.site[0] ? hit.site : "?", sw_rc_name(rc), why);
		}
		if (!injected)
			return ok;
		/*
		 * Under the filter the kernel injected the failure under the
		 * function, whether or not it logged a trace (the site is only
		 * reported).
		 */
		if (fn >= 0) {
			r->under[fn]++;
			r->failed[fn] += rc != p->expect;
			printf("    # %s: %s() run %d: %s failure (%s), result %s, checked\n",
			       p->name, sw_move_fn[fn], n, sw_cap_name[hit.cap],
			       hit.site[0] ? hit.site : "no trace", sw_rc_name(rc));
			continue;
		}
		/*
		 * A page fault of the program itself, not in a system call: after
		 * fork() the parent's first writes copy its pages before fail-nth is
		 * read back. The path ran with nothing injected: not a point of it.
		 */
		if (hit.pagefault && !hit.syscall) {
			r->after++;
			continue;
		}
		r->points++;
		r->cap[hit.cap]++;
		if (rc == p->expect)
			r->tolerated++;
		else if (rc == -ENOMEM)
			r->enomem++;
		else if (rc == -EFAULT)
			r->efault++;
		else
			r->other_err++;
		if (hit.ours[0]) {
			r->in_ours++;
			sw_note_site(r, hit.ours);
		}
	}
	return ok && sw_fail("still injecting at run %d", SW_MAX_N);
}

/*
 * Points the kernel's stack filter at [RANGE[0], RANGE[1]) for every
 * capability (NULL: off). fail-nth then counts only the calls made with an
 * address of that range on the stack, and injects only there.
 */
static inline int sw_filter(const unsigned long *range)
{
	static const char * const caps[] = { "failslab", "fail_page_alloc", "fail_usercopy" };
	char path[128], value[32];

	for (unsigned int i = 0; i < ARRAY_SIZE(caps); i++) {
		snprintf(path, sizeof(path), "%s/%s/require-start", SW_DEBUGFS, caps[i]);
		snprintf(value, sizeof(value), "%#lx", range ? range[0] : 0);
		if (sw_write_file(path, value))
			return sw_fail("writing %s: %s", path, strerror(errno));
		snprintf(path, sizeof(path), "%s/%s/require-end", SW_DEBUGFS, caps[i]);
		snprintf(value, sizeof(value), "%#lx", range ? range[1] : ~0UL);
		if (sw_write_file(path, value))
			return sw_fail("writing %s: %s", path, strerror(errno));
	}
	return 1;
}

/*
 * The failures of a move that matter: after those of copy_vma() and
 * move_page_tables() mremap() has to close the copy of the VMA it has just
 * opened. Their traces cannot tell (a failure with __GFP_NOWARN logs none, and
 * which allocation the n-th one is shifts from run to run with the state of
 * the slab allocator, so a sweep may never fail some of them), so the path
 * runs again under the kernel's stack filter: fail-nth counting only the calls
 * made under copy_vma(), then only those under move_page_tables(). Every
 * failure injected then is known to be there; under each, at least one must
 * fail the move, and every run must pass the path's checks. The first call
 * under each function is reached at n = 1, whatever the allocator's state.
 */
static inline int sw_moves(const struct sw_path *p, void *arg, struct sw_result *r)
{
	int ok = 1;

	for (int f = 0; ok && f < SW_NR_MOVE_FNS; f++) {
		ok = sw_filter(sw.text[f]) && sw_sweep(p, arg, r, f);
		if (!sw_filter(NULL))
			ok = 0;
		if (ok && !r->failed[f])
			ok = sw_fail("of %d failures injected under %s(), none failed the move",
				     r->under[f], sw_move_fn[f]);
	}
	return ok;
}

/* Runs path P's sweep (and sw_moves() for a move) and prints one KTAP case. */
static inline void sw_run(const struct sw_path *p, void *arg)
{
	struct sw_result *r = &sw.results[sw.nresults++];
	double t0 = rmp_now();
	int ok;

	memset(r, 0, sizeof(*r));
	r->name = p->name;
	r->moves = p->moves;
	sw.path = p->name;
	ok = sw_sweep(p, arg, r, -1);
	if (ok && p->moves)
		ok = sw_moves(p, arg, r);
	r->ok = ok;
	r->seconds = rmp_now() - t0;
	printf("    # %s: %d points (slab %d, page %d, usercopy %d, quiet %d); "
	       "%d ENOMEM, %d EFAULT, %d other errors, %d tolerated; %d in our modules; "
	       "%d more in the program's own page faults after the call; %.1f s\n",
	       p->name, r->points, r->cap[SW_SLAB], r->cap[SW_PAGE], r->cap[SW_COPY],
	       r->cap[SW_QUIET], r->enomem, r->efault, r->other_err, r->tolerated, r->in_ours,
	       r->after, r->seconds);
	for (int f = 0; p->moves && f < SW_NR_MOVE_FNS; f++)
		printf("    # %s: under %s(): %d points, %d failed the move\n", p->name,
		       sw_move_fn[f], r->under[f], r->failed[f]);
	for (int i = 0; i < r->nsites; i++)
		printf("    # %s: site %dx %s\n", p->name, r->site_count[i], r->sites[i]);
	ktap_check(ok, p->name, "%s", sw.why);
}

/* The table of what each path reached; scripts/rmp prints it after the summary. */
static inline void sw_table(const char *title)
{
	printf("    # fault sweep: %s (%.0f s)\n", title, rmp_now() - sw.start);
	printf("    # %-36s | %6s | %4s %4s %4s %5s | %6s %6s %5s %5s | %4s | %8s %8s\n",
	       "path", "points", "slab", "page", "copy", "quiet", "ENOMEM", "EFAULT", "other",
	       "ok", "ours", "copy_vma", "move_pt");
	for (int i = 0; i < sw.nresults; i++) {
		struct sw_result *r = &sw.results[i];
		char moved[2][12] = { "-", "-" };

		for (int f = 0; r->moves && f < SW_NR_MOVE_FNS; f++)
			snprintf(moved[f], sizeof(moved[f]), "%d", r->failed[f]);
		printf("    # %-36s | %6d | %4d %4d %4d %5d | %6d %6d %5d %5d | %4d | %8s %8s%s\n",
		       r->name, r->points, r->cap[SW_SLAB], r->cap[SW_PAGE], r->cap[SW_COPY],
		       r->cap[SW_QUIET], r->enomem, r->efault, r->other_err, r->tolerated,
		       r->in_ours, moved[0], moved[1], r->ok ? "" : " *");
	}
	printf("    # copy_vma, move_pt: failures under those functions that failed a move\n");
	printf("    # (end of fault sweep table)\n");
}

/*
 * Finds sw_move_fn[] in /proc/kallsyms: sw.text[f] is [the function's address,
 * the next symbol's). Returns 0, or -1 with sw.why set.
 */
static inline int sw_locate(void)
{
	char line[512], name[128], type;
	int found[SW_NR_MOVE_FNS] = { 0 };
	unsigned long addr;
	FILE *f;

	for (int pass = 0; pass < 2; pass++) {
		f = fopen("/proc/kallsyms", "r");
		if (!f)
			return sw_fail("/proc/kallsyms: %s", strerror(errno)) - 1;
		while (fgets(line, sizeof(line), f)) {
			if (sscanf(line, "%lx %c %127s", &addr, &type, name) != 3)
				continue;
			for (int i = 0; i < SW_NR_MOVE_FNS; i++) {
				if (!pass && (type == 't' || type == 'T') &&
				    !strcmp(name, sw_move_fn[i])) {
					found[i]++;
					sw.text[i][0] = addr;
					sw.text[i][1] = ~0UL;
				}
				if (pass && addr > sw.text[i][0] && addr < sw.text[i][1])
					sw.text[i][1] = addr;
			}
		}
		fclose(f);
	}
	for (int i = 0; i < SW_NR_MOVE_FNS; i++)
		if (found[i] != 1 || !sw.text[i][0] || sw.text[i][1] == ~0UL)
			return sw_fail("%s() in /proc/kallsyms: found %d times, at %#lx",
				       sw_move_fn[i], found[i], sw.text[i][0]) - 1;
	return 0;
}

/*
 * Sets up the sweep and forks: the child runs BODY and prints the KTAP suite;
 * the parent waits and restores the debugfs and printk settings, whatever
 * became of the child. Returns the exit status for main().
 */
static inline int sw_main(const char *suite, int planned, void (*body)(void))
{
	char buf[128], path[128], rec[1024], *text;
	int status = -1, kmsg;
	pid_t pid;
	ssize_t len;

	if (access(SW_DEBUGFS "/failslab", F_OK))
		mount("debugfs", SW_DEBUGFS, "debugfs", 0, NULL);
	for (unsigned int i = 0; i < SW_NR_KNOBS; i++) {
		snprintf(path, sizeof(path), "%s", sw_knob_path(i, buf, sizeof(buf)));
		if (sw_read_file(path, sw_saved[i], sizeof(sw_saved[i])) ||
		    sw_write_file(path, sw_knobs[i][1])) {
			ktap_begin(suite, planned);
			printf("    # cannot set %s (was \"%s\"): %s\n", path, sw_saved[i],
			       strerror(errno));
			sw_restore_knobs();
			ktap_end();
			return 1;
		}
	}
	if (sw_locate()) {
		ktap_begin(suite, planned);
		printf("    # %s\n", sw.why);
		sw_restore_knobs();
		ktap_end();
		return 1;
	}
	fflush(stdout);
	kmsg = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
	if (kmsg >= 0)
		lseek(kmsg, 0, SEEK_END);
	pid = fork();
	if (pid == 0) {
		struct sigaction sa = { .sa_sigaction = sw_crash, .sa_flags = SA_SIGINFO };

		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
		snprintf(buf, sizeof(buf), "/proc/thread-self/fail-nth");
		sw.fail_fd = open(buf, O_RDWR);
		sw.kmsg_fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);
		sw.start = rmp_now();
		ktap_begin(suite, planned);
		if (sw.fail_fd < 0 || sw.kmsg_fd < 0) {
			printf("    # fail-nth or /dev/kmsg: %s\n", strerror(errno));
			_exit(ktap_end());
		}
		lseek(sw.kmsg_fd, 0, SEEK_END);
		body();
		_exit(ktap_end());
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	sw_restore_knobs();
	if (!WIFEXITED(status)) {
		printf("    # the sweep died: status %#x; the kernel said (traces left out):\n",
		       status);
		while (kmsg >= 0 && (len = read(kmsg, rec, sizeof(rec) - 1)) != 0) {
			if (len < 0 && errno == EPIPE)
				continue;
			if (len < 0)
				break;
			rec[len] = 0;
			text = sw_kmsg_text(rec);
			if (text && (strstr(text, "segfault") || strstr(text, "fatal signal") ||
				     strstr(text, "traps:") || strstr(text, "Huh")))
				printf("    # kernel: %s\n", text);
		}
		return 1;
	}
	return WEXITSTATUS(status);
}

#endif /* RMP_FAULT_SWEEP_H */
