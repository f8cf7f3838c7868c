/*
 * A generic fd watcher on the event loop: a libuv poll handle on the
 * environment's own loop (napi_get_uv_event_loop), calling a JavaScript
 * callback with (status, events, round) when the fd becomes readable,
 * writable or hung up (round: 0 from the loop, k for the k-th lingering
 * call). A negative status is an error for which libuv stopped the handle
 * (it reports a socket's pending error, e.g. ECONNRESET, as UV_EBADF); the
 * watcher must then be started again to watch on. Used for listening and
 * connected sockets and for eventfds.
 *
 * Lifetime. A watcher is a JS object (napi_wrap'ed, type-tagged) owning one
 * uv_poll_t. While started, the object is held by a strong reference (like
 * any active Node handle) and the handle keeps the loop alive unless unref'ed;
 * once stopped, both the object and its callback are only weakly held, the
 * loop no longer waits for it, and an unreachable stopped watcher is closed by
 * its finalizer. close() is explicit and idempotent.
 *
 * The native struct outlives the JS object when needed: it is freed only once
 * both the uv close callback has run and the object was finalized, whichever
 * comes last. At environment teardown (process exit, worker exit) an async
 * cleanup hook per watcher closes its handle and waits for the close callback,
 * so a worker's loop is never closed with our handles still on it.
 *
 * libuv allows one poll handle per fd per loop, and the fd must be watched
 * stopped before it is closed; the TypeScript layer keeps that ordering.
 * Note that uv_poll_init puts the fd in non-blocking mode.
 *
 * Lingering (watcherLinger). A request/reply peer sends its next request a
 * few microseconds after our reply; going back to the event loop between the
 * two costs more than answering (epoll, Node's per-iteration work, a new
 * callback scope from the top). A lingering watcher that watches only for
 * READABLE waits, after its callback returns, for the fd to become readable
 * again and if it does calls the callback again right away, each call in its
 * own callback scope, so process.nextTick and promise jobs run between calls
 * exactly as they do between loop iterations. One such stretch of calls
 * lasts at most `budget` and `maxRounds` calls; it ends at once when the loop
 * has work due (immediates, pending callbacks, closing handles:
 * uv_backend_timeout is 0) or anything else it watches becomes ready (another
 * fd, a thread-pool completion, a signal), and never runs past the loop's
 * next timer. Only while the fd itself stays readable do the others wait, at
 * most `budget`.
 *
 * The wait is a ppoll, without a time-out, on the loop's own epoll fd
 * (uv_backend_fd): it is readable once any fd the loop watches is ready,
 * this one included, so one fd in the wait sees them all, and a zero-time
 * poll of this fd then tells which it was. The stretch is timed by a POSIX
 * timer armed once when it starts, whose signal (wait.c's VT_WAIT_SIGNAL,
 * directed at the loop's thread, blocked there except inside the wait)
 * interrupts the wait. Both obvious alternatives cost more than the loop trip
 * saved on a VM: a timed poll per wait arms a high-resolution timer each
 * time, and a timerfd polled beside it doubles the wait-queue work of every
 * wait. If the signal is someone else's, the watcher does not linger.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>

#include <uv.h>

#include "common.h"

typedef struct vt_watcher {
  uv_poll_t poll;
  napi_env env;
  napi_ref self;     /* the JS object: strong while started */
  napi_ref callback; /* strong while started; also a property of `self` */
  napi_async_context async;
  napi_async_cleanup_hook_handle cleanup;
  int events;        /* what uv_poll_start was last given (0: stopped) */
  int64_t linger_ns; /* 0: no lingering */
  timer_t timer;     /* times a lingering stretch (when has_timer) */
  sigset_t wait_mask; /* the thread's signal mask, VT_WAIT_SIGNAL unblocked */
  bool has_timer;
  uint32_t linger_rounds;
  bool started;
  bool closing; /* uv_close called */
  bool closed;  /* close callback ran, napi resources released */
  bool js_gone; /* the JS object was finalized */
} vt_watcher;

static const napi_type_tag WATCHER_TAG = {0x7666696f2d74735fULL, 0x77617463686572ULL};

