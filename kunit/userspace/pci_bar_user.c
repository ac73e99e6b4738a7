// SPDX-License-Identifier: GPL-2.0
/*
 * samples/rust_pci_bar.rs from userspace: QEMU's ivshmem-plain BAR 2, whose
 * first half /dev/rust_pci_bar maps uncached and whose second half
 * /dev/rust_pci_bar_wc maps write-combined. The host filled the BAR's backing
 * file with a known pattern before boot and checks after the run that the
 * pages written here reached it (kunit/pci_bar_backing.py). On x86 the memory
 * type reservations are read from the kernel's PAT list (pat_memtype_list);
 * arm64 has none (HAVE_PAT in pci_bar.h); the KUnit suite rust_pci_bar_kunit
 * checks the page table entries themselves, on both.
 * Then the device goes away under live mappings: driver unbound, a driver
 * that leaks its memory (kunit/pci_bar_leak.rs) unbound, device removed; and
 * comes back: bind, rescan; and is reset under a reader.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "ktap.h"
#include "pci_bar.h"
#include "probe.h"

/*
 * Pages this test writes (BAR page indices), and what it XORs into the host
 * pattern (kunit/pci_bar_backing.py): page 1 through the uncached half, page
 * 2 of the write-combined half, page 3 after the rescan.
 */
#define PAGE_UC		1
#define TAG_UC		0x11
#define WC_PAGE		2
#define TAG_WC		0x22
#define PAGE_RESCAN	3
#define TAG_RESCAN	0x33

#define LEAK_DRIVER	"rmp_pci_leak"
#define LEAK_DEV	"/dev/rmp_pci_leak"
#define LEAK_REFUSALS	10
#define RMP_PCI_LEAK_IOC_REFUSALS	_IOR('l', 0x01, int[LEAK_REFUSALS])

static long page;
/* Pages of the BAR, and of each half (one misc device each). */
static unsigned long bar_pages, half;
static struct pci_bar bar;

#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))

/* The BAR page that page @pgoff of @dev maps. */
static unsigned long bar_page(const char *dev, unsigned long pgoff)
{
	return strcmp(dev, PCI_BAR_DEV_WC) ? pgoff : half + pgoff;
}

/* Maps @pages pages of @fd from page @pgoff; MAP_FAILED and errno on failure. */
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

/* Whether page @p is BAR page @index as the host wrote it, or as this test may have. */
static int page_is_expected(const unsigned char *p, unsigned long index)
{
	return page_is(p, index, 0) || (index == PAGE_UC && page_is(p, index, TAG_UC)) ||
	       (index == half + WC_PAGE && page_is(p, index, TAG_WC)) ||
	       (index == PAGE_RESCAN && page_is(p, index, TAG_RESCAN));
}

static void page_write(unsigned char *p, unsigned long index, unsigned char tag)
{
	for (long i = 0; i < page; i++)
		p[i] = pci_bar_host_byte(index * page + i) ^ tag;
	/* Drain the write-combining buffers before anyone else looks. */
	__sync_synchronize();
}

/* Whether a line of /proc/iomem names @name. */
static int iomem_has(const char *name)
{
	FILE *f = fopen("/proc/iomem", "r");
	char line[256];
	int found = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			found = 1;
	fclose(f);
	return found;
}

/* The whole half of @dev: every page the host's, but for those this test writes. */
static void test_reads_host_pattern(const char *dev, const char *name)
{
	int fd = open(dev, O_RDWR), bad = -1;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, half, 0, MAP_SHARED);

	if (p != MAP_FAILED) {
		for (unsigned long i = 0; i < half && bad < 0; i++)
			if (!page_is_expected(p + i * page, bar_page(dev, i)))
				bad = i;
		munmap(p, half * page);
	}
	ktap_check(p != MAP_FAILED && bad < 0, name, "%s: mmap of %lu pages: %s; first bad page %d",
		   dev, half, p == MAP_FAILED ? strerror(errno) : "ok", bad);
	if (fd >= 0)
		close(fd);
}

