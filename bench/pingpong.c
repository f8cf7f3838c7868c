/*
 * Baseline for the socket benchmarks: a plain C ping-pong over a UNIX stream
 * socket, the cheapest request/reply two processes can do. The client sends a
 * request of REQ bytes, the server answers with REP bytes; the client times
 * each round trip with CLOCK_MONOTONIC and prints the median and p99 in
 * nanoseconds as one JSON line, with the CPU time both processes spent per
 * round trip (user + system, warm-up included). Run both pinned to one CPU (taskset -c 0), as
 * the vfio-ts figures are, so the ratio between them is about the software
 * and not about cross-CPU wake-ups.
 *
 *   pingpong SOCKET_PATH REQ_BYTES REP_BYTES ITERATIONS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
	perror(what);
	exit(1);
}

/* Moves exactly len bytes, looping over partial transfers. */
static void xfer_all(int fd, char *buf, size_t len, int sending) {
	size_t done = 0;
	while (done < len) {
		ssize_t n = sending ? send(fd, buf + done, len - done, MSG_NOSIGNAL)
		                    : recv(fd, buf + done, len - done, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die(sending ? "send" : "recv");
		done += (size_t)n;
	}
}

static int cmp_u64(const void *a, const void *b) {
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t now_ns(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int main(int argc, char **argv) {
	if (argc != 5) {
		fprintf(stderr, "usage: %s SOCKET REQ_BYTES REP_BYTES ITERATIONS\n", argv[0]);
		return 2;
	}
	const char *path = argv[1];
	size_t req = strtoul(argv[2], NULL, 0), rep = strtoul(argv[3], NULL, 0);
	long iters = strtol(argv[4], NULL, 0);
	if (iters < 1 || req < 1 || rep < 1)
		return 2;

	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof addr.sun_path)
		return 2;
	strcpy(addr.sun_path, path);
	unlink(path);
	int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof addr) || listen(lfd, 1))
		die("listen");

	char *buf = malloc(req > rep ? req : rep);
	if (!buf)
		die("malloc");
	memset(buf, 0x5a, req > rep ? req : rep);
	long warm = iters / 10 + 100;

	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) { /* server: answer every request */
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			die("accept");
		for (long i = 0; i < warm + iters; i++) {
			xfer_all(fd, buf, req, 0);
			xfer_all(fd, buf, rep, 1);
		}
		_exit(0);
	}
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr))
		die("connect");
	uint64_t *lat = malloc(sizeof *lat * (size_t)iters);
	if (!lat)
		die("malloc");
	for (long i = 0; i < warm + iters; i++) {
		uint64_t t0 = now_ns();
		xfer_all(fd, buf, req, 1);
		xfer_all(fd, buf, rep, 0);
		if (i >= warm)
			lat[i - warm] = now_ns() - t0;
	}
	waitpid(pid, NULL, 0);
	unlink(path);
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	double cpu_us = (double)(self.ru_utime.tv_sec + self.ru_stime.tv_sec + kids.ru_utime.tv_sec + kids.ru_stime.tv_sec) * 1e6 +
	                (double)(self.ru_utime.tv_usec + self.ru_stime.tv_usec + kids.ru_utime.tv_usec + kids.ru_stime.tv_usec);
	qsort(lat, (size_t)iters, sizeof *lat, cmp_u64);
	printf("{\"req\":%zu,\"rep\":%zu,\"iterations\":%ld,\"median_ns\":%llu,\"p99_ns\":%llu,\"cpu_ns\":%.0f}\n", req, rep,
	       iters, (unsigned long long)lat[iters / 2], (unsigned long long)lat[(size_t)((double)iters * 0.99)],
	       cpu_us * 1000.0 / (double)(warm + iters));
	return 0;
}