static void maybe_free(vt_watcher *w) {
  if (w->closed && w->js_gone) free(w);
}

static void on_closed(uv_handle_t *h) {
  vt_watcher *w = h->data;
  napi_env env = w->env;
  if (w->callback != NULL) napi_delete_reference(env, w->callback);
  if (w->self != NULL) napi_delete_reference(env, w->self);
  if (w->async != NULL) napi_async_destroy(env, w->async);
  if (w->cleanup != NULL) napi_remove_async_cleanup_hook(w->cleanup);
  if (w->has_timer) timer_delete(w->timer);
  w->has_timer = false;
  w->callback = w->self = NULL;
  w->async = NULL;
  w->cleanup = NULL;
  w->closed = true;
  maybe_free(w);
}

/* Moves the references between strong (started) and weak (stopped). */
static void set_started(vt_watcher *w, bool started) {
  uint32_t count;
  if (w->started == started) return;
  w->started = started;
  if (started) {
    napi_reference_ref(w->env, w->self, &count);
    napi_reference_ref(w->env, w->callback, &count);
  } else {
    napi_reference_unref(w->env, w->self, &count);
    napi_reference_unref(w->env, w->callback, &count);
  }
}

static void start_close(vt_watcher *w) {
  if (w->closing) return;
  set_started(w, false);
  w->closing = true;
  uv_close((uv_handle_t *)&w->poll, on_closed);
}

static void on_teardown(napi_async_cleanup_hook_handle handle, void *arg) {
  vt_watcher *w = arg;
  (void)handle;
  start_close(w); /* on_closed removes the hook, which lets teardown go on */
}

static void on_finalize(napi_env env, void *data, void *hint) {
  vt_watcher *w = data;
  (void)env;
  (void)hint;
  w->js_gone = true;
  start_close(w);
  maybe_free(w);
}

