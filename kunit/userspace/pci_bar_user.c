// SPDX-License-Identifier: GPL-2.0
/*
 * samples/rust_pci_bar.rs from userspace: QEMU's ivshmem-plain BAR 2 mapped
 * through /dev/rust_pci_bar (uncached) and /dev/rust_pci_bar_wc
 * (write-combined). The host filled the BAR's backing file with a known
 * pattern before boot and checks after the run that the pages written here
 * reached it (kunit/pci_bar_backing.py). The memory type each mapping really
 * got is read from the kernel's PAT reservations (pat_memtype_list); the
 * KUnit suite rust_pci_bar_kunit checks the page table entries themselves.
 * Then the device goes away under live mappings: driver unbound, device
 * removed; and comes back: bind, rescan.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "pci_bar.h"
#include "probe.h"

/* Pages this test writes, and what it XORs into the host pattern (pci_bar_backing.py). */
#define PAGE_UC		1
#define TAG_UC		0x11
#define PAGE_WC		2
#define TAG_WC		0x22
#define PAGE_RESCAN	3
#define TAG_RESCAN	0x33
/* The pages whose memory type is looked at (a range of its own in pat_memtype_list). */
#define TYPE_PGOFF	4
#define TYPE_PAGES	4

static long page;
static unsigned long bar_pages;
static struct pci_bar bar;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* Maps @pages pages of @dev from page @pgoff; MAP_FAILED and errno on failure. */
static unsigned char *map_fd(int fd, unsigned long pages, unsigned long pgoff, int flags)
{
	return mmap(NULL, pages * page, PROT_READ | PROT_WRITE, flags, fd, (off_t)pgoff * page);
}

/* The errno of mapping @pages of @dev from @pgoff, 0 if it worked (and was unmapped). */
static int map_errno(const char *dev, unsigned long pages, unsigned long pgoff, int flags)
{
	int fd = open(dev, O_RDWR), err = 0;
	unsigned char *p;

	if (fd < 0)
		return errno;
	p = map_fd(fd, pages, pgoff, flags);
	if (p == MAP_FAILED)
		err = errno;
	else
		munmap(p, pages * page);
	close(fd);
	return err;
}

/* Whether page @p is BAR page @index as the host wrote it, XOR @tag. */
static int page_is(const unsigned char *p, unsigned long index, unsigned char tag)
{
	for (long i = 0; i < page; i++)
		if (p[i] != (pci_bar_host_byte(index * page + i) ^ tag))
			return 0;
	return 1;
}

static void page_write(unsigned char *p, unsigned long index, unsigned char tag)
{
	for (long i = 0; i < page; i++)
		p[i] = pci_bar_host_byte(index * page + i) ^ tag;
	/* Drain the write-combining buffers before anyone else looks. */
	__sync_synchronize();
}

/* The whole BAR through @dev: every page the host's, but for those this test writes. */
static void test_reads_host_pattern(const char *dev, const char *name)
{
	int fd = open(dev, O_RDWR), bad = -1;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, bar_pages, 0, MAP_SHARED);

	if (p != MAP_FAILED) {
		for (unsigned long i = 0; i < bar_pages && bad < 0; i++) {
			const unsigned char *q = p + i * page;
			int ok = page_is(q, i, 0) || (i == PAGE_UC && page_is(q, i, TAG_UC)) ||
				 (i == PAGE_WC && page_is(q, i, TAG_WC)) ||
				 (i == PAGE_RESCAN && page_is(q, i, TAG_RESCAN));

			if (!ok)
				bad = i;
		}
		munmap(p, bar_pages * page);
	}
	ktap_check(p != MAP_FAILED && bad < 0, name, "%s: mmap of %lu pages: %s; first bad page %d",
		   dev, bar_pages, p == MAP_FAILED ? strerror(errno) : "ok", bad);
	if (fd >= 0)
		close(fd);
}

/* Writes page @index through @dev with @tag and reads it back through @other. */
static void test_write_reads_back(const char *dev, const char *other, unsigned long index,
				  unsigned char tag, const char *name)
{
	int fd = open(dev, O_RDWR), fd2 = open(other, O_RDWR), seen = 0, back = 0;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, 1, index, MAP_SHARED), *q;

	if (p != MAP_FAILED) {
		page_write(p, index, tag);
		seen = page_is(p, index, tag);
		munmap(p, page);
	}
	q = fd2 < 0 ? MAP_FAILED : map_fd(fd2, 1, index, MAP_SHARED);
	if (q != MAP_FAILED) {
		back = page_is(q, index, tag);
		munmap(q, page);
	}
	ktap_check(seen && back, name, "page %lu: written and read through %s %s, through %s %s",
		   index, dev, seen ? "ok" : "wrong", other, back ? "ok" : "wrong");
	if (fd >= 0)
		close(fd);
	if (fd2 >= 0)
		close(fd2);
}

