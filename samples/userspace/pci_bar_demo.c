// SPDX-License-Identifier: GPL-2.0
/*
 * rust_pci_bar in one picture: QEMU's ivshmem-plain BAR 2, whose first half
 * /dev/rust_pci_bar maps uncached and whose second half /dev/rust_pci_bar_wc
 * maps write-combined; a message written through each and read back through
 * a new mapping; the VMA flags and the memory type reservation of each half;
 * then the driver unbound under a live mapping.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <unistd.h>

#define DEV_UC		"/dev/rust_pci_bar"
#define DEV_WC		"/dev/rust_pci_bar_wc"
#define DRIVER		"/sys/bus/pci/drivers/rust_pci_bar"
#define PAT_LIST	"/sys/kernel/debug/x86/pat_memtype_list"
#define PGOFF		5
#define MESSAGE		"hello from pid %d, written through %s"

static long page;
static char bdf[64];
static unsigned long long phys, size;

static int fail(const char *what)
{
	fprintf(stderr, "pci_bar_demo: %s: %s\n", what, strerror(errno));
	return 1;
}

/* The ivshmem device's sysfs name and the start of its BAR 2. */
static int find_device(void)
{
	unsigned long long start, end, flags;
	char path[320], line[128];
	unsigned int v = 0, d = 0;
	struct dirent *e;
	DIR *dir = opendir("/sys/bus/pci/devices");
	FILE *f;

	while (dir && (e = readdir(dir))) {
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/uevent", e->d_name);
		f = fopen(path, "r");
		while (f && fgets(line, sizeof(line), f))
			sscanf(line, "PCI_ID=%x:%x", &v, &d);
		if (f)
			fclose(f);
		if (v == 0x1af4 && d == 0x1110 && strlen(e->d_name) < sizeof(bdf)) {
			snprintf(bdf, sizeof(bdf), "%s", e->d_name);
			break;
		}
		v = 0;
	}
	if (dir)
		closedir(dir);
	if (!bdf[0])
		return -1;
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bdf);
	f = fopen(path, "r");
	for (int i = 0; f && i <= 2; i++) {
		if (!fgets(line, sizeof(line), f) ||
		    sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3)
			break;
		if (i == 2) {
			phys = start;
			size = end - start + 1;
		}
	}
	if (f)
		fclose(f);
	return phys ? 0 : -1;
}

/* Prints the VmFlags of the VMA at @p and the memory type PAT reserved for [@lo, @hi). */
static void show_mapping(const char *dev, const void *p, unsigned long long lo,
			 unsigned long long hi)
{
	unsigned long long a, b;
	char line[512], name[64], type[64] = "none: uncached-minus, the default";
	unsigned long start, end;
	int inside = 0;
	FILE *f = fopen("/proc/self/smaps", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, ' ') > strchr(line, '-'))
			inside = start <= (unsigned long)p && (unsigned long)p < end;
		else if (inside && !strncmp(line, "VmFlags:", 8))
			printf("    %s VmFlags:%s", dev, line + 8);
	}
	if (f)
		fclose(f);
	f = fopen(PAT_LIST, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "PAT: [mem 0x%llx-0x%llx] %63s", &a, &b, name) == 3 && a == lo &&
		    b == hi)
			snprintf(type, sizeof(type), "%s", name);
	if (f)
		fclose(f);
	printf("    %s: reservation of its half [mem %#llx-%#llx]: %s\n", dev, lo, hi, type);
}

/* Writes a message through a mapping of page PGOFF of @dev, reads it back through another. */
static int write_and_read_back(const char *dev, unsigned long long lo, unsigned long long hi)
{
	char msg[128], *p;
	int fd = open(dev, O_RDWR);

	if (fd < 0)
		return fail(dev);
	p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, PGOFF * page);
	if (p == MAP_FAILED)
		return fail(dev);
	snprintf(msg, sizeof(msg), MESSAGE, (int)getpid(), dev);
	memcpy(p, msg, strlen(msg) + 1);
	__sync_synchronize();
	printf("write through %s, page %d of its half: \"%s\"\n", dev, PGOFF, msg);
	show_mapping(dev, p, lo, hi);
	munmap(p, page);
	p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, PGOFF * page);
	if (p == MAP_FAILED)
		return fail(dev);
	printf("    read back through a new mapping: \"%.100s\"\n", p);
	munmap(p, page);
	close(fd);
	return 0;
}

