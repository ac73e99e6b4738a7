// SPDX-License-Identifier: GPL-2.0
/*
 * /dev/rust_secretmem, /dev/rust_secretmem_strict and memfd_secret(2) side by
 * side: the same checks against each target, one KTAP case per check and
 * target, then a table of what each target did. The expectations are those
 * of samples/rust_secretmem.rs: the merging device's VMAs merge but
 * get_user_pages() reaches its pages; the strict device's VMAs never merge
 * and get_user_pages() cannot reach its pages, as with memfd_secret.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "proc_maps.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define RES_LEN 40
#define GUP_LEN 64
#define MEMLOCK_PAGES 4
#define REFCNT "/sys/module/rust_secretmem/refcnt"

struct target {
	const char *prefix;	/* of the KTAP case names */
	const char *column;	/* in the table */
	const char *path;	/* the device, or NULL for memfd_secret(2) */
	int vmas;		/* the VMAs two adjacent mappings make */
	int gup_refused;	/* get_user_pages() cannot reach the pages */
	int may_not_move;	/* mremap() may refuse to move a mapping */
	int pfnmap;		/* VM_PFNMAP: no growth, MADV_DONTNEED, DODUMP, DONTUNMAP */
};

static const struct target targets[] = {
	{ "merging", "rust_secretmem", "/dev/rust_secretmem", 1, 0, 0, 0 },
	{ "strict", "rust_secretmem_strict", "/dev/rust_secretmem_strict", 2, 1, 1, 1 },
	{ "memfd_secret", "memfd_secret", NULL, 1, 1, 0, 0 },
};

#define NR_TARGETS ARRAY_SIZE(targets)

static long page;

static const char *errname(int err)
{
	const char *name = strerrorname_np(err);

	return name ? name : "E?";
}

/* Sets the result token to what failed and errno; the check fails. */
static int failed(char *res, const char *what)
{
	snprintf(res, RES_LEN, "%s: %s", what, errname(errno));
	return 0;
}

/* Sets the result token to YES or NO; returns OK. */
static int verdict(char *res, int ok, const char *yes, const char *no)
{
	snprintf(res, RES_LEN, "%s", ok ? yes : no);
	return ok;
}

