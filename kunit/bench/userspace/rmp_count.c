// SPDX-License-Identifier: GPL-2.0
/*
 * make bench, the instruction counts (guest side). The host's
 * kunit/bench/count.py single-steps this guest through QEMU's gdbstub; this
 * program makes the kernel call each hook a known number of times, and tells
 * the host when, over the second serial port (/dev/ttyS1, arm64: /dev/ttyAMA1):
 *
 *   guest: sym ADDR TYPE NAME [MODULE]  ...  syms-end
 *          the kallsyms lines the host may break on
 *   guest: ready CASE K             host: breakpoint set on CASE's function; "go"
 *          (the guest makes the kernel call that function K times)
 *   guest: done CASE                host: breakpoint removed; "ok"
 *   guest: end
 *
 * Run it with one CPU online: nothing else then runs while a CPU is stepped.
 * Usage: rmp_count [-k K]
 */
#define _GNU_SOURCE
#include <poll.h>
#include <termios.h>

#include "bench.h"

/* The second serial port: the PC's second 8250, the arm64 virt board's second PL011. */
#if defined(__aarch64__)
#define CTL		"/dev/ttyAMA1"
#else
#define CTL		"/dev/ttyS1"
#endif
#define HOST_WAIT_MS	120000

static int ctl = -1;
static int calls = 7;

static void say(const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (len < 0 || len >= (int)sizeof(line) - 1)
		die("control line too long");
	line[len++] = '\n';
	if (write(ctl, line, len) != len)
		die("writing to " CTL);
}

/* Waits for the host's line WANT. */
static void expect(const char *want)
{
	struct pollfd pfd = { .fd = ctl, .events = POLLIN };
	char line[64];
	size_t len = 0;
	char c;

	for (;;) {
		if (poll(&pfd, 1, HOST_WAIT_MS) != 1)
			die("no '%s' from the host within %d s", want, HOST_WAIT_MS / 1000);
		if (read(ctl, &c, 1) != 1)
			die("reading " CTL);
		if (c == '\r')
			continue;
		if (c != '\n') {
			if (len < sizeof(line) - 1)
				line[len++] = c;
			continue;
		}
		line[len] = 0;
		if (!strcmp(line, want))
			return;
		die("the host said '%s', not '%s'", line, want);
	}
}

static void open_ctl(void)
{
	struct termios t;

	ctl = open(CTL, O_RDWR | O_NOCTTY);
	if (ctl < 0 || tcgetattr(ctl, &t))
		die("opening " CTL);
	cfmakeraw(&t);
	if (tcsetattr(ctl, TCSANOW, &t))
		die("tcsetattr " CTL);
}

/* Whether the kernel command line holds WORD. */
static int cmdline_has(const char *word)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "r");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	return !!strstr(line, word);
}

/*
 * The functions of the modules under test and of the library, and the C hooks
 * they are compared with; with rmp.bench_profile=1 every text symbol, so that
 * the host can say where the instructions of a call went.
 */
static void send_symbols(void)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	int all = cmdline_has("rmp.bench_profile=1");
	char line[1024], type;

	if (!f)
		die("/proc/kallsyms");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		type = strlen(line) > 17 ? line[17] : 0;
		if (strstr(line, "[rust_secretmem]") || strstr(line, "[rust_binder_pages]") ||
		    strstr(line, "[binder_pages_c]") || strstr(line, "[rust_mmap_prepare]") ||
		    strstr(line, " secretmem_mmap_prepare") || strstr(line, " secretmem_fault") ||
		    (all && (type == 't' || type == 'T')))
			say("sym %s", line);
	}
	fclose(f);
	say("syms-end");
}

static void begin(const char *name)
{
	say("ready %s %d", name, calls);
	expect("go");
}

static void end(const char *name)
{
	say("done %s", name);
	expect("ok");
	printf("rmp-count: %s: %d calls\n", name, calls);
	fflush(stdout);
}

/* mmap_prepare: K mmap() calls of one page of an open area (memfd_secret's or the sample's). */
static void count_mmap_prepare(const char *name, enum kind kind)
{
	int fd = area_open(kind, PAGE);

	begin(name);
	for (int i = 0; i < calls; i++)
		unmap(area_map(kind, fd, PAGE, 0, NULL), PAGE);
	end(name);
	area_close(fd);
}

/* mapped: K mmap() calls of 1 MiB of a binder context, each registering a new VMA. */
static void count_mapped(const char *name, enum kind kind)
{
	int fd = area_open(kind, 0);

	begin(name);
	for (int i = 0; i < calls; i++)
		unmap(area_map(kind, fd, MIB, 0, NULL), MIB);
	end(name);
	area_close(fd);
}

/* fault: the first write to each of K pages of one mapping. */
static void count_fault(const char *name, enum kind kind)
{
	int fd = area_open(kind, calls * PAGE);
	unsigned char *p = area_map(kind, fd, calls * PAGE, 0, NULL);

	begin(name);
	touch(p, calls);
	end(name);
	unmap(p, calls * PAGE);
	area_close(fd);
}

/* SEND: K messages of len bytes to offset 0 of a mapped receiver, after one not counted. */
static void count_send(const char *name, enum kind kind, long len)
{
	int fd = area_open(kind, 0);
	unsigned char *map = area_map(kind, fd, MIB, 0, NULL), *msg = malloc(len);
	struct rbp_send s = { .offset = 0, .len = len, .data = (unsigned long)msg };

	if (!msg)
		die("malloc");
	memset(msg, 0x5a, len);
	rbp_ioctl(fd, RBP_IOC_SEND, &s, "RBP_IOC_SEND");
	begin(name);
	for (int i = 0; i < calls; i++)
		rbp_ioctl(fd, RBP_IOC_SEND, &s, "RBP_IOC_SEND");
	end(name);
	free(msg);
	unmap(map, MIB);
	area_close(fd);
}

int main(int argc, char **argv)
{
	int opt;

	while ((opt = getopt(argc, argv, "k:")) != -1) {
		if (opt != 'k') {
			fprintf(stderr, "usage: %s [-k CALLS]\n", argv[0]);
			return 2;
		}
		calls = atoi(optarg);
	}
	open_ctl();
	send_symbols();
	count_mmap_prepare("mmap_prepare_c", SECRET);
	count_mmap_prepare("mmap_prepare_rust", RUST_SECRET);
	count_mapped("mapped_c", BINDER_C);
	count_mapped("mapped_rust", BINDER_RUST);
	count_fault("fault_c", SECRET);
	count_fault("fault_rust", RUST_SECRET);
	count_send("send64_c", BINDER_C, 64);
	count_send("send64_rust", BINDER_RUST, 64);
	count_send("send4k_c", BINDER_C, PAGE);
	count_send("send4k_rust", BINDER_RUST, PAGE);
	say("end");
	return 0;
}
