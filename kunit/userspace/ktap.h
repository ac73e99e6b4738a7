/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal KTAP output for the userspace tests: each program prints one
 * top-level document holding one suite, which the harness merges with the
 * kernel's KUnit documents.
 */
#ifndef RMP_KTAP_H
#define RMP_KTAP_H

#include <stdarg.h>
#include <stdio.h>

static int ktap_planned, ktap_run, ktap_failed;
static const char *ktap_suite;

static inline void ktap_begin(const char *suite, int planned)
{
	ktap_suite = suite;
	ktap_planned = planned;
	printf("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: %s\n    1..%d\n",
	       suite, planned);
	fflush(stdout);
}

/* Records one test case; a failed one also prints why, as a diagnostic. */
static inline int ktap_check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	ktap_run++;
	if (!ok) {
		ktap_failed++;
		printf("    # %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
	}
	printf("    %sok %d %s\n", ok ? "" : "not ", ktap_run, name);
	fflush(stdout);
	return ok;
}

/* Records one test case that cannot run here, and why (KTAP's SKIP directive). */
static inline void ktap_skip(const char *name, const char *why)
{
	ktap_run++;
	printf("    ok %d %s # SKIP %s\n", ktap_run, name, why);
	fflush(stdout);
}

/* Closes the suite; a test case planned but never run counts as a failure. */
static inline int ktap_end(void)
{
	int ok = !ktap_failed && ktap_run == ktap_planned;

	if (ktap_run != ktap_planned)
		printf("    # %d test cases planned, %d run\n", ktap_planned, ktap_run);
	printf("%sok 1 %s\n", ok ? "" : "not ", ktap_suite);
	fflush(stdout);
	return ok ? 0 : 1;
}

#endif /* RMP_KTAP_H */