/*
 * The memory type a mapping of @dev gets is @want: the mapping adds one
 * reservation of exactly its range to pat_memtype_list, with that type, and
 * munmap() removes it.
 */
static void test_memtype(const char *dev, const char *want, const char *name)
{
	unsigned long long lo = bar.phys + TYPE_PGOFF * page, hi = lo + TYPE_PAGES * page;
	int fd = open(dev, O_RDWR), before, during = -1, after = -1;
	char type[64] = "-", ignored[64];
	unsigned char *p;

	before = pat_lines(lo, hi, ignored, sizeof(ignored));
	p = fd < 0 ? MAP_FAILED : map_fd(fd, TYPE_PAGES, TYPE_PGOFF, MAP_SHARED);
	if (p != MAP_FAILED) {
		during = pat_lines(lo, hi, type, sizeof(type));
		munmap(p, TYPE_PAGES * page);
		after = pat_lines(lo, hi, ignored, sizeof(ignored));
	}
	ktap_check(p != MAP_FAILED && before == 0 && during == 1 && after == 0 &&
		   !strcmp(type, want), name,
		   "%s: [mem %#llx-%#llx] reserved %d times before, %d while mapped (type %s, wanted %s), %d after",
		   dev, lo, hi, before, during, type, want, after);
	if (fd >= 0)
		close(fd);
}

/*
 * x86 PAT allows one memory type per physical range: a second mapping of a
 * range already reserved gets the type of the first (memtype_check_conflict()),
 * silently when the types are compatible (is_new_memtype_allowed()).
 */
static void test_second_mapping_takes_first_type(void)
{
	unsigned long long lo = bar.phys + TYPE_PGOFF * page, hi = lo + TYPE_PAGES * page;
	int wc = open(PCI_BAR_DEV_WC, O_RDWR), uc = open(PCI_BAR_DEV_UC, O_RDWR), n = -1;
	unsigned char *p = wc < 0 ? MAP_FAILED : map_fd(wc, TYPE_PAGES, TYPE_PGOFF, MAP_SHARED);
	unsigned char *q = uc < 0 ? MAP_FAILED : map_fd(uc, TYPE_PAGES, TYPE_PGOFF, MAP_SHARED);
	char type[64] = "-", first[64] = "-";
	FILE *f = fopen(PAT_LIST, "r");
	char line[256], name[64];
	unsigned long long a, b;
	int both_wc = 0;

	if (p != MAP_FAILED && q != MAP_FAILED) {
		n = pat_lines(lo, hi, type, sizeof(type));
		/* Both lines must say write-combining. */
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "PAT: [mem 0x%llx-0x%llx] %63s", &a, &b, name) == 3 &&
			    a == lo && b == hi) {
				if (!strcmp(first, "-"))
					snprintf(first, sizeof(first), "%s", name);
				both_wc += !strcmp(name, PAT_WC);
			}
	}
	ktap_check(n == 2 && both_wc == 2, "second_mapping_takes_the_first_ones_memtype",
		   "WC then UC mapping of one range: %d reservations, first %s, last %s (wanted 2, both %s)",
		   n, first, type, PAT_WC);
	if (f)
		fclose(f);
	if (p != MAP_FAILED)
		munmap(p, TYPE_PAGES * page);
	if (q != MAP_FAILED)
		munmap(q, TYPE_PAGES * page);
	close(wc);
	close(uc);
}

/* A mapping at page offset k sees the BAR from page k. */
static void test_offsets(void)
{
	const unsigned long pgoffs[] = { 0, 5, 17, bar_pages / 2, bar_pages - 1 };
	int fd = open(PCI_BAR_DEV_UC, O_RDWR), bad = -1;

	for (unsigned int i = 0; i < ARRAY_SIZE(pgoffs) && bad < 0; i++) {
		unsigned char *p = map_fd(fd, 1, pgoffs[i], MAP_SHARED);

		if (p == MAP_FAILED || !page_is(p, pgoffs[i], 0))
			bad = pgoffs[i];
		if (p != MAP_FAILED)
			munmap(p, page);
	}
	/* Two pages from page 16: the second is page 17. */
	if (bad < 0) {
		unsigned char *p = map_fd(fd, 2, 16, MAP_SHARED);

		if (p == MAP_FAILED || !page_is(p, 16, 0) || !page_is(p + page, 17, 0))
			bad = 16;
		if (p != MAP_FAILED)
			munmap(p, 2 * page);
	}
	ktap_check(fd >= 0 && bad < 0, "offset_selects_the_bar_page",
		   "mapping at page offset %d does not see that page of the BAR", bad);
	if (fd >= 0)
		close(fd);
}

