/*
 * Plain fd operations: open, close, dup, pread/pwrite at 64-bit offsets,
 * ioctl with an integer or in-place buffer argument, poll on one fd,
 * ftruncate, fstat size and O_NONBLOCK control.
 *
 * These are what VFIO needs beyond node:fs: device and container fds are
 * driven by ioctl, regions are read with pread/pwrite at offsets above 2^53
 * (region index << 40), and every fd must be O_CLOEXEC so that spawned
 * processes inherit nothing by accident.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common.h"

/* open(path, flags, mode = 0o666) -> fd; O_CLOEXEC is always added. */
static napi_value fd_open(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 3);
  char path[PATH_MAX];
  int64_t flags, mode = 0666;
  int fd;
  napi_valuetype t;
  if (!vt_arg_string(env, argv[0], "path", path, sizeof(path)) ||
      !vt_arg_int(env, argv[1], "flags", 0, INT_MAX, &flags))
    return NULL;
  if (napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_int(env, argv[2], "mode", 0, 07777, &mode)) return NULL;
  do {
    fd = open(path, (int)flags | O_CLOEXEC, (mode_t)mode);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) return vt_throw_sys(env, "open", errno, path);
  return vt_int(env, fd);
}

/* close(fd). EINTR still closes the fd on Linux, so it is not an error. */
static napi_value fd_close(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  int fd;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  if (close(fd) < 0 && errno != EINTR) return vt_throw_sys(env, "close", errno, NULL);
  return vt_undefined(env);
}

/* dup(fd) -> a new fd with O_CLOEXEC. */
static napi_value fd_dup(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  int fd, r;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  r = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (r < 0) return vt_throw_sys(env, "dup", errno, NULL);
  return vt_int(env, r);
}

/*
 * pread/pwrite(fd, buf, offset, length, position) -> bytes moved (pread: 0 at
 * end of file). One body for both: only the system call differs.
 */
static napi_value positional_io(napi_env env, napi_callback_info info, int writing) {
  VT_ARGS(env, info, 5);
  int fd;
  uint8_t *p;
  size_t len;
  int64_t pos;
  ssize_t n;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_range(env, argv[1], argv[2], argv[3], "buffer", &p, &len) ||
      !vt_arg_off(env, argv[4], "position", &pos))
    return NULL;
  do {
    n = writing ? pwrite(fd, p, len, pos) : pread(fd, p, len, pos);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return vt_throw_sys(env, writing ? "pwrite" : "pread", errno, NULL);
  return vt_int(env, n);
}

static napi_value fd_pread(napi_env env, napi_callback_info info) {
  return positional_io(env, info, 0);
}

static napi_value fd_pwrite(napi_env env, napi_callback_info info) {
  return positional_io(env, info, 1);
}

/*
 * VFIO and iommufd requests are _IO(';', nr): their numbers encode no size.
 * Those that take a struct start it with a u32 that says how long it is
 * (VFIO's argsz, iommufd's size), and the kernel trusts it: a buffer shorter
 * than its argsz would let the kernel read and write past its end. The
 * exceptions take no argument, an int by value, or a pointer to something
 * else (below); iommufd's own requests (nr >= 0x80) all carry a size.
 */
#define VT_VFIO_TYPE ';'
#define VT_VFIO_BASE 100
#define VT_IOMMUFD_BASE 0x80

static bool vfio_takes_argsz(unsigned int nr) {
  if (nr >= VT_IOMMUFD_BASE) return true;
  switch (nr - VT_VFIO_BASE) {
    case 0:  /* GET_API_VERSION: none */
    case 1:  /* CHECK_EXTENSION: int */
    case 2:  /* SET_IOMMU: int */
    case 4:  /* GROUP_SET_CONTAINER: int * */
    case 5:  /* GROUP_UNSET_CONTAINER: none */
    case 6:  /* GROUP_GET_DEVICE_FD: char * */
    case 11: /* DEVICE_RESET: none */
    case 15: /* DEVICE_GET_GFX_DMABUF: __u32 *; IOMMU_ENABLE: none */
      return false;
    default:
      return true;
  }
}

/* A buffer argument of a request the kernel sizes by its first u32 must be
 * at least that long; false after throwing EINVAL. */
static bool check_argsz(napi_env env, uint64_t request, const uint8_t *p, size_t len) {
  uint32_t argsz;
  unsigned long req = (unsigned long)request;
  char detail[96];
  if (_IOC_DIR(req) != _IOC_NONE || _IOC_TYPE(req) != VT_VFIO_TYPE || !vfio_takes_argsz(_IOC_NR(req))) return true;
  if (len < sizeof(argsz)) {
    snprintf(detail, sizeof(detail), "request 0x%llx: a %zu-byte buffer cannot hold argsz",
             (unsigned long long)request, len);
    vt_throw_sys(env, "ioctl", EINVAL, detail);
    return false;
  }
  memcpy(&argsz, p, sizeof(argsz));
  if (argsz > len) {
    snprintf(detail, sizeof(detail), "request 0x%llx: argsz %u exceeds the %zu-byte buffer",
             (unsigned long long)request, argsz, len);
    vt_throw_sys(env, "ioctl", EINVAL, detail);
    return false;
  }
  return true;
}