static const char *errname(int err)
{
	switch (err) {
	case 0:
		return "mapped";
	case EINVAL:
		return "EINVAL";
	case ENODEV:
		return "ENODEV";
	default:
		return strerror(err);
	}
}

static sigjmp_buf jump;

static void on_sigbus(int sig)
{
	siglongjmp(jump, sig);
}

static int write_sysfs(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int ok = f && fputs(value, f) >= 0;

	return (f && fclose(f) == 0 && ok) ? 0 : -1;
}

int main(void)
{
	unsigned long long half;
	char *uc;
	int fdu, err;
	struct sigaction sa = { .sa_handler = on_sigbus };

	page = sysconf(_SC_PAGESIZE);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (find_device())
		return fail("no ivshmem-plain device (1af4:1110) with a BAR 2");
	half = size / 2;
	printf("QEMU's ivshmem-plain %s: BAR 2 at %#llx is a file on the host.\n", bdf, phys);
	printf("samples/rust_pci_bar.rs maps its first half uncached and its second half\n");
	printf("write-combined: a physical range has one memory type (x86 PAT keeps one per\n");
	printf("range; arm64 forbids mismatched aliases). Entries are made at the first\n");
	printf("access to each page, not by mmap().\n\n");

	if (write_and_read_back(DEV_UC, phys, phys + half) ||
	    write_and_read_back(DEV_WC, phys + half, phys + size))
		return 1;
	printf("  (io pf de dd dc: I/O memory, PFN entries, no growth, not dumped, not\n");
	printf("   inherited by a fork child. The write-combined half is reserved as such\n");
	printf("   while the driver is bound; mappings add no reservation of their own.)\n");

	fdu = open(DEV_UC, O_RDWR);
	if (fdu < 0)
		return fail("open " DEV_UC);
	err = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fdu, 0) == MAP_FAILED ? errno : 0;
	printf("MAP_PRIVATE: %s; ", errname(err));
	err = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fdu, half - page) == MAP_FAILED ?
	      errno : 0;
	printf("2 pages from the half's last page: %s\n\n", errname(err));

	uc = mmap(NULL, page, PROT_READ, MAP_SHARED, fdu, PGOFF * page);
	if (uc == MAP_FAILED)
		return fail("mmap " DEV_UC);
	printf("unbind the driver while %s is mapped:\n", DEV_UC);
	fflush(stdout);
	if (write_sysfs(DRIVER "/unbind", bdf))
		return fail("unbind");
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	err = sigsetjmp(jump, 1);
	if (!err)
		(void)__atomic_load_n(uc, __ATOMIC_SEQ_CST);
	printf("    reading the old mapping: %s\n",
	       err == SIGBUS ? "SIGBUS (revoked: no entry, and the fault handler refuses)" :
	       "readable!");
	err = mmap(NULL, page, PROT_READ, MAP_SHARED, fdu, 0) == MAP_FAILED ? errno : 0;
	printf("    a new mmap of the file still open: %s\n", errname(err));
	munmap(uc, page);
	close(fdu);
	fflush(stdout);
	if (write_sysfs(DRIVER "/bind", bdf))
		return fail("bind");
	fdu = open(DEV_UC, O_RDWR);
	uc = fdu < 0 ? MAP_FAILED :
	     mmap(NULL, page, PROT_READ, MAP_SHARED, fdu, PGOFF * page);
	if (uc == MAP_FAILED)
		return fail("mmap after bind");
	printf("bound again, read through a new mapping: \"%.100s\"\n", uc);
	munmap(uc, page);
	close(fdu);
	return 0;
}
