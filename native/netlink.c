/*
 * Kernel uevents: an AF_NETLINK / NETLINK_KOBJECT_UEVENT datagram socket
 * bound to the kernel's multicast group 1, over which the kernel announces
 * device additions, removals, driver binds and unbinds
 * ("ACTION@DEVPATH\0KEY=VALUE\0..."). Listening needs no privilege.
 *
 * Only datagrams whose sender is the kernel (nl_pid == 0) are returned: any
 * process may send on this protocol (udev rebroadcasts on group 2, but a
 * local process could also target our port), so others are dropped here.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <linux/netlink.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common.h"

/* The kernel's uevent multicast group (udev's own broadcasts use group 2). */
#define VT_UEVENT_GROUP_KERNEL 1u

/* ueventOpen(rcvbuf = 0) -> fd. SOCK_CLOEXEC | SOCK_NONBLOCK. rcvbuf > 0 asks
 * for that receive buffer size (SO_RCVBUF, capped by the kernel). */
static napi_value uevent_open(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  int64_t rcvbuf = 0;
  napi_valuetype t;
  struct sockaddr_nl addr;
  int fd, err;
  if (napi_typeof(env, argv[0], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_int(env, argv[0], "rcvbuf", 0, INT32_MAX, &rcvbuf)) return NULL;
  fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_KOBJECT_UEVENT);
  if (fd < 0) return vt_throw_sys(env, "socket", errno, "AF_NETLINK NETLINK_KOBJECT_UEVENT");
  if (rcvbuf > 0) {
    int size = (int)rcvbuf;
    /* Best effort: a smaller buffer only means events may be lost (ENOBUFS). */
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
  memset(&addr, 0, sizeof(addr));
  addr.nl_family = AF_NETLINK;
  addr.nl_pid = 0; /* let the kernel pick our port id */
  addr.nl_groups = VT_UEVENT_GROUP_KERNEL;
  if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
    err = errno;
    close(fd);
    return vt_throw_sys(env, "bind", err, "netlink uevent group 1");
  }
  return vt_int(env, fd);
}

/*
 * ueventRecv(fd, buf, offset?, length?) -> the datagram's length, or -1 when
 * nothing (from the kernel) is pending. Datagrams from any other sender are
 * read and dropped. A datagram longer than the range is truncated to it
 * (MSG_TRUNC is not reported: uevents are at most 8 KiB, UEVENT_BUFFER_SIZE
 * 2048 bytes of environment plus the header, so an 8 KiB buffer is enough).
 * ENOBUFS (the receive queue overflowed: events were lost) is thrown.
 */
static napi_value uevent_recv(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 4);
  int fd;
  uint8_t *data;
  size_t size;
  if (!vt_arg_fd(env, argv[0], "fd", &fd)) return NULL;
  if (!vt_arg_range(env, argv[1], argv[2], argv[3], "buf", &data, &size)) return NULL;
  for (;;) {
    struct sockaddr_nl src;
    struct iovec iov = {.iov_base = data, .iov_len = size};
    struct msghdr msg;
    ssize_t n;
    memset(&src, 0, sizeof(src));
    memset(&msg, 0, sizeof(msg));
    msg.msg_name = &src;
    msg.msg_namelen = sizeof(src);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    n = recvmsg(fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return vt_int(env, -1);
    if (n < 0) return vt_throw_sys(env, "recvmsg", errno, "netlink uevent");
    if (msg.msg_namelen < sizeof(src) || src.nl_family != AF_NETLINK || src.nl_pid != 0) continue; /* not the kernel */
    return vt_int(env, n);
  }
}

bool vt_register_netlink(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {{"ueventOpen", uevent_open}, {"ueventRecv", uevent_recv}};
  return vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns));
}
