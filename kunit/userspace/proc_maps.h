/* SPDX-License-Identifier: GPL-2.0 */
/* What /proc/self/maps says about a range, for the userspace tests. */
#ifndef RMP_PROC_MAPS_H
#define RMP_PROC_MAPS_H

#include <stdint.h>
#include <stdio.h>

/* The number of lines of /proc/self/maps (VMAs) that overlap [start, end); -1 on error. */
static inline int maps_lines(uintptr_t start, uintptr_t end)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo < end && hi > start)
			n++;
	fclose(f);
	return n;
}

/* The offset column (in bytes) of the line of /proc/self/maps at @addr; -1 if none. */
static inline long long maps_offset(uintptr_t addr)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi;
	unsigned long long off;
	long long found = -1;
	char line[512], perms[8];

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %7s %llx", &lo, &hi, perms, &off) == 4 && lo <= addr &&
		    addr < hi)
			found = (long long)off;
	fclose(f);
	return found;
}

#endif /* RMP_PROC_MAPS_H */