/*
 * Writes page @pgoff of @dev with @tag and reads it back through another
 * mapping, whose entry the fault handler makes anew.
 */
static void test_write_reads_back(const char *dev, unsigned long pgoff, unsigned char tag,
				  const char *name)
{
	unsigned long index = bar_page(dev, pgoff);
	int fd = open(dev, O_RDWR), seen = 0, back = 0;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, 1, pgoff, MAP_SHARED), *q;

	if (p != MAP_FAILED) {
		page_write(p, index, tag);
		seen = page_is(p, index, tag);
		munmap(p, page);
	}
	q = fd < 0 ? MAP_FAILED : map_fd(fd, 1, pgoff, MAP_SHARED);
	if (q != MAP_FAILED) {
		back = page_is(q, index, tag);
		munmap(q, page);
	}
	ktap_check(seen && back, name, "BAR page %lu through %s: written %s, read back %s", index,
		   dev, seen ? "ok" : "wrong", back ? "ok" : "wrong");
	if (fd >= 0)
		close(fd);
}

static void test_memtypes_pat(void);

/*
 * The page attribute table keeps one memory type per physical range: the
 * uncached half has no reservation (an unreserved range is uncached-minus,
 * lookup_memtype()), the write-combined half exactly one, of its whole range,
 * made when the driver bound. Mapping and touching both halves adds nothing:
 * the fault handler's entries take the range's type (pfnmap_setup_cachemode()).
 */
static void test_memtypes(void)
{
	if (!HAVE_PAT) {
		ktap_skip("uncached_half_has_no_memtype_reservation",
			  "x86 only: PAT reservations; arm64 has no PAT");
		ktap_skip("write_combined_half_is_reserved_while_bound",
			  "x86 only: arch_io_reserve_memtype_wc() is a no-op on arm64");
		ktap_skip("mappings_add_no_memtype_reservation",
			  "x86 only: PAT reservations; arm64 has no PAT");
		return;
	}
	test_memtypes_pat();
}

/*
 * arm64 keeps no memory type per physical range: there is no PAT list in
 * debugfs (while debugfs is mounted), so nothing can compare the types of two
 * mappings of the BAR (rust_pci_bar_kunit's second_mapping_with_another_type
 * shows one of each).
 */
static void test_no_pat_list(void)
{
	struct stat st;
	int debugfs, list;

	if (HAVE_PAT) {
		ktap_skip("no_memtype_list_without_pat",
			  "arm64 only: x86 lists its PAT reservations");
		return;
	}
	debugfs = stat("/sys/kernel/debug/kmemleak", &st) == 0;
	list = stat(PAT_LIST, &st) == 0 ? 0 : errno;
	ktap_check(debugfs && list == ENOENT, "no_memtype_list_without_pat",
		   "debugfs mounted %d; %s: %s (wanted ENOENT)", debugfs, PAT_LIST,
		   list ? strerror(list) : "exists");
}