/* A new area of the target, of at least PAGES pages; -1 (RES set) on failure. */
static int open_area(const struct target *t, int pages, char *res)
{
	int fd;

	if (t->path) {
		fd = open(t->path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			failed(res, "open");
		return fd;
	}
	fd = syscall(SYS_memfd_secret, 0);
	if (fd < 0) {
		failed(res, "memfd_secret");
		return -1;
	}
	/* memfd_secret's pages past i_size SIGBUS; the devices have no size. */
	if (ftruncate(fd, pages * page)) {
		failed(res, "ftruncate");
		close(fd);
		return -1;
	}
	return fd;
}

/* A shared mapping of PAGES pages from page PGOFF, at AT (MAP_FIXED) if not NULL. */
static unsigned char *map(int fd, int pages, off_t pgoff, void *at)
{
	return mmap(at, pages * page, PROT_READ | PROT_WRITE,
		    MAP_SHARED | (at ? MAP_FIXED : 0), fd, pgoff * page);
}

/* Address space kept free (PROT_NONE) to be mapped over with MAP_FIXED. */
static unsigned char *reserve(int pages)
{
	return mmap(NULL, pages * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

static void unmap(void *p, int pages)
{
	if (p != MAP_FAILED)
		munmap(p, pages * page);
}

/* An open area and a shared mapping of its first pages. */
struct area {
	int fd, pages;
	unsigned char *p;
};

/* Opens an area of the target and maps PAGES pages; -1 (RES set) on failure. */
static int area_open(struct area *a, const struct target *t, int pages, char *res)
{
	a->pages = pages;
	a->fd = open_area(t, pages, res);
	if (a->fd < 0)
		return -1;
	a->p = map(a->fd, pages, 0, NULL);
	if (a->p != MAP_FAILED)
		return 0;
	failed(res, "mmap");
	close(a->fd);
	return -1;
}

static void area_close(struct area *a)
{
	unmap(a->p, a->pages);
	close(a->fd);
}

static unsigned char pattern(int index, long off)
{
	return (unsigned char)(index * 61 + off * 7 + 1);
}

/* Fills each of PAGES pages at P with its own pattern. */
static void fill(unsigned char *p, int pages)
{
	for (long i = 0; i < pages * page; i++)
		p[i] = pattern(i / page, i % page);
}

/* Whether the page at P holds the pattern of page INDEX. */
static int matches(const unsigned char *p, int index)
{
	for (long i = 0; i < page; i++)
		if (p[i] != pattern(index, i))
			return 0;
	return 1;
}

/* Whether the VmFlags of the VMA holding ADDR include FLAG; -1 if not found. */
static int vma_has_flag(uintptr_t addr, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	int in = 0, found = -1;
	unsigned long lo, hi;
	char line[512], *tok;

	if (!f)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2) {
			in = lo <= addr && addr < hi;
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			found = 0;
			line[strcspn(line, "\n")] = '\0';
			for (tok = strtok(line + 8, " "); tok; tok = strtok(NULL, " "))
				found |= !strcmp(tok, flag);
		}
	}
	fclose(f);
	return found;
}

/* 1. memfd_secret refuses private mappings. */
static int check_private(const struct target *t, char *res)
{
	int fd = open_area(t, 1, res);
	void *p;

	if (fd < 0)
		return 0;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	snprintf(res, RES_LEN, "%s", p == MAP_FAILED ? errname(errno) : "mapped");
	unmap(p, 1);
	close(fd);
	return !strcmp(res, "EINVAL");
}

/* 2. What is written through one mapping reads back through it and another. */
static int check_shared(const struct target *t, char *res)
{
	unsigned char *q;
	struct area a;
	int ok = 0;

	if (area_open(&a, t, 2, res))
		return 0;
	fill(a.p, 2);
	q = map(a.fd, 2, 0, NULL);
	if (q == MAP_FAILED)
		failed(res, "second mmap");
	else
		ok = verdict(res, matches(a.p, 0) && matches(a.p + page, 1) &&
			     matches(q, 0) && matches(q + page, 1), "ok", "data differs");
	unmap(q, 2);
	area_close(&a);
	return ok;
}

/* 3. Pages read as zero on first touch. */
static int check_zero(const struct target *t, char *res)
{
	struct area a;
	int ok = 1;

	if (area_open(&a, t, 2, res))
		return 0;
	for (long i = 0; i < 2 * page; i++)
		ok &= !a.p[i];
	area_close(&a);
	return verdict(res, ok, "zero", "not zero");
}

/* 4. No file I/O: read, write, pread and pwrite fail; the token is read's errno. */
static int check_file_io(const struct target *t, char *res)
{
	int fd = open_area(t, 1, res), err, other;
	char buf[64] = { 0 };
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf));
	err = errno;
	other = write(fd, buf, sizeof(buf)) >= 0 || pread(fd, buf, sizeof(buf), 0) >= 0 ||
		pwrite(fd, buf, sizeof(buf), 0) >= 0;
	close(fd);
	if (n >= 0)
		return verdict(res, 0, "", "read works");
	snprintf(res, RES_LEN, "%s%s", errname(err), other ? ", write/pread/pwrite work" : "");
	return !other;
}

/* 5. Adjacent mappings at consecutive offsets: how many VMAs they make. */
static int check_merge(const struct target *t, char *res)
{
	unsigned char *r = reserve(2);
	int fd, n = -1;

	if (r == MAP_FAILED)
		return failed(res, "reserve");
	fd = open_area(t, 2, res);
	if (fd >= 0) {
		if (map(fd, 1, 0, r) == MAP_FAILED || map(fd, 1, 1, r + page) == MAP_FAILED) {
			failed(res, "mmap");
		} else {
			n = maps_lines((uintptr_t)r, (uintptr_t)r + 2 * page);
			snprintf(res, RES_LEN, "%d VMA%s", n, n == 1 ? "" : "s");
		}
		close(fd);
	}
	unmap(r, 2);
	return n == t->vmas;
}

