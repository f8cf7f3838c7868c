/*
 * UNIX stream sockets with fd passing.
 *
 * The model: a socket is a byte stream; fds ride along as SCM_RIGHTS
 * ancillary data attached to the bytes of the sendmsg that carried them. The
 * kernel ends a stream receive right after copying from bytes that brought
 * fds, so the fds arrive with the receive whose last byte belongs to that
 * send (fd-less bytes sent before may share the receive). Message framing is
 * not done here; the protocol layer above does it.
 *
 * Every socket is created SOCK_CLOEXEC | SOCK_NONBLOCK, and every send and
 * receive passes MSG_DONTWAIT (so an fd adopted in blocking mode behaves the
 * same) and sends pass MSG_NOSIGNAL (a gone peer is EPIPE, never SIGPIPE).
 *
 * Two styles of I/O:
 *   - non-blocking sendmsg/recvmsg for the event loop: they return -1 for
 *     EAGAIN so that the caller can wait on the watcher (watcher.c);
 *   - blocking sendAll/recvSync/transact for the synchronous request/reply
 *     path (MMIO-style region access): they wait with poll(2) against one
 *     deadline and throw ETIMEDOUT when it passes.
 *
 * Receives store fds in a caller-provided Int32Array and report how many in
 * status[VT_STATUS_FDS] (the Int32Array exported as `status`), so that they
 * return a plain integer and allocate nothing. Received fds carry O_CLOEXEC
 * (MSG_CMSG_CLOEXEC). If the peer sent more fds than the array holds, the
 * kernel truncates the ancillary data (MSG_CTRUNC): every fd that did arrive
 * is closed and EMSGSIZE is thrown; the bytes of that receive are consumed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

/* Room for the largest SCM_RIGHTS message, aligned for struct cmsghdr. */
typedef union control_buf {
  struct cmsghdr align;
  char buf[CMSG_SPACE(sizeof(int) * VT_MAX_FDS)];
} control_buf;