/* Calls the JS callback once; false if it could not be called or threw. */
static bool call_back(vt_watcher *w, int status, int events, uint32_t round) {
  napi_env env = w->env;
  napi_handle_scope scope;
  napi_value cb, recv, argv[3], result;
  bool ok = false;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return false;
  if (napi_get_reference_value(env, w->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok && napi_create_int32(env, status, &argv[0]) == napi_ok &&
      napi_create_int32(env, events, &argv[1]) == napi_ok && napi_create_uint32(env, round, &argv[2]) == napi_ok) {
    if (napi_make_callback(env, w->async, recv, cb, 3, argv, &result) == napi_pending_exception) {
      /* The callback threw: report it like any uncaught exception. */
      napi_value error;
      if (napi_get_and_clear_last_exception(env, &error) == napi_ok) napi_fatal_exception(env, error);
    } else {
      ok = true;
    }
  }
  napi_close_handle_scope(env, scope);
  return ok;
}

/* The watcher's stretch timer, aimed at this (the loop's) thread; false if unavailable. */
static bool linger_timer(vt_watcher *w) {
  if (!w->has_timer) w->has_timer = vt_wait_timer_create(&w->timer, &w->wait_mask);
  return w->has_timer;
}

/*
 * After a callback of a lingering watcher: waits for the fd to be readable
 * again within the stretch (see the top of the file). `round` counts the
 * calls so far; *timeout0 is the loop's timer timeout when the stretch
 * started (INT_MIN before). A stretch that ends disarms its timer.
 */
static bool linger(vt_watcher *w, uint32_t round, int *timeout0) {
  uv_loop_t *loop = w->poll.loop;
  int timeout, fd, backend = uv_backend_fd(loop), r;
  bool go = w->linger_ns > 0 && !w->closing && w->started && w->events == UV_READABLE && round < w->linger_rounds;
  if (go) {
    timeout = uv_backend_timeout(loop); /* ms from the loop's time; -1: no timer */
    go = timeout != 0 && backend >= 0 && uv_fileno((uv_handle_t *)&w->poll, &fd) == 0;
    /* A callback that set a timer sooner than the loop's next one ends it too. */
    if (go && *timeout0 != INT_MIN) go = !(timeout > 0 && (*timeout0 < 0 || timeout < *timeout0));
  }
  if (!go) {
    if (*timeout0 != INT_MIN) vt_wait_timer_arm(w->timer, 0);
    return false;
  }
  if (*timeout0 == INT_MIN) {
    int64_t ns = w->linger_ns;
    if (timeout > 0 && (int64_t)timeout * 1000000 < ns) ns = (int64_t)timeout * 1000000;
    if (!linger_timer(w)) return false;
    vt_wait_timer_arm(w->timer, ns);
    *timeout0 = timeout;
  }
  struct pollfd loop_pfd = {.fd = backend, .events = POLLIN};
  for (;;) {
    r = ppoll(&loop_pfd, 1, NULL, &w->wait_mask);
    if (r > 0) {
      /* Something the loop watches is ready: this fd, or else the loop's turn. */
      struct pollfd pfd = {.fd = fd, .events = POLLIN};
      do {
        r = poll(&pfd, 1, 0);
      } while (r < 0 && errno == EINTR);
      if (r > 0 && !(pfd.revents & POLLNVAL)) return true;
      vt_wait_timer_arm(w->timer, 0);
      return false;
    }
    if (r < 0 && errno == EINTR) {
      struct itimerspec left;
      if (timer_gettime(w->timer, &left) == 0 && (left.it_value.tv_sec != 0 || left.it_value.tv_nsec != 0)) continue;
      return false; /* the stretch is over (its timer expired) */
    }
    vt_wait_timer_arm(w->timer, 0);
    return false;
  }
}

static void on_poll(uv_poll_t *h, int status, int events) {
  vt_watcher *w = h->data;
  int timeout0 = INT_MIN;
  uint32_t round = 0;
  if (w->closing) return;
  /* On an error (POLLERR without POLLPRI) libuv has stopped the handle
   * itself: mirror that so that the loop and GC no longer hold it. */
  if (status < 0) {
    set_started(w, false);
    w->events = 0;
  }
  if (!call_back(w, status, events, 0)) return;
  while (linger(w, ++round, &timeout0)) {
    if (!call_back(w, 0, UV_READABLE, round)) return;
  }
}

/* Unwraps a watcher argument; throws TypeError for anything else. */
static vt_watcher *get_watcher(napi_env env, napi_value v) {
  bool ok = false;
  void *w = NULL;
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return NULL;
  if (t != napi_object || napi_check_object_type_tag(env, v, &WATCHER_TAG, &ok) != napi_ok || !ok ||
      napi_unwrap(env, v, &w) != napi_ok || w == NULL) {
    vt_throw_type(env, "not a watcher");
    return NULL;
  }
  return w;
}

/*
 * watcherCreate(fd, callback(status, events, round)) -> watcher (stopped).
 * status is 0 or a negative errno (e.g. -EBADF) reported by the loop.
 */
static napi_value watcher_create(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int fd, rc;
  napi_valuetype t;
  napi_value obj, name;
  uv_loop_t *loop;
  vt_watcher *w;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_function) return vt_throw_type(env, "callback must be a function");
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) return NULL;
  w = calloc(1, sizeof(*w));
  if (w == NULL) return vt_throw_sys(env, "watcherCreate", ENOMEM, NULL);
  rc = uv_poll_init(loop, &w->poll, fd);
  if (rc != 0) {
    free(w);
    return vt_throw_sys(env, "uv_poll_init", -rc, NULL);
  }
  w->poll.data = w;
  w->env = env;
  /* From here on the handle is on the loop: failures must close it. */
  w->js_gone = true;
  if (napi_create_object(env, &obj) != napi_ok || napi_set_named_property(env, obj, "callback", argv[1]) != napi_ok ||
      napi_type_tag_object(env, obj, &WATCHER_TAG) != napi_ok ||
      napi_create_string_utf8(env, "vfio_ts:FdWatcher", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_async_init(env, obj, name, &w->async) != napi_ok ||
      napi_create_reference(env, argv[1], 0, &w->callback) != napi_ok ||
      napi_create_reference(env, obj, 0, &w->self) != napi_ok ||
      napi_add_async_cleanup_hook(env, on_teardown, w, &w->cleanup) != napi_ok) {
    w->closing = true;
    uv_close((uv_handle_t *)&w->poll, on_closed);
    return NULL;
  }
  if (napi_wrap(env, obj, w, on_finalize, NULL, NULL) != napi_ok) {
    start_close(w);
    return NULL;
  }
  w->js_gone = false;
  return obj;
}