/* 6. The VMA is VM_DONTDUMP ("dd" in smaps). */
static int check_dontdump(const struct target *t, char *res)
{
	struct area a;
	int dd;

	if (area_open(&a, t, 1, res))
		return 0;
	dd = vma_has_flag((uintptr_t)a.p, "dd");
	snprintf(res, RES_LEN, "%s", dd > 0 ? "dd" : dd ? "VMA not in smaps" : "no dd");
	area_close(&a);
	return dd > 0;
}

/* 7. What a child writes into the shared mapping, the parent sees. */
static int check_fork(const struct target *t, char *res)
{
	int ok = 0, status;
	struct area a;
	pid_t pid;

	if (area_open(&a, t, 2, res))
		return 0;
	a.p[0] = 0;	/* page 0 is present in the parent before the fork, page 1 not */
	pid = fork();
	if (pid == 0) {
		fill(a.p, 2);
		_exit(0);
	}
	if (pid < 0)
		failed(res, "fork");
	else if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		verdict(res, 0, "", "child failed");
	else
		ok = verdict(res, matches(a.p, 0) && matches(a.p + page, 1), "ok", "not seen");
	area_close(&a);
	return ok;
}

/* 8. Unmapping the middle page keeps the others, and the area keeps the middle one. */
static int check_split(const struct target *t, char *res)
{
	struct area a;
	int ok = 0;

	if (area_open(&a, t, 3, res))
		return 0;
	fill(a.p, 3);
	if (munmap(a.p + page, page))
		failed(res, "munmap");
	else if (!matches(a.p, 0) || !matches(a.p + 2 * page, 2))
		verdict(res, 0, "", "data lost");
	else if (map(a.fd, 1, 1, a.p + page) == MAP_FAILED)
		failed(res, "remap middle");
	else
		ok = verdict(res, matches(a.p + page, 1), "ok", "middle page lost");
	area_close(&a);
	return ok;
}

