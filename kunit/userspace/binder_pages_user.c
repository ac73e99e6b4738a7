// SPDX-License-Identifier: GPL-2.0
/*
 * rust_binder_pages (samples/rust_binder_pages.rs) used from userspace as its
 * users would: a receiver maps /dev/rust_binder_pages read-only, senders
 * holding the same file copy messages into it with RBP_IOC_SEND, and the
 * receiver reads them in place, with no further call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rust_binder_pages.h"
#include "ktap.h"
#include "probe.h"
#include "proc_maps.h"

/* make bench builds this test with -DDEV and -DREFCNT of the C twin, and runs it first. */
#ifndef DEV
#define DEV		"/dev/rust_binder_pages"
#define REFCNT		"/sys/module/rust_binder_pages/refcnt"
#endif
#define MIB		(1024L * 1024)
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
#define MAX_SIZE	(4 * MIB)
#define PLANNED		35

static long page;
static char why[512];

/* Fixed-seed xorshift64: every run sends the same bytes. */
static __u64 rng(__u64 *state)
{
	__u64 x = *state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*state = x;
	return x;
}

static void fill(unsigned char *buf, long len, __u64 seed)
{
	__u64 state = (seed + 1) * 0x9e3779b97f4a7c15ULL | 1;

	for (long i = 0; i < len; i++)
		buf[i] = rng(&state) >> 56;
}

static long min_l(long a, long b)
{
	return a < b ? a : b;
}

/* The ioctls; each returns 0 or the errno. */
static int rbp_send(int fd, __u64 offset, __u64 len, const void *data)
{
	struct rbp_send s = { .offset = offset, .len = len, .data = (unsigned long)data };

	return ioctl(fd, RBP_IOC_SEND, &s) ? errno : 0;
}

static int rbp_free(int fd, __u64 offset, __u64 len)
{
	struct rbp_free f = { .offset = offset, .len = len };

	return ioctl(fd, RBP_IOC_FREE, &f) ? errno : 0;
}

static int rbp_stats(int fd, struct rbp_stats *st)
{
	memset(st, 0xff, sizeof(*st));
	return ioctl(fd, RBP_IOC_STATS, st) ? errno : 0;
}

static int map_errno(int fd, long len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, fd, 0);

	if (p != MAP_FAILED) {
		munmap(p, len);
		return 0;
	}
	return errno;
}

/*
 * Checks byte for byte that [map + off, map + off + len) reads as want; if
 * not, describes the first bad byte in why. A page is inserted whole, so one
 * probe per page tells whether the page can be read.
 */
static int bytes_match(const unsigned char *map, long off, const unsigned char *want, long len)
{
	long i = 0, end;
	int sig;

	while (i < len) {
		end = min_l(len, ((off + i) / page + 1) * page - off);
		sig = rmp_read_signal(map + off + i);
		if (sig) {
			snprintf(why, sizeof(why), "reading offset %ld raised %s", off + i,
				 strsignal(sig));
			return 0;
		}
		while (i < end && map[off + i] == want[i])
			i++;
		if (i < end) {
			snprintf(why, sizeof(why), "offset %ld reads %#x, wanted %#x", off + i,
				 map[off + i], want[i]);
			return 0;
		}
	}
	return 1;
}

static void prefix_why(const char *fmt, long a, long b)
{
	char rest[sizeof(why)];

	snprintf(rest, sizeof(rest), "%s", why);
	snprintf(why, sizeof(why), fmt, a, b);
	strncat(why, rest, sizeof(why) - strlen(why) - 1);
}

/* Waits for children until the deadline; kills and reaps the ones left. Returns how many. */
static int wait_children(const pid_t *pid, int *status, int n, double seconds)
{
	double deadline = rmp_now() + seconds;
	int left = 0;

	for (int i = 0; i < n; i++) {
		while (waitpid(pid[i], &status[i], WNOHANG) == 0) {
			if (rmp_now() > deadline) {
				kill(pid[i], SIGKILL);
				waitpid(pid[i], &status[i], 0);
				left++;
				break;
			}
			usleep(1000);
		}
	}
	return left;
}