static void test_memtypes_pat(void)
{
	unsigned long long uc = bar.phys, wc = bar.phys + half * page, end = bar.phys + bar.size;
	int uc_lines = pat_overlapping(uc, wc), wc_lines, wc_exact, during = -1, touched = 0;
	int fu = open(PCI_BAR_DEV_UC, O_RDWR), fw = open(PCI_BAR_DEV_WC, O_RDWR);
	unsigned char *p = fu < 0 ? MAP_FAILED : map_fd(fu, half, 0, MAP_SHARED);
	unsigned char *q = fw < 0 ? MAP_FAILED : map_fd(fw, half, 0, MAP_SHARED);
	char type[64];

	wc_lines = pat_overlapping(wc, end);
	wc_exact = pat_lines(wc, end, type, sizeof(type));
	ktap_check(uc_lines == 0, "uncached_half_has_no_memtype_reservation",
		   "%d reservations overlap [%#llx-%#llx) (wanted 0: uncached-minus by default)",
		   uc_lines, uc, wc);
	ktap_check(wc_lines == 1 && wc_exact == 1 && !strcmp(type, PAT_WC),
		   "write_combined_half_is_reserved_while_bound",
		   "%d reservations overlap [%#llx-%#llx), %d of exactly it, type %s (wanted 1, %s)",
		   wc_lines, wc, end, wc_exact, type, PAT_WC);
	if (p != MAP_FAILED && q != MAP_FAILED) {
		touched = !rmp_read_signal(p) && !rmp_read_signal(p + (half - 1) * page) &&
			  !rmp_read_signal(q) && !rmp_read_signal(q + (half - 1) * page);
		during = pat_overlapping(bar.phys, end);
	}
	ktap_check(touched && during == 1, "mappings_add_no_memtype_reservation",
		   "both halves mapped and touched %d: %d reservations overlap the BAR (wanted 1)",
		   touched, during);
	if (p != MAP_FAILED)
		munmap(p, half * page);
	if (q != MAP_FAILED)
		munmap(q, half * page);
	if (fu >= 0)
		close(fu);
	if (fw >= 0)
		close(fw);
}

/*
 * An 8-byte load at an odd address of each half. x86 allows an unaligned
 * access to any memory type. arm64 allows it to Normal memory (the
 * write-combined half is Normal-NC) but not to Device memory (the uncached
 * half is Device-nGnRnE): an alignment fault, SIGBUS for userspace. So code
 * that reads an uncached arm64 mapping with memcpy() or unaligned loads dies
 * where it works on x86.
 */
static void test_unaligned_read(void)
{
	const unsigned long pgoff = 6;
	int fu = open(PCI_BAR_DEV_UC, O_RDWR), fw = open(PCI_BAR_DEV_WC, O_RDWR);
	unsigned char *p = fu < 0 ? MAP_FAILED : map_fd(fu, 1, pgoff, MAP_SHARED);
	unsigned char *q = fw < 0 ? MAP_FAILED : map_fd(fw, 1, pgoff, MAP_SHARED);
	unsigned long long vu = 0, vw = 0, want_u = 0, want_w = 0;
	int sig_u = -1, sig_w = -1, want_sig_u = HAVE_PAT ? 0 : SIGBUS;

	unsigned long at_u = bar_page(PCI_BAR_DEV_UC, pgoff) * page + 1;
	unsigned long at_w = bar_page(PCI_BAR_DEV_WC, pgoff) * page + 1;

	for (int i = 7; i >= 0; i--) {
		want_u = want_u << 8 | pci_bar_host_byte(at_u + i);
		want_w = want_w << 8 | pci_bar_host_byte(at_w + i);
	}
	if (p != MAP_FAILED && q != MAP_FAILED) {
		sig_u = rmp_read64_signal(p + 1, &vu);
		sig_w = rmp_read64_signal(q + 1, &vw);
	}
	ktap_check(sig_u == want_sig_u && (sig_u || vu == want_u) && !sig_w && vw == want_w,
		   "unaligned_read_per_memory_type",
		   "8 bytes at offset 1: uncached signal %d (wanted %d), %#llx (wanted %#llx); write-combined signal %d (wanted 0), %#llx (wanted %#llx)",
		   sig_u, want_sig_u, vu, want_u, sig_w, vw, want_w);
	if (p != MAP_FAILED)
		munmap(p, page);
	if (q != MAP_FAILED)
		munmap(q, page);
	if (fu >= 0)
		close(fu);
	if (fw >= 0)
		close(fw);
}