static void test_refusals(void)
{
	int past = map_errno(PCI_BAR_DEV_UC, 1, bar_pages, MAP_SHARED);
	int across = map_errno(PCI_BAR_DEV_WC, 2, bar_pages - 1, MAP_SHARED);
	int larger = map_errno(PCI_BAR_DEV_UC, bar_pages + 1, 0, MAP_SHARED);
	int priv_uc = map_errno(PCI_BAR_DEV_UC, 1, 0, MAP_PRIVATE);
	int priv_wc = map_errno(PCI_BAR_DEV_WC, 1, 0, MAP_PRIVATE);

	ktap_check(past == EINVAL && across == EINVAL && larger == EINVAL, "past_the_end_is_einval",
		   "page %lu: %s; 2 pages from %lu: %s; %lu pages: %s (wanted EINVAL)", bar_pages,
		   strerror(past), bar_pages - 1, strerror(across), bar_pages + 1,
		   strerror(larger));
	ktap_check(priv_uc == EINVAL && priv_wc == EINVAL, "private_mapping_is_einval",
		   "MAP_PRIVATE: %s, %s (wanted EINVAL)", strerror(priv_uc), strerror(priv_wc));
}

/* VM_IO, VM_PFNMAP, VM_DONTEXPAND, VM_DONTDUMP (the core's remap flags) and VM_DONTCOPY. */
static void test_vmflags(const char *dev, const char *name)
{
	static const char * const want[] = { "io", "pf", "de", "dd", "dc", "sh" };
	int fd = open(dev, O_RDWR), ok = 0;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, 1, 0, MAP_SHARED);
	char flags[512] = "";

	if (p != MAP_FAILED && !smaps_vmflags((uintptr_t)p, flags, sizeof(flags))) {
		ok = 1;
		for (unsigned int i = 0; i < ARRAY_SIZE(want); i++)
			ok &= has_vmflag(flags, want[i]);
	}
	ktap_check(ok, name, "%s: VmFlags:%s (wanted io pf de dd dc sh)", dev, flags);
	if (p != MAP_FAILED)
		munmap(p, page);
	if (fd >= 0)
		close(fd);
}

/* VM_DONTCOPY: a fork child has no such mapping, and touching the address kills it. */
static void test_fork_child_has_no_mapping(void)
{
	int fd = open(PCI_BAR_DEV_UC, O_RDWR), status = -1;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, 1, 0, MAP_SHARED);
	pid_t pid = -1;

	if (p != MAP_FAILED) {
		pid = fork();
		if (pid == 0) {
			signal(SIGSEGV, SIG_DFL);
			signal(SIGBUS, SIG_DFL);
			(void)__atomic_load_n(p, __ATOMIC_SEQ_CST);
			_exit(0);
		}
		if (pid > 0)
			waitpid(pid, &status, 0);
		munmap(p, page);
	}
	ktap_check(pid > 0 && WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		   "fork_child_does_not_inherit_the_mapping",
		   "the child touching the parent's mapping: status %#x (wanted SIGSEGV)", status);
	if (fd >= 0)
		close(fd);
}

/*
 * Live mappings of both devices, and the files they came from; and the pieces
 * of a third mapping that was split (munmap of its second page: the copy is
 * opened) and whose tail was moved (mremap: copied, then the original closed),
 * so that each piece's VMA was counted by the crate's open and close.
 */
struct live {
	int uc, wc;
	unsigned char *puc, *pwc, *head, *moved;
};

static int live_map(struct live *l)
{
	unsigned char *split, *to;

	l->uc = open(PCI_BAR_DEV_UC, O_RDWR);
	l->wc = open(PCI_BAR_DEV_WC, O_RDWR);
	l->puc = l->uc < 0 ? MAP_FAILED : map_fd(l->uc, bar_pages, 0, MAP_SHARED);
	l->pwc = l->wc < 0 ? MAP_FAILED : map_fd(l->wc, 2, 1, MAP_SHARED);
	split = l->uc < 0 ? MAP_FAILED : map_fd(l->uc, 4, 8, MAP_SHARED);
	to = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	l->head = MAP_FAILED;
	l->moved = MAP_FAILED;
	if (split != MAP_FAILED && to != MAP_FAILED && !munmap(split + page, page)) {
		l->head = split;
		l->moved = mremap(split + 2 * page, 2 * page, 2 * page,
				  MREMAP_MAYMOVE | MREMAP_FIXED, to);
	}
	if (l->moved == MAP_FAILED && to != MAP_FAILED)
		munmap(to, 2 * page);
	return l->puc != MAP_FAILED && l->pwc != MAP_FAILED && l->moved == to &&
	       rmp_read_signal(l->puc) == 0 && rmp_read_signal(l->pwc + page) == 0 &&
	       page_is(l->head, 8, 0) && page_is(l->moved + page, 11, 0);
}