static int exited_ok(int status)
{
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A receiver's 1 MiB mapping, and what the test sent into it. */
struct receiver {
	int fd;
	unsigned char *map;
	long size;
	unsigned char *shadow;
	char *touched;
	__u64 sent;
};

/* Sends from this process and records the message in the shadow copy. */
static int send_tracked(struct receiver *r, long off, long len, const unsigned char *data)
{
	int err = rbp_send(r->fd, off, len, data);

	if (err)
		return err;
	r->sent += len;
	memcpy(r->shadow + off, data, len);
	for (long p = off / page; p < (off + len + page - 1) / page; p++)
		r->touched[p] = 1;
	return 0;
}

static void round_trip(struct receiver *r, long len, int index)
{
	long offs[] = { 0, 1, page - 1, 3 * page - 2, r->size / 2 + 3, r->size - len - 1,
			r->size - len };
	unsigned char *msg = malloc(len);
	int ok = 1, sent = 0, err;
	long first, end, off;
	char name[64];

	snprintf(name, sizeof(name), "round_trip_len_%ld", len);
	snprintf(why, sizeof(why), "no offset fits");
	for (unsigned int i = 0; ok && msg && i < ARRAY_SIZE(offs); i++) {
		off = offs[i];
		if (off < 0 || off + len > r->size)
			continue;
		fill(msg, len, index * 16 + i);
		err = send_tracked(r, off, len, msg);
		if (err) {
			snprintf(why, sizeof(why), "SEND of %ld bytes at %ld: %s", len, off,
				 strerror(err));
			ok = 0;
			break;
		}
		/* Read in place at once: the message, then the rest of its pages. */
		first = off / page * page;
		end = (off + len + page - 1) / page * page;
		if (!bytes_match(r->map, off, msg, len) ||
		    !bytes_match(r->map, first, r->shadow + first, end - first)) {
			prefix_why("after SEND of %ld bytes at %ld: ", len, off);
			ok = 0;
		}
		sent++;
	}
	ktap_check(ok && sent, name, "%s", msg ? why : "out of memory");
	free(msg);
}

static void test_round_trips(struct receiver *r)
{
	long lens[] = { 1, 7, page - 1, page, page + 1, 3 * page + 5, 16 * page + 3,
			64 * page + 1 };
	long pages = r->size / page, touched = 0, bad = -1;
	struct rbp_stats st = { 0 };
	int err, sig = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(lens); i++)
		round_trip(r, lens[i], i);

	/* Every page sent to reads as sent; no other page is inserted. */
	for (long p = 0; p < pages; p++) {
		if (r->touched[p]) {
			touched++;
			if (bad < 0 && !bytes_match(r->map, p * page, r->shadow + p * page, page))
				bad = p;
		} else if (bad < 0) {
			sig = rmp_read_signal(r->map + p * page);
			if (sig != SIGBUS) {
				snprintf(why, sizeof(why), "page never sent to read with %s",
					 sig ? strsignal(sig) : "no signal");
				bad = p;
			}
		}
	}
	if (bad >= 0)
		prefix_why("page %ld: ", bad, 0);
	err = rbp_stats(r->fd, &st);
	ktap_check(!err && bad < 0 && st.pages_allocated == (__u64)touched &&
		   st.pages_mapped == (__u64)touched && st.bytes_sent == r->sent,
		   "round_trip_stats_and_untouched_pages",
		   "STATS %s: allocated %llu mapped %llu bytes_sent %llu, wanted %ld, %ld, %llu; %s",
		   strerror(err), st.pages_allocated, st.pages_mapped, st.bytes_sent, touched,
		   touched, r->sent, bad >= 0 ? why : "pages ok");
}