/* One sendmsg; returns bytes sent or -1 with errno (EAGAIN included). */
static ssize_t send_some(int fd, const uint8_t *p, size_t len, const int *fds, size_t nfds) {
  struct iovec iov = {.iov_base = (void *)p, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  control_buf ctl;
  ssize_t n;
  if (nfds > 0) {
    struct cmsghdr *c;
    memset(&ctl, 0, CMSG_SPACE(sizeof(int) * nfds));
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
  }
  do {
    n = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  return n;
}

/*
 * One recvmsg. Returns bytes received (0 = end of stream) or -1 with errno.
 * Fds are stored in fds[0..*nfds). On truncated ancillary data every fd that
 * arrived is closed, *nfds is 0 and *ctrunc is set.
 *
 * msg_controllen is CMSG_LEN (not CMSG_SPACE) of the capacity so that the
 * kernel installs at most `cap` fds: CMSG_SPACE rounds up and would leave
 * room for one more than the array holds.
 */
static ssize_t recv_some(int fd, uint8_t *p, size_t len, int32_t *fds, size_t cap, size_t *nfds, bool *ctrunc) {
  struct iovec iov = {.iov_base = p, .iov_len = len};
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  control_buf ctl;
  struct cmsghdr *c;
  ssize_t n;
  size_t count = 0;
  bool overflow = false;
  if (cap > VT_MAX_FDS) cap = VT_MAX_FDS;
  if (cap > 0) {
    msg.msg_control = ctl.buf;
    msg.msg_controllen = CMSG_LEN(sizeof(int) * cap);
  }
  *nfds = 0;
  *ctrunc = false;
  do {
    n = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return -1;
  for (c = cap > 0 ? CMSG_FIRSTHDR(&msg) : NULL; c != NULL; c = CMSG_NXTHDR(&msg, c)) {
    size_t k;
    int got[VT_MAX_FDS];
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS || c->cmsg_len < CMSG_LEN(0)) continue;
    k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    if (k > VT_MAX_FDS) k = VT_MAX_FDS;
    memcpy(got, CMSG_DATA(c), k * sizeof(int));
    for (size_t i = 0; i < k; i++) {
      if (count < cap) {
        fds[count++] = got[i];
      } else {
        close(got[i]);
        overflow = true;
      }
    }
  }
  if ((msg.msg_flags & MSG_CTRUNC) || overflow) {
    for (size_t i = 0; i < count; i++) close(fds[i]);
    *ctrunc = true;
    return n;
  }
  *nfds = count;
  return n;
}

/*
 * Waits until fd is ready for `events` or the deadline passes. Returns 0 when
 * ready (including hang-up and error conditions, which the next call reports)
 * or an errno: ETIMEDOUT, EBADF.
 */
static int wait_fd(int fd, short events, int64_t deadline) {
  struct pollfd pfd = {.fd = fd, .events = events};
  int r;
  if (fd < 0) return EBADF; /* poll(2) would skip it and wait out the timeout */
  for (;;) {
    pfd.revents = 0;
    r = poll(&pfd, 1, vt_ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return errno;
    if (r == 0) return ETIMEDOUT;
    if (pfd.revents & POLLNVAL) return EBADF;
    return 0;
  }
}

/* Sends all of p[0..len), fds with the first bytes, waiting while the socket
 * is full. Returns 0 or an errno; *sent tells how far it got. */
static int send_all(int fd, const uint8_t *p, size_t len, const int *fds, size_t nfds, int64_t deadline,
                    size_t *sent) {
  *sent = 0;
  while (*sent < len) {
    ssize_t n = send_some(fd, p + *sent, len - *sent, fds, nfds);
    if (n >= 0) {
      *sent += (size_t)n;
      nfds = 0; /* the fds went with the first bytes */
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    int err = wait_fd(fd, POLLOUT, deadline);
    if (err != 0) return err;
  }
  return 0;
}

/* Throws the error for a receive whose ancillary data was truncated. */
static napi_value throw_ctrunc(napi_env env, const char *syscall, size_t cap, ssize_t n) {
  char detail[256];
  snprintf(detail, sizeof(detail),
           "the peer sent more fds than the receive array holds (%zu); the fds that arrived were closed "
           "and the %zd bytes received with them are lost to the caller",
           cap, n);
  return vt_throw_sys(env, syscall, EMSGSIZE, detail);
}

/* Fills a sockaddr_un; ENAMETOOLONG thrown by the caller if it does not fit. */
static bool make_addr(const char *path, struct sockaddr_un *addr) {
  size_t len = strlen(path);
  if (len >= sizeof(addr->sun_path)) return false;
  memset(addr, 0, sizeof(*addr));
  addr->sun_family = AF_UNIX;
  memcpy(addr->sun_path, path, len + 1);
  return true;
}

static int new_socket(void) {
  return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
}

/* unixListen(path, backlog = 16) -> listening fd. The path must not exist. */
static napi_value unix_listen(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  char path[PATH_MAX];
  struct sockaddr_un addr;
  int64_t backlog = 16;
  int fd, err;
  napi_valuetype t;
  if (!vt_arg_string(env, argv[0], "path", path, sizeof(path))) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_int(env, argv[1], "backlog", 0, INT_MAX, &backlog)) return NULL;
  if (!make_addr(path, &addr)) return vt_throw_sys(env, "bind", ENAMETOOLONG, path);
  fd = new_socket();
  if (fd < 0) return vt_throw_sys(env, "socket", errno, NULL);
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    err = errno;
    close(fd);
    return vt_throw_sys(env, "bind", err, path);
  }
  if (listen(fd, (int)backlog) < 0) {
    err = errno;
    close(fd);
    return vt_throw_sys(env, "listen", err, path);
  }
  return vt_int(env, fd);
}

/* unixAccept(fd) -> connected fd, or -1 when no connection is pending. */
static napi_value unix_accept(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  int fd, c;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  do {
    c = accept4(fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    /* A connection reset before we took it is simply gone: try the next. */
  } while (c < 0 && (errno == EINTR || errno == ECONNABORTED));
  if (c < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return vt_int(env, -1);
  if (c < 0) return vt_throw_sys(env, "accept", errno, NULL);
  return vt_int(env, c);
}

/*
 * unixConnect(path, timeoutMs = 0) -> connected fd.
 * A UNIX connect completes at once unless the listener's backlog is full
 * (EAGAIN); then it is retried every millisecond until the timeout.
 */
static napi_value unix_connect(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  char path[PATH_MAX];
  struct sockaddr_un addr;
  int fd, timeout = 0, err;
  int64_t deadline;
  napi_valuetype t;
  if (!vt_arg_string(env, argv[0], "path", path, sizeof(path))) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_timeout(env, argv[1], "timeoutMs", &timeout)) return NULL;
  if (!make_addr(path, &addr)) return vt_throw_sys(env, "connect", ENAMETOOLONG, path);
  fd = new_socket();
  if (fd < 0) return vt_throw_sys(env, "socket", errno, NULL);
  deadline = vt_deadline(timeout);
  for (;;) {
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) break;
    err = errno;
    if (err == EINTR) continue;
    if (err == EAGAIN && vt_ms_left(deadline) != 0) {
      poll(NULL, 0, 1);
      continue;
    }
    close(fd);
    return vt_throw_sys(env, "connect", err, path);
  }
  return vt_int(env, fd);
}

/* socketpair() -> [fd, fd], a connected pair. */
static napi_value unix_socketpair(napi_env env, napi_callback_info info) {
  int sv[2];
  napi_value arr;
  (void)info;
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
    return vt_throw_sys(env, "socketpair", errno, NULL);
  if (napi_create_array_with_length(env, 2, &arr) != napi_ok ||
      napi_set_element(env, arr, 0, vt_int(env, sv[0])) != napi_ok ||
      napi_set_element(env, arr, 1, vt_int(env, sv[1])) != napi_ok) {
    close(sv[0]);
    close(sv[1]);
    return NULL;
  }
  return arr;
}

/*
 * sendmsg(fd, buf, offset, length, fds?) -> bytes sent, or -1 if the socket
 * is full (EAGAIN). The fds go with the first byte sent: after a partial
 * send, do not send them again with the rest. Fds need at least one byte.
 */
static napi_value unix_sendmsg(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 5);
  int fd, fds[VT_MAX_FDS];
  uint8_t *p;
  size_t len, nfds;
  ssize_t n;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_range(env, argv[1], argv[2], argv[3], "buffer", &p, &len) ||
      !vt_arg_fd_list(env, argv[4], "fds", fds, &nfds))
    return NULL;
  if (nfds > 0 && len == 0) return vt_throw_range(env, "fds must travel with at least one byte");
  n = send_some(fd, p, len, fds, nfds);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return vt_int(env, -1);
  if (n < 0) return vt_throw_sys(env, "sendmsg", errno, NULL);
  return vt_int(env, n);
}