static void live_unmap(struct live *l)
{
	if (l->puc != MAP_FAILED)
		munmap(l->puc, bar_pages * page);
	if (l->pwc != MAP_FAILED)
		munmap(l->pwc, 2 * page);
	if (l->head != MAP_FAILED)
		munmap(l->head, page);
	if (l->moved != MAP_FAILED)
		munmap(l->moved, 2 * page);
	if (l->uc >= 0)
		close(l->uc);
	if (l->wc >= 0)
		close(l->wc);
}

/*
 * After the device went away (@how): every access to a live mapping raises
 * SIGBUS (the entries were zapped and there is no fault handler to bring
 * them back), new mappings of the files still open get ENODEV.
 */
static void test_gone(struct live *l, const char *how)
{
	unsigned char *p = map_fd(l->uc, 1, 0, MAP_SHARED);
	int sig_uc = rmp_read_signal(l->puc);
	int sig_last = rmp_read_signal(l->puc + (bar_pages - 1) * page);
	int sig_wc = rmp_read_signal(l->pwc), err = p == MAP_FAILED ? errno : 0;
	int sig_head = rmp_read_signal(l->head), sig_moved = rmp_read_signal(l->moved + page);
	char name[128];

	if (p != MAP_FAILED)
		munmap(p, page);
	snprintf(name, sizeof(name), "%s_zaps_every_mapping_sigbus", how);
	ktap_check(sig_uc == SIGBUS && sig_last == SIGBUS && sig_wc == SIGBUS &&
		   sig_head == SIGBUS && sig_moved == SIGBUS, name,
		   "signals after %s: uncached first page %d, last page %d, write-combined %d, split %d, moved %d (wanted SIGBUS %d)",
		   how, sig_uc, sig_last, sig_wc, sig_head, sig_moved, SIGBUS);
	snprintf(name, sizeof(name), "%s_new_mmap_of_open_file_enodev", how);
	ktap_check(err == ENODEV, name, "mmap after %s: %s (wanted ENODEV)", how,
		   err ? strerror(err) : "mapped");
}

static void test_unbind_and_bind(void)
{
	struct live l;
	char path[512];
	int mapped = live_map(&l), unbound, gone_errno, bound, old;

	unbound = sysfs_write("/sys/bus/pci/drivers/" PCI_BAR_DRIVER "/unbind", bar.bdf);
	ktap_check(mapped && !unbound && !pci_bar_bound(&bar),
		   "unbind_with_live_split_and_moved_mappings",
		   "mapped %d, unbind %s, still bound %d", mapped, strerror(-unbound),
		   pci_bar_bound(&bar));
	test_gone(&l, "unbind");
	gone_errno = map_errno(PCI_BAR_DEV_UC, 1, 0, MAP_SHARED);
	ktap_check(gone_errno == ENOENT, "unbind_removes_the_device_nodes",
		   "open %s after unbind: %s (wanted ENOENT)", PCI_BAR_DEV_UC,
		   strerror(gone_errno));

	bound = sysfs_write("/sys/bus/pci/drivers/" PCI_BAR_DRIVER "/bind", bar.bdf);
	snprintf(path, sizeof(path), "%s", bar.bdf);
	ktap_check(!bound && pci_bar_bound(&bar), "bind_again",
		   "bind %s: %s, bound %d", path, strerror(-bound), pci_bar_bound(&bar));
	test_reads_host_pattern(PCI_BAR_DEV_UC, "after_bind_maps_again");
	/* The file opened before the unbind keeps the revoked memory, not the new binding's. */
	{
		unsigned char *p = map_fd(l.uc, 1, 0, MAP_SHARED);

		old = p == MAP_FAILED ? errno : 0;
		if (p != MAP_FAILED)
			munmap(p, page);
	}
	ktap_check(old == ENODEV, "file_opened_before_unbind_stays_revoked",
		   "mmap of the old file after bind: %s (wanted ENODEV)",
		   old ? strerror(old) : "mapped");
	live_unmap(&l);
}