static void test_errors_when_mapped(struct receiver *r)
{
	__u64 outside[][2] = {
		{ r->size, 1 }, { r->size - 1, 2 }, { 0, r->size + 1 }, { ~0ULL, 2 },
		{ r->size / 2, ~0ULL }, { r->size + page, 0 },
	};
	unsigned char msg[64], *guard, *big;
	long x = 5 * page - 3;
	int err, ok, sig, rc, n;
	struct rbp_stats st = { 0 };
	__u64 sent;

	/* A second mmap is refused, and leaves the first mapping working. */
	err = map_errno(r->fd, page, PROT_READ);
	fill(msg, sizeof(msg), 1000);
	ok = err == EBUSY && !send_tracked(r, 10, sizeof(msg), msg) &&
	     bytes_match(r->map, 10, msg, sizeof(msg));
	ktap_check(ok, "second_mmap_ebusy", "second mmap: errno %d (wanted EBUSY); %s", err, why);

	/* Read-only for good: neither mprotect nor a write gets through. */
	rc = mprotect(r->map, r->size, PROT_READ | PROT_WRITE);
	err = rc ? errno : 0;
	sig = rmp_write_signal(r->map + 10, r->shadow[10]);
	ktap_check(rc && sig == SIGSEGV, "mprotect_write_refused",
		   "mprotect(PROT_READ | PROT_WRITE) returned %d (%s); a write raised %s", rc,
		   strerror(err), sig ? strsignal(sig) : "no signal");

	/* One VMA per context: a part can be neither unmapped nor mprotected. */
	rc = munmap(r->map + r->size - page, page);
	err = rc ? errno : 0;
	ok = rc && err == EINVAL;
	rc = mprotect(r->map, page, PROT_NONE);
	sig = rc ? errno : 0;
	ok = ok && rc && sig == EINVAL;
	n = maps_lines((uintptr_t)r->map, (uintptr_t)r->map + r->size);
	ktap_check(ok && n == 1, "partial_unmap_and_mprotect_refused",
		   "munmap of the last page: %s; mprotect of the first page: %s; %d VMAs",
		   strerror(err), strerror(sig), n);

	big = malloc(2 * page);
	ok = !!big;
	sent = r->sent;
	snprintf(why, sizeof(why), "all EINVAL");
	for (unsigned int i = 0; ok && i < ARRAY_SIZE(outside); i++) {
		err = rbp_send(r->fd, outside[i][0], outside[i][1], big);
		if (err != EINVAL) {
			snprintf(why, sizeof(why), "SEND offset %#llx len %#llx: errno %d",
				 outside[i][0], outside[i][1], err);
			ok = 0;
		}
	}
	err = rbp_stats(r->fd, &st);
	ktap_check(ok && !err && st.bytes_sent == sent, "send_outside_mapping_einval",
		   "%s; bytes_sent %llu, wanted %llu", why, st.bytes_sent, sent);

	ok = 1;
	snprintf(why, sizeof(why), "all EINVAL");
	for (unsigned int i = 0; i < ARRAY_SIZE(outside); i++) {
		err = rbp_free(r->fd, outside[i][0], outside[i][1]);
		if (err != EINVAL) {
			snprintf(why, sizeof(why), "FREE offset %#llx len %#llx: errno %d",
				 outside[i][0], outside[i][1], err);
			ok = 0;
		}
	}
	/* Nothing was freed: the pages sent to still read. */
	ok = ok && bytes_match(r->map, 0, r->shadow, page) &&
	     bytes_match(r->map, r->size - page, r->shadow + r->size - page, page);
	ktap_check(ok, "free_outside_mapping_einval", "%s", why);

	/*
	 * A bad pointer, wholly or from its 101st byte on: EFAULT, and the buffer
	 * keeps what it had (the driver copies the whole message first).
	 */
	guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok = big && guard != MAP_FAILED && !mprotect(guard + page, page, PROT_NONE);
	if (ok) {
		fill(big, 2 * page, 2000);
		memset(guard, 0xa5, page);
		ok = !send_tracked(r, x, 2 * page, big);
	}
	sent = r->sent;
	err = ok ? rbp_send(r->fd, x, 10, (void *)8) : -1;
	n = ok ? rbp_send(r->fd, x, 2 * page, guard + page - 100) : -1;
	snprintf(why, sizeof(why), "unchanged");
	ok = ok && bytes_match(r->map, x, r->shadow + x, 2 * page);
	rc = rbp_stats(r->fd, &st);
	ktap_check(ok && err == EFAULT && n == EFAULT && !rc && st.bytes_sent == sent,
		   "send_bad_pointer_efault_keeps_buffer",
		   "data (void *)8: errno %d; data running into PROT_NONE: errno %d; buffer %s; bytes_sent %llu, wanted %llu",
		   err, n, why, st.bytes_sent, sent);
	if (guard != MAP_FAILED)
		munmap(guard, 2 * page);
	free(big);

	ok = ioctl(r->fd, RBP_IOC_SEND, (void *)8) < 0 && errno == EFAULT;
	ok = ok && ioctl(r->fd, RBP_IOC_FREE, (void *)8) < 0 && errno == EFAULT;
	ok = ok && ioctl(r->fd, RBP_IOC_STATS, (void *)8) < 0 && errno == EFAULT;
	ktap_check(ok, "bad_ioctl_argument_efault", "errno %d (%s)", errno, strerror(errno));

	n = 0;
	ok = ioctl(r->fd, _IO('r', 0x7f)) < 0 && errno == ENOTTY;
	ok = ok && ioctl(r->fd, _IOW('r', 0x01, int), &n) < 0 && errno == ENOTTY;
	ok = ok && ioctl(r->fd, _IOR('r', 0x03, int), &n) < 0 && errno == ENOTTY;
	ktap_check(ok, "unknown_ioctl_enotty", "errno %d (%s)", errno, strerror(errno));
}