/* watcherStart(w, events): (re)starts watching for `events` (UV_READABLE...). */
static napi_value watcher_start(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  int64_t events;
  int rc;
  vt_watcher *w = get_watcher(env, argv[0]);
  if (w == NULL || !vt_arg_int(env, argv[1], "events", 0, UV_READABLE | UV_WRITABLE | UV_DISCONNECT | UV_PRIORITIZED,
                               &events))
    return NULL;
  if (w->closing) return vt_throw_sys(env, "uv_poll_start", EBADF, "watcher is closed");
  if (events == 0) {
    uv_poll_stop(&w->poll);
    set_started(w, false);
    w->events = 0;
    return vt_undefined(env);
  }
  rc = uv_poll_start(&w->poll, (int)events, on_poll);
  if (rc != 0) return vt_throw_sys(env, "uv_poll_start", -rc, NULL);
  set_started(w, true);
  w->events = (int)events;
  return vt_undefined(env);
}

/* watcherStop(w): stops watching; the loop no longer waits for it. */
static napi_value watcher_stop(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  vt_watcher *w = get_watcher(env, argv[0]);
  if (w == NULL) return NULL;
  if (!w->closing) {
    uv_poll_stop(&w->poll);
    set_started(w, false);
    w->events = 0;
  }
  return vt_undefined(env);
}

/*
 * watcherLinger(w, budgetUs, maxRounds): after each callback, wait for the
 * fd to be readable again before giving the loop back, for at most budgetUs
 * and maxRounds calls per loop iteration (see the top of the file); a budget
 * of 0 turns it off.
 */
static napi_value watcher_linger(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 3);
  int64_t us, rounds;
  vt_watcher *w = get_watcher(env, argv[0]);
  if (w == NULL || !vt_arg_int(env, argv[1], "budgetUs", 0, 1000000, &us) ||
      !vt_arg_int(env, argv[2], "maxRounds", 1, 1000000, &rounds))
    return NULL;
  w->linger_ns = us * 1000;
  w->linger_rounds = (uint32_t)rounds;
  return vt_undefined(env);
}

/* watcherClose(w): stops and releases the handle; idempotent. */
static napi_value watcher_close(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  vt_watcher *w = get_watcher(env, argv[0]);
  if (w == NULL) return NULL;
  start_close(w);
  return vt_undefined(env);
}

/* watcherRef(w, on): whether an active watcher keeps the loop alive. */
static napi_value watcher_ref(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  bool on;
  vt_watcher *w = get_watcher(env, argv[0]);
  if (w == NULL || !vt_arg_bool(env, argv[1], "on", true, &on)) return NULL;
  if (!w->closing) {
    if (on)
      uv_ref((uv_handle_t *)&w->poll);
    else
      uv_unref((uv_handle_t *)&w->poll);
  }
  return vt_undefined(env);
}

bool vt_register_watcher(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {
      {"watcherCreate", watcher_create}, {"watcherStart", watcher_start}, {"watcherStop", watcher_stop},
      {"watcherClose", watcher_close},   {"watcherRef", watcher_ref},       {"watcherLinger", watcher_linger},
  };
  return vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns)) &&
         vt_export_int(env, exports, "UV_READABLE", UV_READABLE) &&
         vt_export_int(env, exports, "UV_WRITABLE", UV_WRITABLE) &&
         vt_export_int(env, exports, "UV_DISCONNECT", UV_DISCONNECT) &&
         vt_export_int(env, exports, "UV_PRIORITIZED", UV_PRIORITIZED) &&
         vt_export_int(env, exports, "WAIT_SIGNAL", VT_WAIT_SIGNAL);
}
