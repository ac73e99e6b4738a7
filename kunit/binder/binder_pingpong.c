// SPDX-License-Identifier: GPL-2.0
/*
 * make run's Binder demonstration: a ping-pong between two processes through whatever Binder
 * driver is loaded (make run loads rust_binder_ported.ko, the Rust Binder ported onto the
 * crate, after rust_mmap_prepare.ko), on the UAPI only (linux/android/binder.h, binderfs.h).
 *
 * It mounts binderfs, adds a device, and forks: the child ("pong") becomes the context
 * manager and answers; the parent ("ping") sends synchronous transactions to handle 0. Each
 * side prints what it sent and what it received, and where the message lay: the driver copies
 * a transaction straight into the receiver's read-only mapping of the device, which is the
 * mapping rust_binder_ported sets up through f_op->mmap_prepare.
 *
 * Usage: binder_pingpong [COUNT]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/android/binder.h>
#include <linux/android/binderfs.h>

#define FS_DIR		"/dev/binderfs"
#define DEV_NAME	"rmp-pingpong"
#define MAP_SIZE	(128 * 1024)
#define CODE_PING	1
#define CODE_BYE	2

static char dev_path[64];

static void fail(const char *who, const char *what)
{
	printf("%s: %s failed: %s\n", who, what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int bwr(int fd, const void *w, size_t wsz, void *r, size_t rsz, size_t *rdone)
{
	struct binder_write_read b = {
		.write_size = wsz,
		.write_buffer = (uintptr_t)w,
		.read_size = rsz,
		.read_buffer = (uintptr_t)r,
	};
	int ret;

	do {
		ret = ioctl(fd, BINDER_WRITE_READ, &b);
	} while (ret < 0 && errno == EINTR);
	if (rdone)
		*rdone = b.read_consumed;
	return ret;
}

static size_t put(__u8 *buf, size_t at, __u32 cmd, const void *arg, size_t n)
{
	memcpy(buf + at, &cmd, 4);
	memcpy(buf + at + 4, arg, n);
	return at + 4 + n;
}

static int bopen(const char *who, char **map)
{
	int fd = open(dev_path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		fail(who, "open");
	*map = mmap(NULL, MAP_SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*map == MAP_FAILED)
		fail(who, "mmap");
	return fd;
}

/* The context manager: answers "ping N" with "pong N" until CODE_BYE. */
static int serve_pong(int ready)
{
	__u32 rbuf[128], looper = BC_ENTER_LOOPER;
	char *map, answer[64];
	int fd = bopen("pong", &map);

	if (ioctl(fd, BINDER_SET_CONTEXT_MGR, 0))
		fail("pong", "BINDER_SET_CONTEXT_MGR");
	if (bwr(fd, &looper, sizeof(looper), NULL, 0, NULL))
		fail("pong", "BC_ENTER_LOOPER");
	printf("pong: context manager of %s, pid %d, waiting\n", dev_path, getpid());
	fflush(stdout);
	if (write(ready, "r", 1) != 1)
		fail("pong", "write");
	for (;;) {
		size_t done, off = 0;

		if (bwr(fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			fail("pong", "BINDER_WRITE_READ");
		while (off + 4 <= done) {
			struct binder_transaction_data tr, re = { 0 };
			__u8 out[128];
			size_t n;
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd != BR_TRANSACTION)
				continue;
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			printf("pong: received \"%.*s\" (%llu bytes from pid %d, %s %lu %s)\n",
			       (int)tr.data_size, (char *)(uintptr_t)tr.data.ptr.buffer,
			       (unsigned long long)tr.data_size, tr.sender_pid,
			       "at offset",
			       (unsigned long)((char *)(uintptr_t)tr.data.ptr.buffer - map),
			       "of my read-only mapping");
			if (tr.code == CODE_PING && tr.data_size > 5)
				snprintf(answer, sizeof(answer), "pong%.*s", (int)tr.data_size - 4,
					 (char *)(uintptr_t)tr.data.ptr.buffer + 4);
			else
				snprintf(answer, sizeof(answer), "bye");
			re.data_size = strlen(answer) + 1;
			re.data.ptr.buffer = (uintptr_t)answer;
			n = put(out, 0, BC_FREE_BUFFER, &tr.data.ptr.buffer,
				sizeof(tr.data.ptr.buffer));
			n = put(out, n, BC_REPLY, &re, sizeof(re));
			printf("pong: replied \"%s\"\n", answer);
			fflush(stdout);
			/* The last reply's BR_TRANSACTION_COMPLETE is read before pong exits. */
			if (bwr(fd, out, n, rbuf, tr.code == CODE_BYE ? sizeof(rbuf) : 0, NULL))
				fail("pong", "BC_REPLY");
			if (tr.code == CODE_BYE)
				return 0;
		}
	}
}

/* One synchronous transaction to handle 0; prints the reply. */
static void send_ping(int fd, __u32 code, const char *msg)
{
	struct binder_transaction_data out = { .code = code, .data_size = strlen(msg) + 1 };
	__u8 w[4 + sizeof(out)];
	__u32 rbuf[128];

	out.target.handle = 0;
	out.data.ptr.buffer = (uintptr_t)msg;
	printf("ping: sending \"%s\" to handle 0\n", msg);
	fflush(stdout);
	if (bwr(fd, w, put(w, 0, BC_TRANSACTION, &out, sizeof(out)), NULL, 0, NULL))
		fail("ping", "BC_TRANSACTION");
	for (;;) {
		size_t done, off = 0;

		if (bwr(fd, NULL, 0, rbuf, sizeof(rbuf), &done))
			fail("ping", "BINDER_WRITE_READ");
		while (off + 4 <= done) {
			struct binder_transaction_data tr;
			__u8 fr[4 + sizeof(binder_uintptr_t)];
			__u32 cmd;

			memcpy(&cmd, (char *)rbuf + off, 4);
			off += 4 + _IOC_SIZE(cmd);
			if (cmd == BR_NOOP || cmd == BR_TRANSACTION_COMPLETE)
				continue;
			if (cmd != BR_REPLY) {
				printf("ping: got BR 0x%x instead of a reply\n", cmd);
				exit(1);
			}
			memcpy(&tr, (char *)rbuf + off - sizeof(tr), sizeof(tr));
			printf("ping: reply \"%.*s\"\n", (int)tr.data_size,
			       (char *)(uintptr_t)tr.data.ptr.buffer);
			fflush(stdout);
			if (bwr(fd, fr, put(fr, 0, BC_FREE_BUFFER, &tr.data.ptr.buffer,
					    sizeof(tr.data.ptr.buffer)), NULL, 0, NULL))
				fail("ping", "BC_FREE_BUFFER");
			return;
		}
	}
}

int main(int argc, char **argv)
{
	struct binderfs_device dev = { 0 };
	struct binder_version ver;
	int count = argc > 1 ? atoi(argv[1]) : 3, ready[2], fd, st;
	char *map, msg[32], c;
	pid_t child;

	setvbuf(stdout, NULL, _IOLBF, 0);
	mkdir(FS_DIR, 0755);
	if (mount("binder", FS_DIR, "binder", 0, NULL) && errno != EBUSY)
		fail("ping", "mount -t binder");
	fd = open(FS_DIR "/binder-control", O_RDWR | O_CLOEXEC);
	snprintf(dev.name, sizeof(dev.name), "%s", DEV_NAME);
	if (fd < 0 || ioctl(fd, BINDER_CTL_ADD, &dev))
		fail("ping", "BINDER_CTL_ADD");
	close(fd);
	snprintf(dev_path, sizeof(dev_path), FS_DIR "/" DEV_NAME);
	if (pipe(ready))
		fail("ping", "pipe");
	child = fork();
	if (child < 0)
		fail("ping", "fork");
	if (child == 0) {
		close(ready[0]);
		exit(serve_pong(ready[1]));
	}
	close(ready[1]);
	if (read(ready[0], &c, 1) != 1)
		fail("ping", "waiting for pong");
	fd = bopen("ping", &map);
	if (ioctl(fd, BINDER_VERSION, &ver))
		fail("ping", "BINDER_VERSION");
	printf("ping: pid %d, %s, Binder protocol version %d\n", getpid(), dev_path,
	       ver.protocol_version);
	for (int i = 1; i <= count; i++) {
		snprintf(msg, sizeof(msg), "ping %d", i);
		send_ping(fd, CODE_PING, msg);
	}
	send_ping(fd, CODE_BYE, "bye");
	if (waitpid(child, &st, 0) != child || !WIFEXITED(st) || WEXITSTATUS(st))
		fail("ping", "pong's exit");
	printf("ping: %d round trips, pong exited cleanly\n", count + 1);
	return 0;
}