static void test_mapped_receiver(void)
{
	struct receiver r = { .size = MIB };
	static const char * const names[] = {
		"map_read_only", "unsent_page_raises_sigbus", "round_trip_len_1",
		"round_trip_len_7", "round_trip_len_4095", "round_trip_len_4096",
		"round_trip_len_4097", "round_trip_len_12293", "round_trip_len_65539",
		"round_trip_len_262145", "round_trip_stats_and_untouched_pages",
		"second_mmap_ebusy", "mprotect_write_refused",
		"partial_unmap_and_mprotect_refused", "send_outside_mapping_einval",
		"free_outside_mapping_einval", "send_bad_pointer_efault_keeps_buffer",
		"bad_ioctl_argument_efault", "unknown_ioctl_enotty",
	};
	struct rbp_stats st = { 0 };
	int err, sig;

	r.fd = open(DEV, O_RDWR);
	r.shadow = calloc(1, r.size);
	r.touched = calloc(1, r.size / page);
	r.map = r.fd < 0 ? MAP_FAILED : mmap(NULL, r.size, PROT_READ, MAP_SHARED, r.fd, 0);
	err = r.map == MAP_FAILED ? errno : rbp_stats(r.fd, &st);
	if (r.map == MAP_FAILED || !r.shadow || !r.touched) {
		for (unsigned int i = 0; i < ARRAY_SIZE(names); i++)
			ktap_check(0, names[i], "no receiver: %s", strerror(err));
		goto out;
	}
	ktap_check(!err && !st.pages_allocated && !st.pages_mapped && !st.bytes_sent,
		   "map_read_only", "STATS %s: %llu %llu %llu, wanted zeros", strerror(err),
		   st.pages_allocated, st.pages_mapped, st.bytes_sent);
	sig = rmp_read_signal(r.map + r.size / 2);
	ktap_check(sig == SIGBUS, "unsent_page_raises_sigbus", "reading raised %s",
		   sig ? strsignal(sig) : "nothing");
	test_round_trips(&r);
	test_errors_when_mapped(&r);
	munmap(r.map, r.size);
out:
	if (r.fd >= 0)
		close(r.fd);
	free(r.shadow);
	free(r.touched);
}