/* 9. mremap() to another address keeps the data (the strict device may refuse). */
static int check_mremap(const struct target *t, char *res)
{
	unsigned char *dst = reserve(2), *q;
	struct area a;
	int ok = 0;

	if (dst == MAP_FAILED)
		return failed(res, "reserve");
	if (area_open(&a, t, 2, res)) {
		unmap(dst, 2);
		return 0;
	}
	fill(a.p, 2);
	q = mremap(a.p, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
	if (q == MAP_FAILED) {
		ok = t->may_not_move;
		failed(res, "refused");
	} else {
		a.p = q;
		ok = verdict(res, q == dst && matches(q, 0) && matches(q + page, 1),
			     "ok", "data lost");
	}
	area_close(&a);
	unmap(dst, 2);
	return ok;
}

/* 14. Executable mappings are refused (memfd_secret's mount is noexec). */
static int check_exec(const struct target *t, char *res)
{
	int fd = open_area(t, 1, res), err;
	void *p;

	if (fd < 0)
		return 0;
	p = mmap(NULL, page, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
	err = p == MAP_FAILED ? errno : 0;
	snprintf(res, RES_LEN, "%s", err ? errname(err) : "mapped");
	unmap(p, 1);
	close(fd);
	return err == EPERM;
}

/*
 * 15. mremap() grows a mapping in place or elsewhere, keeping its pages; a
 * VM_PFNMAP VMA cannot grow (EFAULT, mm/mremap.c).
 */
static int check_mremap_grow(const struct target *t, char *res)
{
	struct area a;
	unsigned char *q;
	int ok;

	if (area_open(&a, t, 2, res))
		return 0;
	fill(a.p, 2);
	q = mremap(a.p, 2 * page, 3 * page, MREMAP_MAYMOVE);
	if (q == MAP_FAILED) {
		ok = t->pfnmap && errno == EFAULT;
		failed(res, "refused");
	} else {
		a.p = q;
		a.pages = 3;
		ok = !t->pfnmap &&
		     verdict(res, matches(q, 0) && matches(q + page, 1), "ok", "data lost");
	}
	area_close(&a);
	return ok;
}

/* 16. MADV_DONTNEED drops the mapping's entries; the data stays with the area. */
static int check_dontneed(const struct target *t, char *res)
{
	struct area a;
	int ok;

	if (area_open(&a, t, 1, res))
		return 0;
	fill(a.p, 1);
	if (madvise(a.p, page, MADV_DONTNEED)) {
		ok = t->pfnmap && errno == EINVAL;
		snprintf(res, RES_LEN, "%s", errname(errno));
	} else {
		ok = !t->pfnmap && verdict(res, matches(a.p, 0), "ok, data kept", "data lost");
	}
	area_close(&a);
	return ok;
}

/* 17. mremap(MREMAP_DONTUNMAP) moves the entries and keeps the old range mapped. */
static int check_dontunmap(const struct target *t, char *res)
{
	struct area a;
	unsigned char *q;
	int ok;

	if (area_open(&a, t, 1, res))
		return 0;
	fill(a.p, 1);
	q = mremap(a.p, page, page, MREMAP_MAYMOVE | MREMAP_DONTUNMAP, NULL);
	if (q == MAP_FAILED) {
		ok = t->pfnmap && errno == EINVAL;
		snprintf(res, RES_LEN, "%s", errname(errno));
	} else {
		ok = !t->pfnmap && verdict(res, matches(q, 0), "ok", "data lost");
		unmap(q, 1);
	}
	area_close(&a);
	return ok;
}

/*
 * 18. MADV_DODUMP: refused on VM_SPECIAL VMAs. Where it is allowed, the
 * merging device's pages would go into a core dump (GUP reaches them, see 11);
 * memfd_secret's would not (GUP refuses them).
 */
static int check_dodump(const struct target *t, char *res)
{
	struct area a;
	int ok;

	if (area_open(&a, t, 1, res))
		return 0;
	if (madvise(a.p, page, MADV_DODUMP)) {
		ok = t->pfnmap && errno == EINVAL;
		snprintf(res, RES_LEN, "%s", errname(errno));
	} else {
		ok = !t->pfnmap;
		snprintf(res, RES_LEN, "%s", t->gup_refused ? "allowed, not dumped" :
			 "allowed: DUMPED");
	}
	area_close(&a);
	return ok;
}

static sigjmp_buf sigbus_jmp;
static uintptr_t sigbus_addr;

static void on_sigbus(int sig, siginfo_t *info, void *uc)
{
	(void)sig;
	(void)uc;
	sigbus_addr = (uintptr_t)info->si_addr;
	siglongjmp(sigbus_jmp, 1);
}

/*
 * The memlock child: with RLIMIT_MEMLOCK at 4 pages, touches 8 pages one by
 * one; exits with the index of the page that got SIGBUS, or 8 if none did.
 */
static void memlock_child(const struct target *t)
{
	struct rlimit lim = { MEMLOCK_PAGES * page, MEMLOCK_PAGES * page };
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };
	char res[RES_LEN];
	struct area a;

	if (setrlimit(RLIMIT_MEMLOCK, &lim) || sigaction(SIGBUS, &sa, NULL) ||
	    area_open(&a, t, 2 * MEMLOCK_PAGES, res))
		_exit(100);
	if (sigsetjmp(sigbus_jmp, 1))
		_exit(sigbus_addr >= (uintptr_t)a.p ? (sigbus_addr - (uintptr_t)a.p) / page : 101);
	for (int i = 0; i < 2 * MEMLOCK_PAGES; i++)
		a.p[i * page] = 1;
	_exit(2 * MEMLOCK_PAGES);
}

/* 10. Past RLIMIT_MEMLOCK (charged per user, at fault time), faults get SIGBUS. */
static int check_memlock(const struct target *t, char *res)
{
	int status, n;
	pid_t pid = fork();

	if (pid == 0)
		memlock_child(t);
	if (pid < 0)
		return failed(res, "fork");
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) > 2 * MEMLOCK_PAGES) {
		snprintf(res, RES_LEN, "child failed, status %#x", status);
		return 0;
	}
	n = WEXITSTATUS(status);
	if (n == 2 * MEMLOCK_PAGES)
		return verdict(res, 0, "", "no SIGBUS in 8 pages");
	snprintf(res, RES_LEN, "SIGBUS after %d pages", n);
	return n <= MEMLOCK_PAGES;
}

