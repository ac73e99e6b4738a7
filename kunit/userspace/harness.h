/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the harness put in the guest, for the tests that run on a kernel without KUnit too
 * (make test KERNEL=debian): the modules of the run, and the user's locked_vm where the KUnit
 * module's test device, which reports it (RMP_KUNIT_IOC_STATS), is not loaded.
 */
#ifndef RMP_HARNESS_H
#define RMP_HARNESS_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The KUnit module, which holds the test device /dev/rmp_kunit. */
#define RMP_KUNIT_MODULE	"rust_mmap_prepare_kunit"

/* True if the harness loads module @name in this run (/etc/rmp/modules, one name a line). */
static inline int rmp_module_listed(const char *name)
{
	FILE *f = fopen("/etc/rmp/modules", "r");
	char line[64];
	int found = 0;

	while (f && !found && fgets(line, sizeof(line), f))
		found = !strcmp(strtok(line, "\n") ?: "", name);
	if (f)
		fclose(f);
	return found;
}

/*
 * The calling user's locked_vm in pages from /dev/rmp_locked_vm (kunit/rmp_locked_vm.c, the
 * count the test device reports, loaded where the test device is not), or -1.
 */
static inline long rmp_user_locked_vm(void)
{
	char text[32];
	int fd = open("/dev/rmp_locked_vm", O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, text, sizeof(text) - 1);

	if (fd >= 0)
		close(fd);
	if (n <= 0)
		return -1;
	text[n] = 0;
	return strtol(text, NULL, 10);
}

#endif /* RMP_HARNESS_H */