static void test_errors_unmapped(void)
{
	unsigned char *map, byte = 0x42;
	int fd = open(DEV, O_RDWR), err, err2, ok;
	struct rbp_stats st = { 0 };

	/* A context that has no mapping has no receiver. */
	err = rbp_send(fd, 0, 1, &byte);
	err2 = rbp_free(fd, 0, page);
	ok = err == ESRCH && err2 == ESRCH && !rbp_stats(fd, &st) && !st.bytes_sent;
	ktap_check(ok, "send_without_mapping_esrch", "SEND errno %d, FREE errno %d", err, err2);

	err = map_errno(fd, page, PROT_READ | PROT_WRITE);
	err2 = map_errno(fd, page, PROT_WRITE);
	ktap_check(err == EPERM && err2 == EPERM, "write_mapping_eperm",
		   "PROT_READ | PROT_WRITE: errno %d, PROT_WRITE: errno %d", err, err2);

	err = map_errno(fd, MAX_SIZE + page, PROT_READ);
	err2 = map_errno(fd, 2 * MAX_SIZE, PROT_READ);
	ktap_check(err == EINVAL && err2 == EINVAL, "oversized_mapping_einval",
		   "4 MiB + 1 page: errno %d, 8 MiB: errno %d", err, err2);

	/* Exactly 4 MiB maps; after munmap the context maps again. */
	map = mmap(NULL, MAX_SIZE, PROT_READ, MAP_SHARED, fd, 0);
	err = map == MAP_FAILED ? errno : rbp_send(fd, MAX_SIZE - 1, 1, &byte);
	ok = map != MAP_FAILED && !err && bytes_match(map, MAX_SIZE - 1, &byte, 1);
	if (map != MAP_FAILED)
		ok = !munmap(map, MAX_SIZE) && ok;
	map = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
	err2 = map == MAP_FAILED ? errno : rbp_send(fd, 3 * page, 1, &byte);
	ok = ok && map != MAP_FAILED && !err2 && bytes_match(map, 3 * page, &byte, 1);
	ktap_check(ok, "max_size_mapping_and_remap", "4 MiB: %s; remap: %s; %s", strerror(err),
		   strerror(err2), why);
	if (map != MAP_FAILED)
		munmap(map, 4 * page);
	if (fd >= 0)
		close(fd);
}

struct child_report {
	int maps_lines;
	int read_signal;
	int send_err;
};

static void child_message(char *buf, size_t size, pid_t pid)
{
	snprintf(buf, size, "hello from pid %d, across a page boundary", (int)pid);
}

/* The child sends; it inherited the file but not the mapping (VM_DONTCOPY). */
static void test_fork_sender(void)
{
	long size = 16 * page, off = 2 * page - 7;
	struct child_report rep = { -1, -1, -1 };
	int fd = open(DEV, O_RDWR), p[2], status = -1;
	unsigned char *map;
	struct rbp_stats st = { 0 };
	char msg[128];
	pid_t pid;

	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || pipe(p)) {
		ktap_check(0, "child_does_not_inherit_mapping", "mmap: %s", strerror(errno));
		ktap_check(0, "child_sender_message_read_in_place", "no mapping");
		goto out;
	}
	pid = fork();
	if (pid == 0) {
		rep.maps_lines = maps_lines((uintptr_t)map, (uintptr_t)map + size);
		rep.read_signal = rmp_read_signal(map + off);
		child_message(msg, sizeof(msg), getpid());
		rep.send_err = rbp_send(fd, off, strlen(msg) + 1, msg);
		_exit(write(p[1], &rep, sizeof(rep)) == sizeof(rep) ? 0 : 1);
	}
	close(p[1]);
	if (pid > 0)
		wait_children(&pid, &status, 1, 30);
	if (read(p[0], &rep, sizeof(rep)) != sizeof(rep))
		rep.maps_lines = -1;
	close(p[0]);
	ktap_check(exited_ok(status) && rep.maps_lines == 0 && rep.read_signal == SIGSEGV,
		   "child_does_not_inherit_mapping",
		   "child status %#x; %d lines of its /proc/self/maps overlap the mapping; reading raised %s",
		   status, rep.maps_lines,
		   rep.read_signal > 0 ? strsignal(rep.read_signal) : "no signal");

	child_message(msg, sizeof(msg), pid);
	snprintf(why, sizeof(why), "not read");
	ktap_check(!rep.send_err && bytes_match(map, off, (unsigned char *)msg, strlen(msg) + 1) &&
		   !rbp_stats(fd, &st) && st.pages_mapped == 2 && st.bytes_sent == strlen(msg) + 1,
		   "child_sender_message_read_in_place",
		   "child's SEND: %s; message: %s; pages_mapped %llu, bytes_sent %llu",
		   strerror(rep.send_err), why, st.pages_mapped, st.bytes_sent);
	munmap(map, size);