/*
 * 11. get_user_pages() and its users. Each method reads up to GUP_LEN bytes at
 * P into BUF: it returns the count, -1 (errno set) if the kernel refused, or
 * -2 (errno set) if the method could not even be tried. (close() keeps errno:
 * it does not fail on these fds.)
 */
enum { PROCESS_VM_READV, PROC_SELF_MEM, PTRACE_PEEKDATA_, VMSPLICE };

/* As the kernel's selftest: a child attaches to its parent and peeks at P. */
static ssize_t peek(unsigned char *p, unsigned char *buf, int pipefd[2])
{
	struct { long word; int err; } r = { 0, 0 };	/* err < 0: -errno of the attach */
	pid_t parent, pid = fork();
	int status;

	if (pid == 0) {
		parent = getppid();
		if (ptrace(PTRACE_ATTACH, parent, 0, 0) ||
		    waitpid(parent, &status, __WALL) != parent) {
			r.err = -errno;
		} else {
			errno = 0;
			r.word = ptrace(PTRACE_PEEKDATA, parent, p, 0);
			r.err = errno;
			ptrace(PTRACE_DETACH, parent, 0, 0);
		}
		_exit(write(pipefd[1], &r, sizeof(r)) != sizeof(r));
	}
	if (pid < 0)
		return -2;
	if (waitpid(pid, &status, 0) != pid || read(pipefd[0], &r, sizeof(r)) != sizeof(r)) {
		errno = ECHILD;
		return -2;
	}
	errno = abs(r.err);
	memcpy(buf, &r.word, sizeof(r.word));
	return r.err < 0 ? -2 : r.err ? -1 : (ssize_t)sizeof(r.word);
}

static ssize_t gup_read(int method, unsigned char *p, unsigned char *buf)
{
	struct iovec local = { buf, GUP_LEN }, remote = { p, GUP_LEN };
	ssize_t n;
	int fd[2];

	if (method == PROCESS_VM_READV)
		return process_vm_readv(getpid(), &local, 1, &remote, 1, 0);
	if (method == PROC_SELF_MEM) {
		fd[0] = open("/proc/self/mem", O_RDONLY | O_CLOEXEC);
		if (fd[0] < 0)
			return -2;
		n = pread(fd[0], buf, GUP_LEN, (off_t)(uintptr_t)p);
		close(fd[0]);
		return n;
	}
	/* Non-blocking: a tracer that died without writing must not hang the read. */
	if (pipe2(fd, O_CLOEXEC | O_NONBLOCK))
		return -2;
	if (method == VMSPLICE) {
		n = vmsplice(fd[1], &remote, 1, 0);
		if (n > 0 && read(fd[0], buf, n) != n)
			n = -2;
	} else {
		n = peek(p, buf, fd);
	}
	close(fd[0]);
	close(fd[1]);
	return n;
}

static int check_gup(const struct target *t, char *res, int method)
{
	unsigned char buf[GUP_LEN];
	struct area a;
	ssize_t n;
	int ok = 0;

	if (area_open(&a, t, 1, res))
		return 0;
	fill(a.p, 1);	/* also makes the page present, for GUP-fast */
	n = gup_read(method, a.p, buf);
	if (n == -2) {
		failed(res, "cannot try");
	} else if (n < 0) {
		snprintf(res, RES_LEN, "refused: %s", errname(errno));
		ok = t->gup_refused;
	} else {
		ok = n > 0 && !memcmp(buf, a.p, n);
		ok = verdict(res, ok && !t->gup_refused, "readable",
			     ok ? "readable" : "read, wrong data");
	}
	area_close(&a);
	return ok;
}