/*
 * recvmsg(fd, buf, offset, length, fdsOut?) -> bytes received, 0 at end of
 * stream, -1 if nothing is pending (EAGAIN). The number of fds stored in
 * fdsOut is written to status[0].
 */
static napi_value unix_recvmsg(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 5);
  int fd;
  uint8_t *p;
  int32_t *fds;
  size_t len, cap, nfds;
  ssize_t n;
  bool ctrunc;
  vt_status_set(env, VT_STATUS_FDS, 0);
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_range(env, argv[1], argv[2], argv[3], "buffer", &p, &len) ||
      !vt_arg_int32array(env, argv[4], "fdsOut", &fds, &cap))
    return NULL;
  if (len == 0) return vt_throw_range(env, "receive range must hold at least one byte");
  n = recv_some(fd, p, len, fds, cap, &nfds, &ctrunc);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return vt_int(env, -1);
  if (n < 0) return vt_throw_sys(env, "recvmsg", errno, NULL);
  if (ctrunc) return throw_ctrunc(env, "recvmsg", cap, n);
  vt_status_set(env, VT_STATUS_FDS, (int32_t)nfds);
  return vt_int(env, n);
}

/*
 * sendAll(fd, buf, offset, length, fds?, timeoutMs = -1) -> length.
 * Blocking full send: loops over partial sends, waiting with poll while the
 * socket is full. ETIMEDOUT if the deadline passes (the stream then holds a
 * partial message).
 */