out:
	if (fd >= 0)
		close(fd);
}

/* The receiver maps in a child that exits: its address space goes, and with it the receiver. */
static void test_receiver_exit(void)
{
	int fd = open(DEV, O_RDWR), status = -1, err;
	unsigned char byte = 7;
	struct rbp_stats st = { 0 };
	pid_t pid;

	pid = fork();
	if (pid == 0) {
		unsigned char *map = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);

		_exit(map == MAP_FAILED || rbp_send(fd, page, 1, &byte) || map[page] != byte);
	}
	if (pid > 0)
		wait_children(&pid, &status, 1, 30);
	err = rbp_send(fd, page, 1, &byte);
	ktap_check(exited_ok(status) && err == ESRCH && !rbp_stats(fd, &st) &&
		   !st.pages_allocated && !st.pages_mapped, "send_after_receiver_exit_esrch",
		   "receiver status %#x; SEND errno %d; pages allocated %llu mapped %llu", status,
		   err, st.pages_allocated, st.pages_mapped);
	if (fd >= 0)
		close(fd);
}

/* mremap moves the mapping: its pages move along, and sends follow it. */
static void test_mremap(void)
{
	unsigned char *a, *b, *moved = MAP_FAILED, msg[100];
	int fd = open(DEV, O_RDWR), ok, n = -1, sig = 0;

	fill(msg, sizeof(msg), 3000);
	snprintf(why, sizeof(why), "no mapping");
	a = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
	b = mmap(NULL, 4 * page, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ok = a != MAP_FAILED && b != MAP_FAILED && !rbp_send(fd, 10, sizeof(msg), msg);
	if (ok)
		moved = mremap(a, 4 * page, 4 * page, MREMAP_MAYMOVE | MREMAP_FIXED, b);
	if (moved == b) {
		n = maps_lines((uintptr_t)a, (uintptr_t)a + 4 * page);
		ok = bytes_match(b, 10, msg, sizeof(msg)) && !rbp_send(fd, page + 20, 30, msg) &&
		     bytes_match(b, page + 20, msg, 30) && !rbp_free(fd, 0, page);
		sig = rmp_read_signal(b);
		munmap(b, 4 * page);
	} else {
		ok = 0;
		if (a != MAP_FAILED)
			munmap(a, 4 * page);
		if (b != MAP_FAILED)
			munmap(b, 4 * page);
	}
	ktap_check(ok && n == 0 && sig == SIGBUS, "mremap_follows_mapping",
		   "mremap returned %p (wanted %p); old range in %d maps lines; %s; freed page read with %s",
		   moved, b, n, why, sig ? strsignal(sig) : "no signal");
	if (fd >= 0)
		close(fd);
}

/* A SEND never reaches memory that took the receiver's place at its address. */
static void test_foreign_vma(void)
{
	int e = open(DEV, O_RDWR), f = open(DEV, O_RDWR), err, err2, err3, ok, sig = 0;
	unsigned char *a, *anon = MAP_FAILED, *other = MAP_FAILED, msg[64];
	struct rbp_stats st = { 0 };
	long len = 4 * page, bad = -1;

	fill(msg, sizeof(msg), 4000);
	a = mmap(NULL, len, PROT_READ, MAP_SHARED, e, 0);
	ok = a != MAP_FAILED && !rbp_send(e, 0, sizeof(msg), msg) &&
	     bytes_match(a, 0, msg, sizeof(msg)) && !munmap(a, len);
	if (ok)
		anon = mmap(a, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			    -1, 0);
	if (anon == a)
		memset(anon, 0x5a, len);
	err = rbp_send(e, 0, sizeof(msg), msg);
	err2 = rbp_send(e, page, len - page, a == MAP_FAILED ? msg : anon);
	err3 = rbp_free(e, 0, len);
	for (long i = 0; anon == a && i < len && bad < 0; i++)
		if (anon[i] != 0x5a)
			bad = i;
	ktap_check(ok && anon == a && err == ESRCH && err2 == ESRCH && err3 == ESRCH && bad < 0,
		   "foreign_vma_send_esrch_keeps_memory",
		   "setup %s, anon at %p (wanted %p); SEND errno %d, %d; FREE errno %d; first changed byte %ld",
		   ok ? "ok" : why, anon, a, err, err2, err3, bad);
	if (anon != MAP_FAILED)
		munmap(anon, len);

	/* Another context's mapping at the same address stays untouched too. */
	if (anon == a)
		other = mmap(a, len, PROT_READ, MAP_SHARED | MAP_FIXED, f, 0);
	err = rbp_send(e, 0, sizeof(msg), msg);
	bad = -1;
	for (long i = 0; other == a && i < 4 && bad < 0; i++) {
		sig = rmp_read_signal(other + i * page);
		if (sig != SIGBUS)
			bad = i;
	}
	ok = other == a && bad < 0 && err == ESRCH && !rbp_stats(f, &st) && !st.pages_mapped &&
	     !st.bytes_sent && !rbp_send(f, 0, sizeof(msg), msg) &&
	     bytes_match(other, 0, msg, sizeof(msg));
	ktap_check(ok, "other_context_vma_untouched",
		   "other mapping at %p (wanted %p); SEND errno %d; page %ld read with %s; other's pages_mapped %llu",
		   other, a, err, bad, sig ? strsignal(sig) : "no signal", st.pages_mapped);
	if (other != MAP_FAILED)
		munmap(other, len);
	if (e >= 0)
		close(e);
	if (f >= 0)
		close(f);
}

static void test_free(void)
{
	long size = 16 * page, off = 2 * page - 10, len = 3 * page + 10, off2 = 2 * page + 5;
	struct rbp_stats st0 = { 0 }, st1 = { 0 }, st2 = { 0 };
	int fd = open(DEV, O_RDWR), ok, err;
	unsigned char *map, *data, *data2;
	int sig2, sig3;

	data = calloc(1, len + page);
	data2 = calloc(1, 2 * page);
	map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || !data || !data2) {
		ktap_check(0, "free_without_whole_page_frees_nothing", "mmap: %s", strerror(errno));
		ktap_check(0, "freed_pages_raise_sigbus", "no mapping");
		ktap_check(0, "free_lowers_stats", "no mapping");
		ktap_check(0, "send_after_free_maps_again", "no mapping");
		goto out;
	}
	/* Pages 1 (its end) and 2..4 (wholly) get data. */
	fill(data, len, 5000);
	ok = !rbp_send(fd, off, len, data) && !rbp_stats(fd, &st0) &&
	     st0.pages_allocated == 4 && st0.pages_mapped == 4;
	err = rbp_free(fd, 2 * page + 1, page);
	ok = ok && !err && !rbp_free(fd, 3 * page, 0) && !rbp_stats(fd, &st1) &&
	     st1.pages_allocated == 4 && st1.pages_mapped == 4 && bytes_match(map, off, data, len);
	ktap_check(ok, "free_without_whole_page_frees_nothing",
		   "FREE errno %d; pages allocated %llu, mapped %llu, wanted 4; %s", err,
		   st0.pages_allocated, st0.pages_mapped, why);

	/* Frees pages 2 and 3 only: the only ones wholly inside the range. */
	err = rbp_free(fd, 2 * page - 100, 2 * page + 200);
	sig2 = rmp_read_signal(map + 2 * page);
	sig3 = rmp_read_signal(map + 4 * page - 1);
	snprintf(why, sizeof(why), "pages 1 and 4 intact");
	ok = !err && sig2 == SIGBUS && sig3 == SIGBUS && bytes_match(map, off, data, 10) &&
	     bytes_match(map, 4 * page, data + 2 * page + 10, page);
	ktap_check(ok, "freed_pages_raise_sigbus",
		   "FREE errno %d; reading page 2 raised %s, page 3 %s; %s", err,
		   sig2 ? strsignal(sig2) : "nothing", sig3 ? strsignal(sig3) : "nothing", why);

	err = rbp_stats(fd, &st1);
	ktap_check(!err && st1.pages_allocated == st0.pages_allocated - 2 &&
		   st1.pages_mapped == st0.pages_mapped - 2 && st1.bytes_sent == st0.bytes_sent,
		   "free_lowers_stats",
		   "allocated %llu -> %llu, mapped %llu -> %llu, bytes_sent %llu -> %llu",
		   st0.pages_allocated, st1.pages_allocated, st0.pages_mapped, st1.pages_mapped,
		   st0.bytes_sent, st1.bytes_sent);

	/* Sending there again maps fresh pages: the new data, zeros elsewhere, none of the old. */
	fill(data2 + 5, page, 6000);
	err = rbp_send(fd, off2, page, data2 + 5);
	ok = !err && bytes_match(map, 2 * page, data2, 2 * page) && !rbp_stats(fd, &st2) &&
	     st2.pages_allocated == st0.pages_allocated && st2.pages_mapped == st0.pages_mapped;
	ktap_check(ok, "send_after_free_maps_again",
		   "SEND errno %d; %s; allocated %llu, mapped %llu, wanted %llu", err, why,
		   st2.pages_allocated, st2.pages_mapped, st0.pages_allocated);
	munmap(map, size);
out:
	free(data);
	free(data2);
	if (fd >= 0)
		close(fd);
}

