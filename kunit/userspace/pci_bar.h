/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The guest's view of QEMU's ivshmem-plain device, for the tests of
 * samples/rust_pci_bar.rs: where it is in sysfs, the host's pattern in its
 * BAR 2, and what /sys/kernel/debug/x86/pat_memtype_list says about a range.
 */
#ifndef RMP_PCI_BAR_H
#define RMP_PCI_BAR_H

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#define PCI_BAR_VENDOR	0x1af4
#define PCI_BAR_DEVICE	0x1110
#define PCI_BAR_INDEX	2
#define PCI_BAR_DRIVER	"rust_pci_bar"
#define PCI_BAR_DEV_UC	"/dev/rust_pci_bar"
#define PCI_BAR_DEV_WC	"/dev/rust_pci_bar_wc"
#define PAT_LIST	"/sys/kernel/debug/x86/pat_memtype_list"

/*
 * Whether the kernel keeps one memory type per physical range (x86's page
 * attribute table) and lists its reservations in PAT_LIST. arm64 has no such
 * table: a mapping's type is its VMA's protection as the driver set it, and
 * nothing compares two mappings of one range.
 */
#if defined(__x86_64__)
#define HAVE_PAT	1
#else
#define HAVE_PAT	0
#endif

/* The memory type names of pat_memtype_list (cattr_name(), arch/x86/mm/pat/memtype.c). */
#define PAT_UC_MINUS	"uncached-minus"
#define PAT_WC		"write-combining"

/*
 * The byte the host writes at @offset of the backing file before boot
 * (host_byte() in kunit/pci_bar_backing.py: keep them in step).
 */
static inline unsigned char pci_bar_host_byte(unsigned long offset)
{
	return (unsigned char)((offset >> 12) * 61 + (offset & 0xfff) * 7 + 3);
}

/* A PCI device's sysfs name ("0000:00:02.0") and its BAR. */
struct pci_bar {
	char bdf[64];
	unsigned long long phys, size;
};

static inline unsigned long read_hex_file(const char *path)
{
	unsigned long v = 0;
	FILE *f = fopen(path, "r");

	if (f) {
		if (fscanf(f, "%lx", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Finds the ivshmem device and reads its BAR from sysfs; 0 or -errno. */
static inline int pci_bar_find(struct pci_bar *bar)
{
	char path[512], line[256];
	struct dirent *d;
	int found = -ENODEV;
	FILE *f;
	DIR *dir;

	dir = opendir("/sys/bus/pci/devices");
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", d->d_name);
		if (read_hex_file(path) != PCI_BAR_VENDOR)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", d->d_name);
		if (read_hex_file(path) != PCI_BAR_DEVICE)
			continue;
		if (strlen(d->d_name) >= sizeof(bar->bdf))
			continue;
		memcpy(bar->bdf, d->d_name, strlen(d->d_name) + 1);
		found = 0;
		break;
	}
	closedir(dir);
	if (found)
		return found;
	/* Line i of "resource" is BAR i: start, end (inclusive), flags. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", bar->bdf);
	f = fopen(path, "r");
	if (!f)
		return -errno;
	for (int i = 0; i <= PCI_BAR_INDEX; i++) {
		unsigned long long start, end, flags;

		if (!fgets(line, sizeof(line), f) ||
		    sscanf(line, "%llx %llx %llx", &start, &end, &flags) != 3) {
			fclose(f);
			return -EIO;
		}
		bar->phys = start;
		bar->size = end ? end - start + 1 : 0;
	}
	fclose(f);
	return 0;
}

/* Whether the device is bound to the sample's driver. */
static inline int pci_bar_bound(const struct pci_bar *bar)
{
	char path[512], target[512];
	ssize_t n;

	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/driver", bar->bdf);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return 0;
	target[n] = 0;
	return !!strstr(target, "/" PCI_BAR_DRIVER);
}

/* Writes @value to the sysfs file @path; 0 or -errno. */
static inline int sysfs_write(const char *path, const char *value)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(value, f) < 0)
		err = -errno;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/* Mounts debugfs for pat_memtype_list, unless it is mounted. */
static inline void mount_debugfs(void)
{
	struct stat st;

	if (stat(PAT_LIST, &st) == 0 || stat("/sys/kernel/debug/kmemleak", &st) == 0)
		return;
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
}

/*
 * Counts the lines of pat_memtype_list for exactly [@start, @end) (the kernel
 * prints the end exclusive) and copies the memory type of the last one into
 * @type; -1 if the list cannot be read. A remap of a whole VMA onto a PCI BAR
 * reserves its range with the memory type the mapping gets (pfnmap_track(),
 * reserve_pfn_range()) until the VMA is freed.
 */
static inline int pat_lines(unsigned long long start, unsigned long long end, char *type,
			    size_t len)
{
	unsigned long long lo, hi;
	char line[256], name[64];
	int n = 0;
	FILE *f = fopen(PAT_LIST, "r");

	snprintf(type, len, "-");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "PAT: [mem 0x%llx-0x%llx] %63s", &lo, &hi, name) != 3)
			continue;
		if (lo != start || hi != end)
			continue;
		n++;
		snprintf(type, len, "%s", name);
	}
	fclose(f);
	return n;
}

/* Counts the lines of pat_memtype_list that overlap [@start, @end); -1 on error. */
static inline int pat_overlapping(unsigned long long start, unsigned long long end)
{
	unsigned long long lo, hi;
	char line[256];
	int n = 0;
	FILE *f = fopen(PAT_LIST, "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "PAT: [mem 0x%llx-0x%llx]", &lo, &hi) == 2 && lo < end &&
		    hi > start)
			n++;
	fclose(f);
	return n;
}

/*
 * Copies the VmFlags line of /proc/self/smaps for the VMA at @addr into @out
 * (without "VmFlags:"); 0 or -1.
 */
static inline int smaps_vmflags(uintptr_t addr, char *out, size_t len)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long lo, hi;
	char line[512];
	int inside = 0, ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		/* A VMA's first line starts "start-end "; its fields have no '-' before a ' '. */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			inside = lo <= addr && addr < hi;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, len, "%s", line + 8);
			out[strcspn(out, "\n")] = 0;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

/* Whether the space-separated @flags holds the two-letter @flag. */
static inline int has_vmflag(const char *flags, const char *flag)
{
	char padded[520], want[8];

	snprintf(padded, sizeof(padded), " %s ", flags);
	snprintf(want, sizeof(want), " %s ", flag);
	return !!strstr(padded, want);
}

#endif /* RMP_PCI_BAR_H */
