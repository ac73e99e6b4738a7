// SPDX-License-Identifier: GPL-2.0
/*
 * rust_pci_bar in one picture: QEMU's ivshmem-plain BAR 2, written through
 * /dev/rust_pci_bar_wc (write-combined) and read back through
 * /dev/rust_pci_bar (uncached); the VMA flags and the memory type the kernel
 * gave each mapping; then the driver unbound under a live mapping.
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
#define MESSAGE		"hello from pid %d, written through " DEV_WC

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
	char line[512], name[64], type[64] = "none";
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
	printf("    %s memory type (pat_memtype_list, [mem %#llx-%#llx]): %s\n", dev, lo, hi,
	       type);
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
	unsigned long long lo, hi;
	char msg[128], *wc, *uc;
	int fdw, fdu, err;
	struct sigaction sa = { .sa_handler = on_sigbus };

	page = sysconf(_SC_PAGESIZE);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	if (find_device())
		return fail("no ivshmem-plain device (1af4:1110) with a BAR 2");
	lo = phys + PGOFF * page;
	hi = lo + page;
	printf("QEMU's ivshmem-plain %s: BAR 2 at %#llx is a file on the host, mapped by\n", bdf,
	       phys);
	printf("samples/rust_pci_bar.rs through two devices, each with its own memory type.\n\n");

	fdw = open(DEV_WC, O_RDWR);
	if (fdw < 0)
		return fail("open " DEV_WC);
	wc = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fdw, PGOFF * page);
	if (wc == MAP_FAILED)
		return fail("mmap " DEV_WC);
	snprintf(msg, sizeof(msg), MESSAGE, (int)getpid());
	memcpy(wc, msg, strlen(msg) + 1);
	__sync_synchronize();
	printf("write through %s at BAR offset %#lx: \"%s\"\n", DEV_WC, PGOFF * page, msg);
	show_mapping(DEV_WC, wc, lo, hi);
	munmap(wc, page);

	fdu = open(DEV_UC, O_RDWR);
	if (fdu < 0)
		return fail("open " DEV_UC);
	uc = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fdu, PGOFF * page);
	if (uc == MAP_FAILED)
		return fail("mmap " DEV_UC);
	printf("read through %s at the same offset: \"%.100s\"\n", DEV_UC, uc);
	show_mapping(DEV_UC, uc, lo, hi);
	printf("  (io pf de dd: the core's flags for a PFN remap of I/O memory; dc: the crate's\n");
	printf("   VM_DONTCOPY, so a fork child never holds entries a revocation has not seen.\n");
	printf("   x86 PAT gives a range one memory type: had the write-combined mapping still\n");
	printf("   existed, this one would have been write-combining too.)\n");

	err = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fdu, 0) == MAP_FAILED ? errno : 0;
	printf("MAP_PRIVATE: %s; ", errname(err));
	err = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fdu, size - page) == MAP_FAILED ?
	      errno : 0;
	printf("2 pages from the BAR's last page: %s\n\n", errname(err));

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
	       err == SIGBUS ? "SIGBUS (its entries were zapped)" : "readable!");
	err = mmap(NULL, page, PROT_READ, MAP_SHARED, fdu, 0) == MAP_FAILED ? errno : 0;
	printf("    a new mmap of the file still open: %s\n", errname(err));
	munmap(uc, page);
	close(fdu);
	close(fdw);
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