static int check_gup_process_vm_readv(const struct target *t, char *res)
{
	return check_gup(t, res, PROCESS_VM_READV);
}

static int check_gup_proc_self_mem(const struct target *t, char *res)
{
	return check_gup(t, res, PROC_SELF_MEM);
}

static int check_gup_ptrace(const struct target *t, char *res)
{
	return check_gup(t, res, PTRACE_PEEKDATA_);
}

static int check_gup_vmsplice(const struct target *t, char *res)
{
	return check_gup(t, res, VMSPLICE);
}

/*
 * 12. Pages are zeroed before they are freed: pin a page of secrets in a pipe with vmsplice(),
 * drop the area (unmap, close), then read the pipe: the page outlived the area, its secrets
 * must not. Where GUP cannot reach the pages nothing can be pinned (then vmsplice must fail).
 */
static int check_zeroed_on_free(const struct target *t, char *res)
{
	struct iovec iov;
	unsigned char *buf;
	struct area a;
	int fd[2], ok = 0;
	ssize_t n;

	buf = malloc(page);
	if (!buf)
		return failed(res, "malloc");
	if (pipe2(fd, O_CLOEXEC | O_NONBLOCK)) {
		free(buf);
		return failed(res, "pipe");
	}
	if (area_open(&a, t, 1, res))
		goto out;
	fill(a.p, 1);
	iov.iov_base = a.p;
	iov.iov_len = page;
	n = vmsplice(fd[1], &iov, 1, 0);
	area_close(&a);		/* the area goes: its pages are zeroed, then freed */
	if (n < 0) {
		snprintf(res, RES_LEN, "not pinnable: %s", errname(errno));
		ok = t->gup_refused;
	} else if (read(fd[0], buf, n) != n) {
		failed(res, "read pipe");
	} else {
		ok = n == page;
		for (long i = 0; i < n; i++)
			ok &= buf[i] == 0;
		verdict(res, ok, "pinned page zeroed", "secret survived");
	}
out:
	close(fd[0]);
	close(fd[1]);
	free(buf);
	return ok;
}

/* 13. With every fd closed, mapping unmapped and child reaped, nothing holds the module. */
static int check_refcnt(const struct target *t, char *res)
{
	FILE *f = fopen(REFCNT, "r");
	int n = -1;

	(void)t;
	if (!f)
		return failed(res, "open refcnt");
	if (fscanf(f, "%d", &n) != 1)
		verdict(res, 0, "", "unreadable");
	else
		snprintf(res, RES_LEN, "refcnt %d", n);
	fclose(f);
	return n == 0;
}

struct check {
	const char *label;	/* in the table */
	int (*run)(const struct target *t, char *res);
	int rust_only;		/* not run on memfd_secret */
	/* KTAP case names, after the target's prefix; NULL: as for the previous target */
	const char *names[NR_TARGETS];
};

