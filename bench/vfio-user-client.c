/*
 * A minimal vfio-user client in C, to measure a server's own cost without a
 * Node client's overhead on the other end. It negotiates VERSION, then times
 * REGION_READ round trips of COUNT bytes at OFFSET of REGION (e.g. region 7 =
 * config space, region 0 = BAR0, whose memory decode it turns on first) with CLOCK_MONOTONIC, and prints the median
 * and p99 in nanoseconds as one JSON line, in the same shape as pingpong.c,
 * with its own CPU time per round trip (user + system, warm-up included).
 *
 *   vfio-user-client SOCKET_PATH REGION OFFSET COUNT ITERATIONS
 *
 * Wire facts (vfio-user specification): a 16-byte header - message id (u16),
 * command (u16), message size including the header (u32), flags (u32: type
 * in bits 0-3, 0 command / 1 reply; bit 4 no reply; bit 5 error), error
 * (u32) - then the payload. VERSION = 1 carries major, minor (u16 each) and a
 * NUL-terminated JSON capabilities string; REGION_READ = 9 carries offset
 * (u64), region (u32), count (u32), and its reply repeats them and the data.
 */
#define _GNU_SOURCE
#include "bench-common.h"
#include <sys/resource.h>
#include <unistd.h>

enum { HEADER = 16, CMD_VERSION = 1, CMD_REGION_READ = 9, CMD_REGION_WRITE = 10, CONFIG_REGION = 7, PCI_COMMAND = 4, PCI_COMMAND_MEMORY = 2, TYPE_MASK = 0xf, TYPE_REPLY = 1, FLAG_ERROR = 0x20 };

struct header {
	uint16_t id;
	uint16_t command;
	uint32_t size;
	uint32_t flags;
	uint32_t error;
};

struct region_rw {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
};

static void fail(const char *what, const struct header *h) {
	fprintf(stderr, "%s: command %u, flags 0x%x, error %u\n", what, h->command, h->flags, h->error);
	exit(1);
}

/* Receives one whole reply into buf (at most cap bytes) and checks it answers id/command. */
static void recv_reply(int fd, char *buf, size_t cap, uint16_t id, uint16_t command) {
	struct header *h = (struct header *)buf;
	xfer_all(fd, buf, HEADER, 0);
	if (h->size < HEADER || h->size > cap)
		fail("reply size out of range", h);
	xfer_all(fd, buf + HEADER, h->size - HEADER, 0);
	if ((h->flags & TYPE_MASK) != TYPE_REPLY || h->id != id || h->command != command)
		fail("unexpected message", h);
	if (h->flags & FLAG_ERROR)
		fail("error reply", h);
}

int main(int argc, char **argv) {
	if (argc != 6) {
		fprintf(stderr, "usage: %s SOCKET REGION OFFSET COUNT ITERATIONS\n", argv[0]);
		return 2;
	}
	const char *path = argv[1];
	uint32_t region = (uint32_t)strtoul(argv[2], NULL, 0);
	uint64_t offset = strtoull(argv[3], NULL, 0);
	uint32_t count = (uint32_t)strtoul(argv[4], NULL, 0);
	long iters = strtol(argv[5], NULL, 0);
	if (iters < 1 || count < 1 || count > (1u << 20))
		return 2;

	struct sockaddr_un addr;
	if (unix_address(&addr, path))
		return 2;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr))
		die("connect");

	size_t cap = HEADER + sizeof(struct region_rw) + count + 4096;
	char *buf = malloc(cap);
	if (!buf)
		die("malloc");

	/* VERSION 0.1 with the default capabilities. */
	static const char caps[] = "{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576}}";
	uint16_t id = 0;
	struct header *h = (struct header *)buf;
	*h = (struct header){ .id = id, .command = CMD_VERSION, .size = HEADER + 4 + sizeof caps };
	uint16_t ver[2] = { 0, 1 };
	memcpy(buf + HEADER, ver, 4);
	memcpy(buf + HEADER + 4, caps, sizeof caps);
	xfer_all(fd, buf, h->size, 1);
	recv_reply(fd, buf, cap, id, CMD_VERSION);

	/* A BAR answers only with memory decode on: read COMMAND, set MEM, write it back. */
	if (region < CONFIG_REGION) {
		struct region_rw cmd = { .offset = PCI_COMMAND, .region = CONFIG_REGION, .count = 2 };
		*h = (struct header){ .id = ++id, .command = CMD_REGION_READ, .size = HEADER + sizeof cmd };
		memcpy(buf + HEADER, &cmd, sizeof cmd);
		xfer_all(fd, buf, h->size, 1);
		recv_reply(fd, buf, cap, id, CMD_REGION_READ);
		uint16_t value;
		memcpy(&value, buf + HEADER + sizeof cmd, 2);
		value |= PCI_COMMAND_MEMORY;
		*h = (struct header){ .id = ++id, .command = CMD_REGION_WRITE, .size = HEADER + sizeof cmd + 2 };
		memcpy(buf + HEADER, &cmd, sizeof cmd);
		memcpy(buf + HEADER + sizeof cmd, &value, 2);
		xfer_all(fd, buf, h->size, 1);
		recv_reply(fd, buf, cap, id, CMD_REGION_WRITE);
	}

	/* The request never changes but for its id: build it once. */
	char req[HEADER + sizeof(struct region_rw)];
	struct header *rh = (struct header *)req;
	*rh = (struct header){ .command = CMD_REGION_READ, .size = sizeof req };
	struct region_rw rw = { .offset = offset, .region = region, .count = count };
	memcpy(req + HEADER, &rw, sizeof rw);

	uint64_t *lat = malloc(sizeof *lat * (size_t)iters);
	if (!lat)
		die("malloc");
	long warm = iters / 10 + 100;
	for (long i = 0; i < warm + iters; i++) {
		rh->id = ++id;
		uint64_t t0 = now_ns();
		xfer_all(fd, req, sizeof req, 1);
		recv_reply(fd, buf, cap, id, CMD_REGION_READ);
		if (i >= warm)
			lat[i - warm] = now_ns() - t0;
	}
	close(fd);
	struct rusage self;
	getrusage(RUSAGE_SELF, &self);
	double cpu_us = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec) * 1e6 + (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec);
	unsigned long long median, p99;
	latency_summary(lat, iters, &median, &p99);
	printf("{\"region\":%u,\"offset\":%llu,\"count\":%u,\"iterations\":%ld,\"median_ns\":%llu,\"p99_ns\":%llu,\"cpu_ns\":%.0f}\n", region,
	       (unsigned long long)offset, count, iters, median, p99, cpu_us * 1000.0 / (double)(warm + iters));
	return 0;
}