/*
 * ioctl(fd, request, arg) -> the ioctl's return value.
 * arg: undefined (0), an integer number or bigint (passed as unsigned long),
 * or a buffer whose bytes the kernel reads and writes in place. When the
 * request encodes a size (_IOR/_IOW/_IOWR) a buffer must be at least that big
 * (else RangeError); a VFIO or iommufd buffer must hold its argsz (else EINVAL).
 */
static napi_value fd_ioctl(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 3);
  int fd, r;
  uint64_t request, value = 0;
  unsigned long arg;
  napi_valuetype t;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_u64(env, argv[1], "request", &request)) return NULL;
  if (napi_typeof(env, argv[2], &t) != napi_ok) return NULL;
  if (t == napi_number || t == napi_bigint) {
    if (t == napi_number) {
      int64_t n;
      if (!vt_arg_int(env, argv[2], "arg", INT64_MIN, INT64_MAX, &n)) return NULL;
      value = (uint64_t)n;
    } else if (!vt_arg_u64(env, argv[2], "arg", &value)) {
      return NULL;
    }
    arg = (unsigned long)value;
  } else if (t == napi_undefined || t == napi_null) {
    arg = 0;
  } else {
    uint8_t *p;
    size_t len;
    unsigned int dir = _IOC_DIR((unsigned long)request), size = _IOC_SIZE((unsigned long)request);
    if (!vt_arg_bytes(env, argv[2], "arg", &p, &len)) return NULL;
    if (dir != _IOC_NONE && size > len)
      return vt_throw_range(env, "ioctl 0x%llx needs a %u-byte argument, buffer has %zu",
                            (unsigned long long)request, size, len);
    if (!check_argsz(env, request, p, len)) return NULL;
    arg = (unsigned long)(uintptr_t)p;
  }
  r = ioctl(fd, (unsigned long)request, arg);
  if (r < 0) {
    char detail[32];
    int err = errno;
    snprintf(detail, sizeof(detail), "request 0x%llx", (unsigned long long)request);
    return vt_throw_sys(env, "ioctl", err, detail);
  }
  return vt_int(env, r);
}

/*
 * poll(fd, events, timeoutMs = -1) -> revents (0 on timeout).
 * Blocks the thread: meant for the synchronous paths only. A closed fd
 * (POLLNVAL) throws EBADF.
 */
static napi_value fd_poll(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 3);
  int fd, timeout, r;
  int64_t events, deadline;
  struct pollfd pfd;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_int(env, argv[1], "events", 0, 0xffff, &events) ||
      !vt_arg_timeout(env, argv[2], "timeoutMs", &timeout))
    return NULL;
  /* poll(2) skips negative fds and would wait out the timeout. */
  if (fd < 0) return vt_throw_sys(env, "poll", EBADF, NULL);
  deadline = vt_deadline(timeout);
  pfd.fd = fd;
  pfd.events = (short)events;
  do {
    pfd.revents = 0;
    r = poll(&pfd, 1, vt_ms_left(deadline));
  } while (r < 0 && errno == EINTR);
  if (r < 0) return vt_throw_sys(env, "poll", errno, NULL);
  if (r > 0 && (pfd.revents & POLLNVAL)) return vt_throw_sys(env, "poll", EBADF, NULL);
  return vt_int(env, r == 0 ? 0 : pfd.revents);
}

/* ftruncate(fd, size). */
static napi_value fd_ftruncate(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int fd, r;
  int64_t size;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_off(env, argv[1], "size", &size)) return NULL;
  do {
    r = ftruncate(fd, size);
  } while (r < 0 && errno == EINTR);
  if (r < 0) return vt_throw_sys(env, "ftruncate", errno, NULL);
  return vt_undefined(env);
}

/* fstatSize(fd) -> st_size as a number. */
static napi_value fd_fstat_size(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  int fd;
  struct stat st;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  if (fstat(fd, &st) < 0) return vt_throw_sys(env, "fstat", errno, NULL);
  return vt_int(env, st.st_size);
}

/* setNonblocking(fd, on): sets or clears O_NONBLOCK. */
static napi_value fd_set_nonblocking(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int fd, flags;
  bool on;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_bool(env, argv[1], "on", true, &on)) return NULL;
  flags = fcntl(fd, F_GETFL);
  if (flags < 0) return vt_throw_sys(env, "fcntl", errno, NULL);
  flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
  if (fcntl(fd, F_SETFL, flags) < 0) return vt_throw_sys(env, "fcntl", errno, NULL);
  return vt_undefined(env);
}

bool vt_register_fdops(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {
      {"open", fd_open},           {"close", fd_close},         {"dup", fd_dup},
      {"pread", fd_pread},         {"pwrite", fd_pwrite},       {"ioctl", fd_ioctl},
      {"poll", fd_poll},           {"ftruncate", fd_ftruncate}, {"fstatSize", fd_fstat_size},
      {"setNonblocking", fd_set_nonblocking},
  };
  return vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns)) && vt_export_int(env, exports, "POLLIN", POLLIN) &&
         vt_export_int(env, exports, "POLLPRI", POLLPRI) && vt_export_int(env, exports, "POLLOUT", POLLOUT) &&
         vt_export_int(env, exports, "POLLERR", POLLERR) && vt_export_int(env, exports, "POLLHUP", POLLHUP) &&
         vt_export_int(env, exports, "POLLNVAL", POLLNVAL) && vt_export_int(env, exports, "POLLRDHUP", POLLRDHUP);
}
