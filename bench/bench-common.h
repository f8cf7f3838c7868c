/*
 * What the C benchmark programs (pingpong.c, vfio-user-client.c) share: fatal
 * errors, whole transfers over a stream socket, a monotonic clock, the UNIX
 * socket address, and the latency summary.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

static void die(const char *what) {
	perror(what);
	exit(1);
}

/* Moves exactly len bytes, looping over partial transfers. */
static void xfer_all(int fd, void *buf, size_t len, int sending) {
	size_t done = 0;
	while (done < len) {
		ssize_t n = sending ? send(fd, (char *)buf + done, len - done, MSG_NOSIGNAL)
		                    : recv(fd, (char *)buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(sending ? "send" : "recv");
		done += (size_t)n;
	}
}

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Fills addr for path; -1 when the path does not fit sun_path. */
static int unix_address(struct sockaddr_un *addr, const char *path) {
	*addr = (struct sockaddr_un){ .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof addr->sun_path)
		return -1;
	strcpy(addr->sun_path, path);
	return 0;
}

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Sorts the n latencies and gives their median and 99th percentile. */
static void latency_summary(uint64_t *lat, long n, unsigned long long *median, unsigned long long *p99) {
	qsort(lat, (size_t)n, sizeof *lat, cmp_u64);
	*median = (unsigned long long)lat[n / 2];
	*p99 = (unsigned long long)lat[(size_t)((double)n * 0.99)];
}

#endif