static const struct check checks[] = {
	{ "1 MAP_PRIVATE", check_private, 0, { "private_mapping_refused" } },
	{ "2 shared write/read", check_shared, 0, { "shared_write_read_back" } },
	{ "3 fresh pages", check_zero, 0, { "fresh_pages_zero" } },
	{ "4 read(2) etc.", check_file_io, 0, { "file_io_fails" } },
	{ "5 adjacent mappings", check_merge, 0,
	  { "adjacent_mappings_merge", "adjacent_mappings_stay_apart",
	    "adjacent_mappings_merge" } },
	{ "6 VmFlags", check_dontdump, 0, { "vma_dontdump" } },
	{ "7 fork, child writes", check_fork, 0, { "fork_child_write_seen" } },
	{ "8 split (munmap middle)", check_split, 0, { "split_keeps_data" } },
	{ "9 mremap (move)", check_mremap, 0,
	  { "mremap_keeps_data", "mremap_keeps_data_if_moved", "mremap_keeps_data" } },
	{ "10 RLIMIT_MEMLOCK 4 pages", check_memlock, 0, { "memlock_limit_sigbus" } },
	{ "11 process_vm_readv", check_gup_process_vm_readv, 0,
	  { "gup_readable_process_vm_readv", "gup_refused_process_vm_readv" } },
	{ "11 /proc/self/mem", check_gup_proc_self_mem, 0,
	  { "gup_readable_proc_self_mem", "gup_refused_proc_self_mem" } },
	{ "11 PTRACE_PEEKDATA", check_gup_ptrace, 0,
	  { "gup_readable_ptrace_peekdata", "gup_refused_ptrace_peekdata" } },
	{ "11 vmsplice", check_gup_vmsplice, 0,
	  { "gup_readable_vmsplice", "gup_refused_vmsplice" } },
	{ "12 freed page, pinned", check_zeroed_on_free, 0,
	  { "freed_pinned_page_zeroed", "freed_page_not_pinnable" } },
	{ "14 PROT_EXEC", check_exec, 0, { "exec_mapping_refused" } },
	{ "15 mremap (grow)", check_mremap_grow, 0, { "mremap_grow_keeps_data" } },
	{ "16 MADV_DONTNEED", check_dontneed, 0,
	  { "madv_dontneed_keeps_data", "madv_dontneed_refused", "madv_dontneed_keeps_data" } },
	{ "17 MREMAP_DONTUNMAP", check_dontunmap, 0,
	  { "mremap_dontunmap_keeps_data", "mremap_dontunmap_refused",
	    "mremap_dontunmap_keeps_data" } },
	{ "18 MADV_DODUMP", check_dodump, 0,
	  { "madv_dodump_allowed", "madv_dodump_refused", "madv_dodump_allowed" } },
	/* Last: it needs everything of the target's other checks to be gone. */
	{ "13 module refcnt at end", check_refcnt, 1, { "module_refcnt_zero" } },
};

#define NR_CHECKS ARRAY_SIZE(checks)

static char results[NR_CHECKS][NR_TARGETS][RES_LEN + 2];

static void print_row(const char *label, const char *a, const char *b, const char *c)
{
	printf("    # %-26s | %-26s | %-26s | %s\n", label, a, b, c);
}

/* Runs check C on target T: a KTAP case, and its cell of the table. */
static void run_check(const struct check *c, unsigned int t, char *cell)
{
	const char *name = c->names[0];
	char full[128];
	int ok;

	for (unsigned int i = 1; i <= t; i++)
		name = c->names[i] ? c->names[i] : name;
	snprintf(full, sizeof(full), "%s_%s", targets[t].prefix, name);
	ok = c->run(&targets[t], cell);
	ktap_check(ok, full, "got \"%s\"", cell);
	if (!ok)
		snprintf(cell + strlen(cell), 3, " *");
}

int main(void)
{
	unsigned int c, t, cases = 0;

	page = sysconf(_SC_PAGESIZE);
	if (page <= 0)
		return 1;
	for (c = 0; c < NR_CHECKS; c++)
		cases += NR_TARGETS - checks[c].rust_only;	/* one target is not Rust */
	ktap_begin("rust_secretmem_user", cases);

	/* Target by target, so that a target's last check sees its other checks' leftovers. */
	for (t = 0; t < NR_TARGETS; t++)
		for (c = 0; c < NR_CHECKS; c++)
			if (checks[c].rust_only && !targets[t].path)
				snprintf(results[c][t], RES_LEN, "-");
			else
				run_check(&checks[c], t, results[c][t]);

	print_row("check", targets[0].column, targets[1].column, targets[2].column);
	for (c = 0; c < NR_CHECKS; c++)
		print_row(checks[c].label, results[c][0], results[c][1], results[c][2]);
	printf("    # (* not as expected)\n");
	ktap_end();
	return 0;
}
