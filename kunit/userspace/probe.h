/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the userspace tests share besides KTAP: a monotonic clock, and
 * probes that read or write a byte and say which signal it raised (SIGBUS for
 * an entry that was zapped or never inserted in a VMA without a fault
 * handler, SIGSEGV where nothing is mapped).
 */
#ifndef RMP_PROBE_H
#define RMP_PROBE_H

#include <setjmp.h>
#include <signal.h>
#include <time.h>

/* Seconds on CLOCK_MONOTONIC. */
static inline double rmp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static sigjmp_buf rmp_probe_jmp;
static int rmp_probe_armed, rmp_probe_sig;

static void rmp_probe_on_fault(int sig)
{
	if (!__atomic_load_n(&rmp_probe_armed, __ATOMIC_SEQ_CST)) {
		/* Not a probe: die of the signal when the access is retried. */
		signal(sig, SIG_DFL);
		return;
	}
	__atomic_store_n(&rmp_probe_armed, 0, __ATOMIC_SEQ_CST);
	rmp_probe_sig = sig;
	siglongjmp(rmp_probe_jmp, 1);
}

/* Lets rmp_read_signal() catch SIGBUS and SIGSEGV; once, before any probe. */
static inline void rmp_probe_catch_faults(void)
{
	struct sigaction sa = { .sa_handler = rmp_probe_on_fault };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

/* The signal that reading the byte at @p raises, or 0 if it reads. */
static inline int rmp_read_signal(const unsigned char *p)
{
	if (sigsetjmp(rmp_probe_jmp, 1))
		return rmp_probe_sig;
	__atomic_store_n(&rmp_probe_armed, 1, __ATOMIC_SEQ_CST);
	(void)__atomic_load_n(p, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rmp_probe_armed, 0, __ATOMIC_SEQ_CST);
	return 0;
}

/*
 * The signal that one 8-byte load at @p raises, or 0 if it reads (into
 * @value): @p need not be aligned, and the load is one instruction, not split
 * into bytes, so that an alignment fault can happen.
 */
static inline int rmp_read64_signal(const void *p, unsigned long long *value)
{
	if (sigsetjmp(rmp_probe_jmp, 1))
		return rmp_probe_sig;
	__atomic_store_n(&rmp_probe_armed, 1, __ATOMIC_SEQ_CST);
	/* Relaxed: a plain load instruction (an acquiring one must be aligned anywhere). */
	*value = __atomic_load_n((const unsigned long long *)p, __ATOMIC_RELAXED);
	__atomic_store_n(&rmp_probe_armed, 0, __ATOMIC_SEQ_CST);
	return 0;
}

/* The signal that writing @value to the byte at @p raises, or 0 if it writes. */
static inline int rmp_write_signal(unsigned char *p, unsigned char value)
{
	if (sigsetjmp(rmp_probe_jmp, 1))
		return rmp_probe_sig;
	__atomic_store_n(&rmp_probe_armed, 1, __ATOMIC_SEQ_CST);
	__atomic_store_n(p, value, __ATOMIC_SEQ_CST);
	__atomic_store_n(&rmp_probe_armed, 0, __ATOMIC_SEQ_CST);
	return 0;
}

#endif /* RMP_PROBE_H */