static void test_remove_and_rescan(void)
{
	struct live l;
	char path[512];
	int mapped = live_map(&l), removed, rescanned, found, ok = 0;
	struct stat st;
	unsigned char *p;
	int fd;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/remove", bar.bdf);
	removed = sysfs_write(path, "1");
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s", bar.bdf);
	ktap_check(mapped && !removed && stat(path, &st) < 0,
		   "remove_with_live_split_and_moved_mappings",
		   "mapped %d, remove %s, %s still there %d", mapped, strerror(-removed), path,
		   stat(path, &st) == 0);
	test_gone(&l, "remove");
	live_unmap(&l);

	rescanned = sysfs_write("/sys/bus/pci/rescan", "1");
	found = pci_bar_find(&bar);
	fd = open(PCI_BAR_DEV_UC, O_RDWR);
	p = fd < 0 ? MAP_FAILED : map_fd(fd, 1, PAGE_RESCAN, MAP_SHARED);
	if (p != MAP_FAILED) {
		page_write(p, PAGE_RESCAN, TAG_RESCAN);
		ok = page_is(p, PAGE_RESCAN, TAG_RESCAN);
		munmap(p, page);
	}
	ktap_check(!rescanned && !found && pci_bar_bound(&bar) && ok,
		   "rescan_binds_and_maps_again",
		   "rescan %s, device %s, bound %d, page %d written and read back %d",
		   strerror(-rescanned), found ? strerror(-found) : bar.bdf, pci_bar_bound(&bar),
		   PAGE_RESCAN, ok);
	if (fd >= 0)
		close(fd);
}

static void test_module_refcnt(void)
{
	long refcnt = -1;
	FILE *f = fopen("/sys/module/" PCI_BAR_DRIVER "/refcnt", "r");

	if (f) {
		if (fscanf(f, "%ld", &refcnt) != 1)
			refcnt = -1;
		fclose(f);
	}
	ktap_check(refcnt == 0, "module_refcnt_zero", "refcnt %ld once every file is closed",
		   refcnt);
}

int main(void)
{
	int found, listed;

	page = sysconf(_SC_PAGESIZE);
	rmp_probe_catch_faults();
	mount_debugfs();
	ktap_begin("rust_pci_bar_user", 28);

	found = pci_bar_find(&bar);
	bar_pages = bar.size / page;
	ktap_check(!found && bar.size == 1024 * 1024 && pci_bar_bound(&bar), "device_bound",
		   "ivshmem %s, BAR %d %llu bytes at %#llx, bound to " PCI_BAR_DRIVER " %d",
		   found ? strerror(-found) : bar.bdf, PCI_BAR_INDEX, bar.size, bar.phys,
		   !found && pci_bar_bound(&bar));
	if (found || !bar.size) {
		ktap_end();
		return 1;
	}
	listed = pat_overlapping(bar.phys, bar.phys + bar.size);
	ktap_check(listed == 0, "bar_has_no_memtype_until_mapped",
		   "%d reservations overlap the BAR while nothing maps it (wanted 0: the driver's own kernel mapping would fix its type for every user mapping)",
		   listed);

	test_reads_host_pattern(PCI_BAR_DEV_UC, "uncached_reads_the_host_pattern");
	test_reads_host_pattern(PCI_BAR_DEV_WC, "write_combined_reads_the_host_pattern");
	test_write_reads_back(PCI_BAR_DEV_UC, PCI_BAR_DEV_WC, PAGE_UC, TAG_UC,
			      "uncached_write_reads_back");
	test_write_reads_back(PCI_BAR_DEV_WC, PCI_BAR_DEV_UC, PAGE_WC, TAG_WC,
			      "write_combined_write_reads_back");
	test_memtype(PCI_BAR_DEV_UC, PAT_UC_MINUS, "uncached_memtype_is_uc_minus");
	test_memtype(PCI_BAR_DEV_WC, PAT_WC, "write_combined_memtype_is_wc");
	test_second_mapping_takes_first_type();
	test_offsets();
	test_refusals();
	test_vmflags(PCI_BAR_DEV_UC, "uncached_vmflags_io_pf_de_dd_dc");
	test_vmflags(PCI_BAR_DEV_WC, "write_combined_vmflags_io_pf_de_dd_dc");
	test_fork_child_has_no_mapping();
	test_unbind_and_bind();
	test_remove_and_rescan();

	listed = pat_overlapping(bar.phys, bar.phys + bar.size);
	ktap_check(listed == 0, "no_memtype_left_after_munmap",
		   "%d reservations overlap the BAR once every mapping is gone", listed);
	test_module_refcnt();
	return ktap_end();
}
