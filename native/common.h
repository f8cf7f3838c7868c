/*
 * Shared declarations of the vfio_ts addon.
 *
 * The addon is a thin layer over the Linux system calls that Node lacks: UNIX
 * sockets with fd passing, a generic fd watcher on the event loop, eventfd,
 * memfd, mmap, ioctl and positioned I/O. Each concern lives in its own file
 * and exports its functions through a vt_register_* hook called at module
 * initialisation.
 *
 * Conventions, kept by every function the addon exports:
 *   - a failing system call throws the error built by the factory that the
 *     TypeScript side registered (an instance of SysError), never a crash;
 *   - an argument of the wrong type throws TypeError, an out-of-range value
 *     (offset, length, count) throws RangeError;
 *   - every fd the addon creates carries O_CLOEXEC; sockets are non-blocking;
 *   - hot paths (send, receive, transact) only read caller-provided buffers
 *     and return small integers, so they allocate nothing on the JS heap.
 *
 * errno must be saved right after the failing call: napi calls may clobber it.
 */
#ifndef VFIO_TS_COMMON_H
#define VFIO_TS_COMMON_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <node_api.h>

/* The kernel's limit on fds in one SCM_RIGHTS message (SCM_MAX_FD). */
#define VT_MAX_FDS 253

/* Per-environment state (napi instance data): one per main thread / worker. */
typedef struct vt_state {
  napi_ref error_factory; /* (syscall, errno, detail?) => Error, set from JS */
  napi_ref status_ref;    /* Int32Array shared with JS, see vt_status() */
  int32_t *status;        /* its data; never moves while status_ref lives */
} vt_state;

/* Slots of the shared status array. */
#define VT_STATUS_FDS 0 /* number of fds stored by the last receive */
#define VT_STATUS_LEN 4

vt_state *vt_state_get(napi_env env);

/* Writes `value` into a slot of the shared status array. */
void vt_status_set(napi_env env, int slot, int32_t value);

/*
 * Throwing. Each returns NULL so that a napi callback can end with
 * `return vt_throw_...(...)`. vt_throw_sys builds a SysError through the
 * registered factory (falling back to a plain Error with `code` set).
 */
napi_value vt_throw_sys(napi_env env, const char *syscall, int err, const char *detail);
/* "EINVAL" for EINVAL; NULL for a number the C library does not name (errno_names.c). */
const char *vt_errno_name(int err);
napi_value vt_throw_type(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
napi_value vt_throw_range(napi_env env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether an exception is pending (for example thrown by an argument check). */
bool vt_pending(napi_env env);

/*
 * Argument readers. Each returns false after throwing TypeError/RangeError.
 * `name` names the argument in the error message.
 */

/* An fd: an integer number. Negative or closed fds are left to the kernel
 * (which answers EBADF). */
bool vt_arg_fd(napi_env env, napi_value v, const char *name, int *out);

/* An integer number within [min, max]. */
bool vt_arg_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out);

/* An integer number or bigint within [0, 2^64). Numbers must be exact. */
bool vt_arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out);

/* Like vt_arg_u64 but at most INT64_MAX (file offsets, sizes). */
bool vt_arg_off(napi_env env, napi_value v, const char *name, int64_t *out);

/* A timeout in ms: undefined, -1 or Infinity mean forever (-1 out). */
bool vt_arg_timeout(napi_env env, napi_value v, const char *name, int *out);

/* A boolean; undefined gives `dflt`. */
bool vt_arg_bool(napi_env env, napi_value v, const char *name, bool dflt, bool *out);

/* The bytes of an ArrayBuffer, TypedArray (Buffer, Uint8Array...) or DataView. */
bool vt_arg_bytes(napi_env env, napi_value v, const char *name, uint8_t **data, size_t *len);

/*
 * A byte range: buffer, offset (undefined = 0) and length (undefined = the
 * rest of the buffer). The range must lie inside the buffer.
 */
bool vt_arg_range(napi_env env, napi_value buf, napi_value off, napi_value len, const char *name,
                  uint8_t **data, size_t *size);

/* An Int32Array (its storage, writable) or null/undefined (NULL, 0). */
bool vt_arg_int32array(napi_env env, napi_value v, const char *name, int32_t **data, size_t *count);

/*
 * A list of fds to send: undefined/null (none), an Int32Array or an Array of
 * integer numbers; at most VT_MAX_FDS. Copied into `fds`.
 */
bool vt_arg_fd_list(napi_env env, napi_value v, const char *name, int fds[VT_MAX_FDS], size_t *count);

/* A string copied as UTF-8 into buf; too long for cap -> RangeError. */
bool vt_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t cap);

/* Result helpers (never fail in practice; on failure an exception is pending). */
napi_value vt_int(napi_env env, int64_t v);
napi_value vt_undefined(napi_env env);
napi_value vt_bool(napi_env env, bool v);

/* Milliseconds left until `deadline_ns` (CLOCK_MONOTONIC), rounded up; -1 if
 * deadline_ns < 0 (forever). */
int64_t vt_now_ns(void);
int vt_ms_left(int64_t deadline_ns);
int64_t vt_deadline(int timeout_ms);

/*
 * Waiting without a timer per wait (wait.c). VT_WAIT_SIGNAL ends a ppoll
 * with EINTR; its handler does nothing.
 */
#define VT_WAIT_SIGNAL (SIGRTMIN + 9)
/* Installs the handler once per process; false if the signal is someone else's. */
bool vt_wait_signal_ready(void);
/* A timer that signals the calling thread, which from now on blocks the
 * signal; *wait_mask is its signal mask without it, for ppoll. */
bool vt_wait_timer_create(timer_t *timer, sigset_t *wait_mask);
/* Arms a timer to fire once after ns (> 0), or disarms it (0). */
void vt_wait_timer_arm(timer_t timer, int64_t ns);
/* Adds the functions in `defs` to `exports`. */
typedef struct vt_fn {
  const char *name;
  napi_callback fn;
} vt_fn;
bool vt_export_fns(napi_env env, napi_value exports, const vt_fn *defs, size_t n);
bool vt_export_int(napi_env env, napi_value obj, const char *name, int64_t v);

/* Per-concern registration, called once per environment. */
bool vt_register_fdops(napi_env env, napi_value exports);
bool vt_register_unix_socket(napi_env env, napi_value exports);
bool vt_register_watcher(napi_env env, napi_value exports);
bool vt_register_eventfd(napi_env env, napi_value exports);
bool vt_register_memory(napi_env env, napi_value exports);

/* Reads n arguments into argv; napi fills missing ones with undefined. */
#define VT_ARGS(env, info, n)                                                   \
  napi_value argv[n];                                                           \
  size_t argc = (n);                                                            \
  if (napi_get_cb_info((env), (info), &argc, argv, NULL, NULL) != napi_ok)      \
    return NULL;                                                                \
  (void)argc;

#define VT_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