static napi_value unix_send_all(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 6);
  int fd, timeout, fds[VT_MAX_FDS], err;
  uint8_t *p;
  size_t len, nfds, sent;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_range(env, argv[1], argv[2], argv[3], "buffer", &p, &len) ||
      !vt_arg_fd_list(env, argv[4], "fds", fds, &nfds) || !vt_arg_timeout(env, argv[5], "timeoutMs", &timeout))
    return NULL;
  if (nfds > 0 && len == 0) return vt_throw_range(env, "fds must travel with at least one byte");
  err = send_all(fd, p, len, fds, nfds, vt_deadline(timeout), &sent);
  if (err != 0) {
    char detail[96];
    snprintf(detail, sizeof(detail), "sent %zu of %zu bytes", sent, len);
    return vt_throw_sys(env, "sendmsg", err, detail);
  }
  return vt_int(env, (int64_t)len);
}

/*
 * Receives once, waiting for readability as needed (shared by recvSync and
 * transact). `try_first` attempts the receive before polling: right for
 * recvSync, where data is often there already, wasted for transact, whose
 * reply is rarely there the moment the request has gone.
 */
static napi_value recv_blocking(napi_env env, const char *syscall, int fd, uint8_t *p, size_t len, int32_t *fds,
                                size_t cap, int timeout, int64_t deadline, bool try_first) {
  size_t nfds;
  bool ctrunc;
  ssize_t n;
  for (;;) {
    if (try_first) {
      n = recv_some(fd, p, len, fds, cap, &nfds, &ctrunc);
      if (n >= 0) break;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return vt_throw_sys(env, "recvmsg", errno, NULL);
    }
    try_first = true;
    int err = wait_fd(fd, POLLIN, deadline);
    if (err == ETIMEDOUT) {
      char detail[64];
      snprintf(detail, sizeof(detail), "no data within %d ms", timeout);
      return vt_throw_sys(env, syscall, ETIMEDOUT, detail);
    }
    if (err != 0) return vt_throw_sys(env, syscall, err, NULL);
  }
  if (ctrunc) return throw_ctrunc(env, "recvmsg", cap, n);
  vt_status_set(env, VT_STATUS_FDS, (int32_t)nfds);
  return vt_int(env, n);
}

/*
 * recvSync(fd, buf, offset, length, fdsOut?, timeoutMs = -1) -> bytes.
 * Blocks until at least one byte (or end of stream: 0) can be received.
 */
static napi_value unix_recv_sync(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 6);
  int fd, timeout;
  uint8_t *p;
  int32_t *fds;
  size_t len, cap;
  vt_status_set(env, VT_STATUS_FDS, 0);
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_range(env, argv[1], argv[2], argv[3], "buffer", &p, &len) ||
      !vt_arg_int32array(env, argv[4], "fdsOut", &fds, &cap) || !vt_arg_timeout(env, argv[5], "timeoutMs", &timeout))
    return NULL;
  if (len == 0) return vt_throw_range(env, "receive range must hold at least one byte");
  return recv_blocking(env, "recvSync", fd, p, len, fds, cap, timeout, vt_deadline(timeout), true);
}

/*
 * transact(fd, sbuf, soff, slen, sfds?, rbuf, roff, rlen, rfdsOut?, timeoutMs = -1) -> bytes.
 * The synchronous request/reply primitive: sends the whole request (with its
 * fds), then waits until the reply starts to arrive and receives what is
 * there (at least one byte; 0 = the peer closed). One deadline covers both
 * halves; it passing throws ETIMEDOUT. Allocates nothing.
 */
