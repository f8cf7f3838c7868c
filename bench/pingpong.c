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
#include "bench-common.h"
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

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

	struct sockaddr_un addr;
	if (unix_address(&addr, path))
		return 2;
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
	unsigned long long median, p99;
	latency_summary(lat, iters, &median, &p99);
	printf("{\"req\":%zu,\"rep\":%zu,\"iterations\":%ld,\"median_ns\":%llu,\"p99_ns\":%llu,\"cpu_ns\":%.0f}\n", req, rep,
	       iters, median, p99, cpu_us * 1000.0 / (double)(warm + iters));
	return 0;
}
