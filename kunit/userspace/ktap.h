/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal KTAP output for the userspace tests, this project's and a driver's
 * (Documentation/test-rig.rst, "Userspace tests"): each program prints one
 * top-level document holding one suite, which the harness merges with the
 * kernel's KUnit documents.
 *
 *	ktap_begin("my_suite", KTAP_PLAN_LATER);	// or the number of cases
 *	ktap_check(fd >= 0, "open", "open: %s", strerror(errno));
 *	ktap_diag("read %zd bytes", n);
 *	return ktap_end();				// the exit status
 *
 * KTAP gives '#' and newlines a meaning: in a suite or case name, each '#'
 * and control character is printed as '_'; a newline in a diagnostic starts
 * another diagnostic line.
 */
#ifndef RMP_KTAP_H
#define RMP_KTAP_H

#include <stdarg.h>
#include <stdio.h>

/* ktap_begin() without a plan: ktap_end() reports how many cases ran. */
#define KTAP_PLAN_LATER	(-1)

static int ktap_planned, ktap_run, ktap_failed;
static const char *ktap_suite;

/* Prints NAME as a KTAP description, which may hold neither '#' nor a line break. */
static inline void ktap_put_name(const char *name)
{
	for (; *name; name++)
		putchar(*name == '#' || (unsigned char)*name < ' ' || *name == 0x7f ?
			'_' : *name);
}

/* Prints a diagnostic's text and ends its line; a newline in it starts another line. */
static inline void ktap_vdiag(const char *fmt, va_list ap)
{
	char buf[1024], *p;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	for (p = buf; *p; p++) {
		if (*p == '\n')
			fputs(p[1] ? "\n    # " : "", stdout);
		else
			putchar(*p);
	}
	putchar('\n');
}

/* Opens the suite; PLANNED is its number of cases, or KTAP_PLAN_LATER. */
static inline void ktap_begin(const char *suite, int planned)
{
	ktap_suite = suite;
	ktap_planned = planned;
	printf("KTAP version 1\n1..1\n    KTAP version 1\n    # Subtest: ");
	ktap_put_name(suite);
	putchar('\n');
	/* KTAP allows a suite without a plan; kunit.py then reads up to its result line. */
	if (planned != KTAP_PLAN_LATER)
		printf("    1..%d\n", planned);
	fflush(stdout);
}

/* A diagnostic line in the suite, e.g. a figure a test measured. */
static inline void ktap_diag(const char *fmt, ...)
{
	va_list ap;

	printf("    # ");
	va_start(ap, fmt);
	ktap_vdiag(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

/* Records one test case; a failed one also prints why, as a diagnostic. Returns OK. */
static inline int ktap_check(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	ktap_run++;
	if (!ok) {
		ktap_failed++;
		printf("    # ");
		ktap_put_name(name);
		printf(": ");
		va_start(ap, fmt);
		ktap_vdiag(fmt, ap);
		va_end(ap);
	}
	printf("    %sok %d ", ok ? "" : "not ", ktap_run);
	ktap_put_name(name);
	putchar('\n');
	fflush(stdout);
	return ok;
}

/*
 * Records one test case as skipped, with the reason (e.g. a case about x86's
 * page attribute table on arm64): it counts as run, neither passed nor failed.
 */
static inline void ktap_skip(const char *name, const char *reason)
{
	ktap_run++;
	printf("    ok %d ", ktap_run);
	ktap_put_name(name);
	printf(" # SKIP %s\n", reason);
	fflush(stdout);
}

/*
 * Closes the suite and returns the exit status: 0 if every case passed.
 * With a plan, a case planned but never run counts as a failure; without
 * one, a suite that ran no case fails.
 */
static inline int ktap_end(void)
{
	int ok;

	if (ktap_planned == KTAP_PLAN_LATER)
		ok = !ktap_failed && ktap_run;
	else
		ok = !ktap_failed && ktap_run == ktap_planned;
	if (ktap_planned != KTAP_PLAN_LATER && ktap_run != ktap_planned)
		printf("    # %d test cases planned, %d run\n", ktap_planned, ktap_run);
	if (ktap_planned == KTAP_PLAN_LATER && !ktap_run)
		printf("    # no test case run\n");
	printf("# ");
	ktap_put_name(ktap_suite);
	printf(": pass:%d fail:%d total:%d\n", ktap_run - ktap_failed, ktap_failed, ktap_run);
	printf("%sok 1 ", ok ? "" : "not ");
	ktap_put_name(ktap_suite);
	putchar('\n');
	fflush(stdout);
	return ok ? 0 : 1;
}

#endif /* RMP_KTAP_H */