static napi_value unix_transact(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 10);
  int fd, timeout, sfds[VT_MAX_FDS], err;
  uint8_t *sp, *rp;
  int32_t *rfds;
  size_t slen, snfds, rlen, rcap, sent;
  int64_t deadline;
  vt_status_set(env, VT_STATUS_FDS, 0);
  if (!vt_arg_fd(env, argv[0], "fd", &fd) ||
      !vt_arg_range(env, argv[1], argv[2], argv[3], "request buffer", &sp, &slen) ||
      !vt_arg_fd_list(env, argv[4], "fds", sfds, &snfds) ||
      !vt_arg_range(env, argv[5], argv[6], argv[7], "reply buffer", &rp, &rlen) ||
      !vt_arg_int32array(env, argv[8], "fdsOut", &rfds, &rcap) ||
      !vt_arg_timeout(env, argv[9], "timeoutMs", &timeout))
    return NULL;
  if (snfds > 0 && slen == 0) return vt_throw_range(env, "fds must travel with at least one byte");
  if (rlen == 0) return vt_throw_range(env, "reply range must hold at least one byte");
  deadline = vt_deadline(timeout);
  err = send_all(fd, sp, slen, sfds, snfds, deadline, &sent);
  if (err == ETIMEDOUT) {
    char detail[96];
    snprintf(detail, sizeof(detail), "request not sent within %d ms (%zu of %zu bytes)", timeout, sent, slen);
    return vt_throw_sys(env, "transact", ETIMEDOUT, detail);
  }
  if (err != 0) return vt_throw_sys(env, "sendmsg", err, NULL);
  return recv_blocking(env, "transact", fd, rp, rlen, rfds, rcap, timeout, deadline, false);
}

/* peerCred(fd) -> {pid, uid, gid} of the peer (SO_PEERCRED). */
static napi_value unix_peer_cred(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  int fd;
  struct ucred cred;
  socklen_t len = sizeof(cred);
  napi_value obj;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
    return vt_throw_sys(env, "getsockopt", errno, "SO_PEERCRED");
  if (napi_create_object(env, &obj) != napi_ok ||
      napi_set_named_property(env, obj, "pid", vt_int(env, cred.pid)) != napi_ok ||
      napi_set_named_property(env, obj, "uid", vt_int(env, cred.uid)) != napi_ok ||
      napi_set_named_property(env, obj, "gid", vt_int(env, cred.gid)) != napi_ok)
    return NULL;
  return obj;
}

/* shutdown(fd, how = SHUT_RDWR). */
static napi_value unix_shutdown(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int fd;
  int64_t how = SHUT_RDWR;
  napi_valuetype t;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  if (napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_int(env, argv[1], "how", SHUT_RD, SHUT_RDWR, &how)) return NULL;
  if (shutdown(fd, (int)how) < 0) return vt_throw_sys(env, "shutdown", errno, NULL);
  return vt_undefined(env);
}

bool vt_register_unix_socket(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {
      {"unixListen", unix_listen}, {"unixAccept", unix_accept},     {"unixConnect", unix_connect},
      {"socketpair", unix_socketpair}, {"sendmsg", unix_sendmsg},   {"recvmsg", unix_recvmsg},
      {"sendAll", unix_send_all},  {"recvSync", unix_recv_sync},    {"transact", unix_transact},
      {"peerCred", unix_peer_cred}, {"shutdown", unix_shutdown},
  };
  return vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns)) && vt_export_int(env, exports, "SHUT_RD", SHUT_RD) &&
         vt_export_int(env, exports, "SHUT_WR", SHUT_WR) && vt_export_int(env, exports, "SHUT_RDWR", SHUT_RDWR) &&
         vt_export_int(env, exports, "SCM_MAX_FD", VT_MAX_FDS);
}