/* A mapping at page offset k sees page k of its half. */
static void test_offsets(void)
{
	const unsigned long pgoffs[] = { 0, 5, 17, half / 2, half - 1 };
	static const char * const devs[] = { PCI_BAR_DEV_UC, PCI_BAR_DEV_WC };
	long bad = -1;

	for (unsigned int d = 0; d < ARRAY_SIZE(devs) && bad < 0; d++) {
		int fd = open(devs[d], O_RDWR);

		for (unsigned int i = 0; i < ARRAY_SIZE(pgoffs) && bad < 0; i++) {
			unsigned char *p = MAP_FAILED;

			if (fd >= 0)
				p = map_fd(fd, 1, pgoffs[i], MAP_SHARED);

			if (p == MAP_FAILED || !page_is_expected(p, bar_page(devs[d], pgoffs[i])))
				bad = bar_page(devs[d], pgoffs[i]);
			if (p != MAP_FAILED)
				munmap(p, page);
		}
		/* Two pages from page 16: the second is page 17. */
		if (bad < 0) {
			unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, 2, 16, MAP_SHARED);

			if (p == MAP_FAILED || !page_is(p, bar_page(devs[d], 16), 0) ||
			    !page_is(p + page, bar_page(devs[d], 17), 0))
				bad = bar_page(devs[d], 16);
			if (p != MAP_FAILED)
				munmap(p, 2 * page);
		}
		if (fd >= 0)
			close(fd);
	}
	ktap_check(bad < 0, "offset_selects_the_page_of_the_half",
		   "the mapping of BAR page %ld does not see that page", bad);
}

static void test_refusals(void)
{
	int past = map_errno(PCI_BAR_DEV_UC, 1, half, MAP_SHARED);
	int across = map_errno(PCI_BAR_DEV_WC, 2, half - 1, MAP_SHARED);
	int larger = map_errno(PCI_BAR_DEV_UC, half + 1, 0, MAP_SHARED);
	int priv_uc = map_errno(PCI_BAR_DEV_UC, 1, 0, MAP_PRIVATE);
	int priv_wc = map_errno(PCI_BAR_DEV_WC, 1, 0, MAP_PRIVATE);

	ktap_check(past == EINVAL && across == EINVAL && larger == EINVAL, "past_the_end_is_einval",
		   "page %lu: %s; 2 pages from %lu: %s; %lu pages: %s (wanted EINVAL)", half,
		   strerror(past), half - 1, strerror(across), half + 1, strerror(larger));
	ktap_check(priv_uc == EINVAL && priv_wc == EINVAL, "private_mapping_is_einval",
		   "MAP_PRIVATE: %s, %s (wanted EINVAL)", strerror(priv_uc), strerror(priv_wc));
}

/* VM_IO, VM_PFNMAP, VM_DONTEXPAND, VM_DONTDUMP and VM_DONTCOPY, shared. */
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
		(void)rmp_read_signal(p);
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
 * so that each piece's VMA was counted by the crate's open and close. Some of
 * their pages were touched (entries exist), others not (a fault would make one).
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
	l->puc = l->uc < 0 ? MAP_FAILED : map_fd(l->uc, half, 0, MAP_SHARED);
	l->pwc = l->wc < 0 ? MAP_FAILED : map_fd(l->wc, 2, 1, MAP_SHARED);
	split = l->uc < 0 ? MAP_FAILED : map_fd(l->uc, 4, 8, MAP_SHARED);
	to = mmap(NULL, 2 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	l->head = MAP_FAILED;
	l->moved = MAP_FAILED;
	if (split != MAP_FAILED && to != MAP_FAILED && !rmp_read_signal(split + 2 * page) &&
	    !munmap(split + page, page)) {
		l->head = split;
		l->moved = mremap(split + 2 * page, 2 * page, 2 * page,
				  MREMAP_MAYMOVE | MREMAP_FIXED, to);
	}
	if (l->moved == MAP_FAILED && to != MAP_FAILED)
		munmap(to, 2 * page);
	return l->puc != MAP_FAILED && l->pwc != MAP_FAILED && l->moved == to &&
	       rmp_read_signal(l->puc) == 0 && rmp_read_signal(l->pwc + page) == 0 &&
	       page_is(l->head, 8, 0) && page_is(l->moved, 10, 0) &&
	       page_is(l->moved + page, 11, 0);
}