/*
 * MADV_DONTNEED is allowed on the mapping (VM_MIXEDMAP) and zaps its pages
 * behind the driver's back. A SEND that succeeds afterwards must still leave
 * its message readable in place, and STATS must count only mapped pages.
 */
static void test_madv_dontneed(void)
{
	int fd = open(DEV, O_RDWR), rc, err = -1, sig = 0, ok = 0;
	unsigned char *map, first[64], second[64];
	struct rbp_stats st = { 0 };

	fill(first, sizeof(first), 9000);
	fill(second, sizeof(second), 9001);
	snprintf(why, sizeof(why), "no mapping: %s", strerror(errno));
	map = mmap(NULL, 4 * page, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		ktap_check(0, "send_after_madv_dontneed_reads_back", "%s", why);
		goto out;
	}
	rc = rbp_send(fd, 100, sizeof(first), first) ? -1 : madvise(map, page, MADV_DONTNEED);
	if (!rc) {
		err = rbp_send(fd, 100, sizeof(second), second);
		sig = rmp_read_signal(map + 100);
		ok = !err && bytes_match(map, 100, second, sizeof(second));
	}
	ok = !rbp_stats(fd, &st) && st.pages_mapped == 1 && st.pages_allocated == 1 && ok;
	ktap_check(ok, "send_after_madv_dontneed_reads_back",
		   "madvise(MADV_DONTNEED) %d; the SEND after it: errno %d, then reading raised %s; %s; pages allocated %llu, mapped %llu",
		   rc, err, sig ? strsignal(sig) : "nothing", why, st.pages_allocated,
		   st.pages_mapped);
	munmap(map, 4 * page);
out:
	if (fd >= 0)
		close(fd);
}

/* With every file closed and every mapping gone, nothing holds the module. */
static void test_refcnt(void)
{
	FILE *f = fopen(REFCNT, "r");
	int n = -1;

	if (f) {
		if (fscanf(f, "%d", &n) != 1)
			n = -1;
		fclose(f);
	}
	ktap_check(n == 0, "module_refcnt_zero", "%s reads %d", REFCNT, n);
}

int main(void)
{
	int fd;

	page = sysconf(_SC_PAGESIZE);
	rmp_probe_catch_faults();
	ktap_begin("rust_binder_pages_user", PLANNED);

	fd = open(DEV, O_RDWR);
	if (fd < 0) {
		printf("    # open(%s): %s\n", DEV, strerror(errno));
		ktap_end();
		return 1;
	}
	close(fd);

	test_mapped_receiver();
	test_errors_unmapped();
	test_fork_sender();
	test_receiver_exit();
	test_mremap();
	test_foreign_vma();
	test_free();
	test_madv_dontneed();
	/* The stress test is kunit/userspace/stress_binder.c. */
	test_refcnt();
	ktap_end();
	return 0;
}
