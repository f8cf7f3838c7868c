/*
 * eventfd: a kernel counter used as a doorbell. VFIO and vfio-user signal
 * interrupts (INTx, MSI, MSI-X vectors) and device requests through eventfds
 * handed to the kernel or across the socket.
 *
 * Writing adds to the counter; reading returns it and resets it to zero, or
 * in semaphore mode returns 1 and decrements it. Reads here never block
 * unless asked to wait: with nothing pending they return 0 (the counter is
 * never 0 after a successful read), so the same call serves fds created with
 * or without EFD_NONBLOCK, including ones received from a peer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common.h"

/* eventfdCreate(initial = 0, flags = 0) -> fd. flags: EFD_NONBLOCK | EFD_SEMAPHORE.
 * EFD_CLOEXEC is always added. */
static napi_value efd_create(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int64_t initial = 0, flags = 0;
  napi_valuetype t0, t1;
  int fd;
  if (napi_typeof(env, argv[0], &t0) != napi_ok || napi_typeof(env, argv[1], &t1) != napi_ok) return NULL;
  if (t0 != napi_undefined && !vt_arg_int(env, argv[0], "initial", 0, UINT32_MAX, &initial)) return NULL;
  if (t1 != napi_undefined && !vt_arg_int(env, argv[1], "flags", 0, EFD_NONBLOCK | EFD_SEMAPHORE, &flags)) return NULL;
  if (flags & ~(int64_t)(EFD_NONBLOCK | EFD_SEMAPHORE)) return vt_throw_range(env, "unknown eventfd flags");
  fd = eventfd((unsigned int)initial, (int)flags | EFD_CLOEXEC);
  if (fd < 0) return vt_throw_sys(env, "eventfd", errno, NULL);
  return vt_int(env, fd);
}

/* eventfdWrite(fd, count = 1): adds count (number or bigint, < 2^64 - 1).
 * A non-blocking eventfd whose counter would overflow throws EAGAIN. */
static napi_value efd_write(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int fd;
  uint64_t count = 1;
  ssize_t n;
  napi_valuetype t;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_u64(env, argv[1], "count", &count)) return NULL;
  if (count == UINT64_MAX) return vt_throw_range(env, "count must be below 2^64 - 1");
  do {
    n = write(fd, &count, sizeof(count));
  } while (n < 0 && errno == EINTR);
  if (n < 0) return vt_throw_sys(env, "write", errno, "eventfd");
  if (n != sizeof(count)) return vt_throw_sys(env, "write", EINVAL, "short write on eventfd");
  return vt_undefined(env);
}

/*
 * eventfdRead(fd, timeoutMs = 0) -> the count (a number; exact below 2^53),
 * or 0 if nothing arrived within the timeout (-1 waits forever).
 */
static napi_value efd_read(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int fd, timeout = 0, r;
  uint64_t value;
  ssize_t n;
  int64_t deadline;
  napi_valuetype t;
  struct pollfd pfd;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_timeout(env, argv[1], "timeoutMs", &timeout)) return NULL;
  /* poll(2) skips negative fds and would wait out the timeout. */
  if (fd < 0) return vt_throw_sys(env, "read", EBADF, "eventfd");
  deadline = vt_deadline(timeout);
  for (;;) {
    pfd.fd = fd;
    pfd.events = POLLIN;
    pfd.revents = 0;
    r = poll(&pfd, 1, vt_ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return vt_throw_sys(env, "poll", errno, NULL);
    if (r == 0) return vt_int(env, 0);
    if (pfd.revents & POLLNVAL) return vt_throw_sys(env, "read", EBADF, "eventfd");
    /* On a blocking fd, another reader draining the counter between poll
     * and read would make this read block; eventfds have a single reader in
     * this project, so that window is accepted. */
    n = read(fd, &value, sizeof(value));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (vt_ms_left(deadline) == 0) return vt_int(env, 0);
      continue;
    }
    if (n < 0) return vt_throw_sys(env, "read", errno, "eventfd");
    if (n != sizeof(value)) return vt_throw_sys(env, "read", EINVAL, "not an eventfd (short read)");
    break;
  }
  {
    napi_value result;
    if (napi_create_double(env, (double)value, &result) != napi_ok) return NULL;
    return result;
  }
}

bool vt_register_eventfd(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {
      {"eventfdCreate", efd_create}, {"eventfdWrite", efd_write}, {"eventfdRead", efd_read}};
  return vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns)) &&
         vt_export_int(env, exports, "EFD_NONBLOCK", EFD_NONBLOCK) &&
         vt_export_int(env, exports, "EFD_SEMAPHORE", EFD_SEMAPHORE);
}