static void live_unmap(struct live *l)
{
	if (l->puc != MAP_FAILED)
		munmap(l->puc, half * page);
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
 * SIGBUS, whether its entry existed (zapped) or not (the fault handler refuses
 * revoked memory); new mappings of the files still open get ENODEV.
 */
static void test_gone(struct live *l, const char *how)
{
	unsigned char *p = map_fd(l->uc, 1, 0, MAP_SHARED);
	int sig_uc = rmp_read_signal(l->puc);
	int sig_last = rmp_read_signal(l->puc + (half - 1) * page);
	int sig_wc = rmp_read_signal(l->pwc + page), err = p == MAP_FAILED ? errno : 0;
	int sig_head = rmp_read_signal(l->head), sig_moved = rmp_read_signal(l->moved + page);
	char name[128];

	if (p != MAP_FAILED)
		munmap(p, page);
	snprintf(name, sizeof(name), "%s_zaps_every_mapping_sigbus", how);
	ktap_check(sig_uc == SIGBUS && sig_last == SIGBUS && sig_wc == SIGBUS &&
		   sig_head == SIGBUS && sig_moved == SIGBUS, name,
		   "signals after %s: uncached first page %d, last page (never touched) %d, write-combined %d, split %d, moved %d (wanted SIGBUS %d)",
		   how, sig_uc, sig_last, sig_wc, sig_head, sig_moved, SIGBUS);
	snprintf(name, sizeof(name), "%s_new_mmap_of_open_file_enodev", how);
	ktap_check(err == ENODEV, name, "mmap after %s: %s (wanted ENODEV)", how,
		   err ? strerror(err) : "mapped");
}

static void test_unbind_and_bind(void)
{
	struct live l;
	int mapped = live_map(&l), unbound, gone_errno, bound, old, uc, wc, reserved;

	unbound = sysfs_write("/sys/bus/pci/drivers/" PCI_BAR_DRIVER "/unbind", bar.bdf);
	ktap_check(mapped && !unbound && !pci_bar_bound(&bar),
		   "unbind_with_live_split_and_moved_mappings",
		   "mapped %d, unbind %s, still bound %d", mapped, strerror(-unbound),
		   pci_bar_bound(&bar));
	test_gone(&l, "unbind");
	uc = iomem_has("rust_pci_bar :");
	wc = iomem_has("rust_pci_bar_wc");
	/* -1: no PAT list to read (arm64). */
	reserved = pat_overlapping(bar.phys, bar.phys + bar.size);
	ktap_check(uc == 0 && wc == 0 && reserved == (HAVE_PAT ? 0 : -1),
		   "unbind_releases_the_ranges_and_the_memtype",
		   "after unbind: /proc/iomem names rust_pci_bar %d, rust_pci_bar_wc %d; %d PAT reservations overlap the BAR (wanted 0, 0, %d)",
		   uc, wc, reserved, HAVE_PAT ? 0 : -1);
	gone_errno = map_errno(PCI_BAR_DEV_UC, 1, 0, MAP_SHARED);
	ktap_check(gone_errno == ENOENT, "unbind_removes_the_device_nodes",
		   "open %s after unbind: %s (wanted ENOENT)", PCI_BAR_DEV_UC,
		   strerror(gone_errno));

	bound = sysfs_write("/sys/bus/pci/drivers/" PCI_BAR_DRIVER "/bind", bar.bdf);
	ktap_check(!bound && pci_bar_bound(&bar), "bind_again", "bind %s: %s, bound %d",
		   bar.bdf, strerror(-bound), pci_bar_bound(&bar));
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

/* Binds the device to @driver (through driver_override unless it is the sample's); 0 or -errno. */
static int bind_to(const char *driver)
{
	char path[512];
	int err;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver_override", bar.bdf);
	err = sysfs_write(path, strcmp(driver, PCI_BAR_DRIVER) ? driver : "\n");
	if (err)
		return err;
	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/bind", driver);
	return sysfs_write(path, bar.bdf);
}

/*
 * kunit/pci_bar_leak.rs: a driver that records what DeviceMemory::pci_bar_range
 * refuses, maps the whole BAR through /dev/rmp_pci_leak, and leaks a reference
 * to that memory. Its unbind must still zap its mappings and release the
 * range: the crate ties both to the device (devres), not to a Rust value's
 * drop.
 */
static void test_leaking_driver(void)
{
	/* In the order of refusals() in kunit/pci_bar_leak.rs. */
	static const int want[LEAK_REFUSALS] = {
		-EINVAL,	/* the expansion ROM (resource 6) */
		-EINVAL,	/* resource 7: past the six BARs */
		-EINVAL,	/* BAR 0: less than a page */
		-ENODEV,	/* BAR 1: none */
		-EINVAL,	/* BAR 2 write-back */
		-EINVAL,	/* BAR 2 from byte 100 */
		-EINVAL,	/* BAR 2 past its end */
		-EINVAL,	/* BAR 2, 0 bytes */
		-EINVAL,	/* BAR 0 write-combined: not prefetchable */
		-EBUSY,		/* a page of BAR 2, which the driver has taken whole */
	};
	int got[LEAK_REFUSALS], unbound, bound, refused = 0, fd = -1, named = -1, err = 0;
	int sig_first = -1, sig_last = -1, gone = -1, seen = 0, back;
	unsigned char *p = MAP_FAILED, *q;
	char path[512], why[256] = "";

	unbound = sysfs_write("/sys/bus/pci/drivers/" PCI_BAR_DRIVER "/unbind", bar.bdf);
	bound = unbound ? unbound : bind_to(LEAK_DRIVER);
	if (!bound)
		fd = open(LEAK_DEV, O_RDWR);
	if (fd >= 0 && !ioctl(fd, RMP_PCI_LEAK_IOC_REFUSALS, got)) {
		refused = !memcmp(got, want, sizeof(want));
		for (int i = 0, n = 0; i < LEAK_REFUSALS; i++)
			n += snprintf(why + n, sizeof(why) - n, " %d", got[i]);
	}
	ktap_check(!bound && refused, "leaking_driver_refuses_what_it_must",
		   "unbind %s, bind to " LEAK_DRIVER " %s; errnos:%s", strerror(-unbound),
		   strerror(-bound), why);

	if (fd >= 0)
		p = map_fd(fd, bar_pages, 0, MAP_SHARED);
	if (p != MAP_FAILED) {
		unsigned char *last = p + (bar_pages - 1) * page;

		seen = page_is_expected(p, 0) && page_is_expected(last, bar_pages - 1);
		named = iomem_has(LEAK_DRIVER);
	}
	ktap_check(seen && named == 1, "leaking_driver_maps_the_bar",
		   "mmap of %lu pages: %s, pages as the host wrote them %d, /proc/iomem names it %d",
		   bar_pages, p == MAP_FAILED ? strerror(errno) : "ok", seen, named);

	snprintf(path, sizeof(path), "/sys/bus/pci/drivers/%s/unbind", LEAK_DRIVER);
	unbound = sysfs_write(path, bar.bdf);
	if (p != MAP_FAILED) {
		sig_first = rmp_read_signal(p);
		sig_last = rmp_read_signal(p + (bar_pages - 1) * page);
		q = map_fd(fd, 1, 0, MAP_SHARED);
		err = q == MAP_FAILED ? errno : 0;
		if (q != MAP_FAILED)
			munmap(q, page);
	}
	ktap_check(!unbound && sig_first == SIGBUS && sig_last == SIGBUS && err == ENODEV,
		   "leaking_driver_unbind_zaps_its_mappings",
		   "unbind %s; signals %d, %d (wanted SIGBUS %d); mmap of the open file %s (wanted ENODEV)",
		   strerror(-unbound), sig_first, sig_last, SIGBUS, err ? strerror(err) : "mapped");
	gone = iomem_has(LEAK_DRIVER);
	ktap_check(gone == 0, "leaking_driver_unbind_releases_the_range",
		   "/proc/iomem still names " LEAK_DRIVER ": %d", gone);
	if (p != MAP_FAILED)
		munmap(p, bar_pages * page);
	if (fd >= 0)
		close(fd);
	back = bind_to(PCI_BAR_DRIVER);
	if (back || !pci_bar_bound(&bar))
		printf("    # could not bind %s back to " PCI_BAR_DRIVER ": %s\n", bar.bdf,
		       strerror(-back));
}

static void test_remove_and_rescan(void)
{
	struct live l;
	char path[512];
	int mapped = live_map(&l), removed, rescanned, found, ok = 0, reserved;
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
	reserved = pat_overlapping(bar.phys, bar.phys + bar.size);
	ktap_check(!rescanned && !found && pci_bar_bound(&bar) && ok &&
		   reserved == (HAVE_PAT ? 1 : -1), "rescan_binds_and_maps_again",
		   "rescan %s, device %s, bound %d, page %d written and read back %d, %d PAT reservations (wanted %d)",
		   strerror(-rescanned), found ? strerror(-found) : bar.bdf, pci_bar_bound(&bar),
		   PAGE_RESCAN, ok, reserved, HAVE_PAT ? 1 : -1);
	if (fd >= 0)
		close(fd);
}

/*
 * A reset of the device (sysfs "reset": pci_reset_function(), here a
 * secondary bus reset through the bridge the guest's ivshmem sits behind)
 * while a reader loops over a mapped page. The core turns memory decoding off
 * for the reset and restores the device after it; the crate neither zaps nor
 * blocks the mapping around it (a Rust PCI driver gets no reset_prepare or
 * reset_done callback in 7.3), so the reader must simply survive: no signal,
 * no kernel splat, and the page reads as the host wrote it once the reset
 * returned. What it read during the reset is reported, not judged: an access
 * to a device that does not decode is answered by the platform.
 */
static void test_reset_with_a_reader(void)
{
	const unsigned long index = 5;
	int fd = open(PCI_BAR_DEV_UC, O_RDWR), status = -1, reset = -1, after = 0;
	unsigned char *p = fd < 0 ? MAP_FAILED : map_fd(fd, 1, index, MAP_SHARED);
	long *shared = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	char path[512];
	pid_t pid = -1;

	if (p != MAP_FAILED && shared != MAP_FAILED) {
		shared[0] = 0;	/* stop */
		shared[1] = 0;	/* reads */
		shared[2] = 0;	/* reads that were not the host's bytes */
		shared[3] = 0;	/* the reader has mapped the page */
		pid = fork();
		if (pid == 0) {
			/* Its own mapping: device memory is not inherited (VM_DONTCOPY). */
			int cfd = open(PCI_BAR_DEV_UC, O_RDWR);
			unsigned char *q = cfd < 0 ? MAP_FAILED : map_fd(cfd, 1, index, MAP_SHARED);

			signal(SIGSEGV, SIG_DFL);
			signal(SIGBUS, SIG_DFL);
			if (q == MAP_FAILED)
				_exit(2);
			__atomic_store_n(&shared[3], 1, __ATOMIC_SEQ_CST);
			while (!__atomic_load_n(&shared[0], __ATOMIC_SEQ_CST)) {
				__atomic_fetch_add(&shared[1], 1, __ATOMIC_RELAXED);
				if (!page_is(q, index, 0))
					__atomic_fetch_add(&shared[2], 1, __ATOMIC_RELAXED);
			}
			_exit(0);
		}
	}
	if (pid > 0) {
		FILE *f;

		/* How the kernel resets the device: "bus" behind a bridge. */
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset_method", bar.bdf);
		f = fopen(path, "r");
		if (f) {
			char methods[128] = "";

			if (fgets(methods, sizeof(methods), f))
				methods[strcspn(methods, "\n")] = 0;
			printf("    # reset: %s's reset_method is \"%s\"\n", bar.bdf, methods);
			fclose(f);
		}
		for (int i = 0; i < 500 && !__atomic_load_n(&shared[3], __ATOMIC_SEQ_CST); i++)
			usleep(10 * 1000);
		usleep(100 * 1000);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/reset", bar.bdf);
		reset = sysfs_write(path, "1");
		usleep(100 * 1000);
		__atomic_store_n(&shared[0], 1, __ATOMIC_SEQ_CST);
		waitpid(pid, &status, 0);
		after = page_is(p, index, 0);
	}
	ktap_check(!reset && WIFEXITED(status) && WEXITSTATUS(status) == 0 && after &&
		   pci_bar_bound(&bar), "reset_with_a_reader_keeps_the_mapping",
		   "reset %s; reader %s %d after %ld reads (%ld not the host's bytes); page %lu after the reset %s; bound %d",
		   strerror(-reset), WIFSIGNALED(status) ? "killed by signal" : "exited",
		   WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status),
		   shared == MAP_FAILED ? -1L : shared[1], shared == MAP_FAILED ? -1L : shared[2],
		   index, after ? "as the host wrote it" : "wrong", pci_bar_bound(&bar));
	if (shared != MAP_FAILED) {
		printf("    # reset: the reader read %ld times, %ld of them not the host's bytes\n",
		       shared[1], shared[2]);
		munmap(shared, page);
	}
	if (p != MAP_FAILED)
		munmap(p, page);
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
	int found;

	page = sysconf(_SC_PAGESIZE);
	rmp_probe_catch_faults();
	mount_debugfs();
	ktap_begin("rust_pci_bar_user", 34);

	found = pci_bar_find(&bar);
	bar_pages = bar.size / page;
	half = bar_pages / 2;
	ktap_check(!found && bar.size == 1024 * 1024 && pci_bar_bound(&bar), "device_bound",
		   "ivshmem %s, BAR %d %llu bytes at %#llx, bound to " PCI_BAR_DRIVER " %d",
		   found ? strerror(-found) : bar.bdf, PCI_BAR_INDEX, bar.size, bar.phys,
		   !found && pci_bar_bound(&bar));
	if (found || !bar.size) {
		ktap_end();
		return 1;
	}
	test_memtypes();
	test_no_pat_list();
	test_reads_host_pattern(PCI_BAR_DEV_UC, "uncached_reads_the_host_pattern");
	test_reads_host_pattern(PCI_BAR_DEV_WC, "write_combined_reads_the_host_pattern");
	test_write_reads_back(PCI_BAR_DEV_UC, PAGE_UC, TAG_UC, "uncached_write_reads_back");
	test_write_reads_back(PCI_BAR_DEV_WC, WC_PAGE, TAG_WC, "write_combined_write_reads_back");
	test_offsets();
	test_unaligned_read();
	test_refusals();
	test_vmflags(PCI_BAR_DEV_UC, "uncached_vmflags_io_pf_de_dd_dc");
	test_vmflags(PCI_BAR_DEV_WC, "write_combined_vmflags_io_pf_de_dd_dc");
	test_fork_child_has_no_mapping();
	test_unbind_and_bind();
	test_leaking_driver();
	test_remove_and_rescan();
	test_reset_with_a_reader();
	test_module_refcnt();
	return ktap_end();
}
