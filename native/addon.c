/*
 * Module initialisation and error reporting.
 *
 * Each environment (the main thread and every worker) gets its own vt_state
 * as napi instance data: the error factory registered by the TypeScript side
 * and a small Int32Array through which receive calls report how many fds they
 * stored, so that the hot paths return a plain integer and allocate nothing.
 *
 * Errors: C never invents JavaScript error classes. src/sys/native.ts calls
 * setErrorFactory((syscall, errno, detail) => new SysError(...)) at load time,
 * and vt_throw_sys calls that factory, so every system-call failure arrives
 * in JavaScript as an instance of SysError with `code` = errno name.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

/* netlink.c (declared here rather than in common.h). */
bool vt_register_netlink(napi_env env, napi_value exports);

vt_state *vt_state_get(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return data;
}

void vt_status_set(napi_env env, int slot, int32_t value) {
  vt_state *st = vt_state_get(env);
  if (st != NULL && st->status != NULL && slot >= 0 && slot < VT_STATUS_LEN) st->status[slot] = value;
}

bool vt_pending(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  return pending;
}

/* Calls the registered factory; false (with nothing thrown) if there is none
 * or it failed without throwing. */
static bool throw_via_factory(napi_env env, const char *syscall, int err, const char *detail) {
  vt_state *st = vt_state_get(env);
  napi_value factory, recv, args[3], error;
  if (st == NULL || st->error_factory == NULL) return false;
  if (napi_get_reference_value(env, st->error_factory, &factory) != napi_ok || factory == NULL) return false;
  if (napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &args[0]) != napi_ok ||
      napi_create_int32(env, err, &args[1]) != napi_ok)
    return false;
  if (detail != NULL) {
    if (napi_create_string_utf8(env, detail, NAPI_AUTO_LENGTH, &args[2]) != napi_ok) return false;
  } else {
    args[2] = vt_undefined(env);
  }
  recv = vt_undefined(env);
  if (napi_call_function(env, recv, factory, 3, args, &error) != napi_ok) {
    /* The factory threw: let that exception stand. */
    return vt_pending(env);
  }
  return napi_throw(env, error) == napi_ok;
}

napi_value vt_throw_sys(napi_env env, const char *syscall, int err, const char *detail) {
  char msg[512];
  const char *code;
  if (vt_pending(env)) return NULL;
  if (throw_via_factory(env, syscall, err, detail)) return NULL;
  /* No factory (the addon loaded without src/sys/native.ts): plain Error. */
  code = vt_errno_name(err);
  snprintf(msg, sizeof(msg), "%s failed: %s%s%s%s", syscall, code ? code : "unknown errno",
           detail ? " (" : "", detail ? detail : "", detail ? ")" : "");
  napi_throw_error(env, code ? code : "ESYSCALL", msg);
  return NULL;
}

napi_value vt_throw_type(napi_env env, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (!vt_pending(env)) napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return NULL;
}

napi_value vt_throw_range(napi_env env, const char *fmt, ...) {
  char msg[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  if (!vt_pending(env)) napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return NULL;
}

/* setErrorFactory(fn): registers the function that builds SysError objects. */
static napi_value set_error_factory(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  vt_state *st = vt_state_get(env);
  napi_valuetype type;
  if (napi_typeof(env, argv[0], &type) != napi_ok) return NULL;
  if (type != napi_function) return vt_throw_type(env, "setErrorFactory: factory must be a function");
  if (st == NULL) return vt_throw_type(env, "setErrorFactory: addon state missing");
  if (st->error_factory != NULL) {
    napi_delete_reference(env, st->error_factory);
    st->error_factory = NULL;
  }
  if (napi_create_reference(env, argv[0], 1, &st->error_factory) != napi_ok) return NULL;
  return vt_undefined(env);
}

static void state_finalize(napi_env env, void *data, void *hint) {
  vt_state *st = data;
  (void)hint;
  if (st->error_factory != NULL) napi_delete_reference(env, st->error_factory);
  if (st->status_ref != NULL) napi_delete_reference(env, st->status_ref);
  free(st);
}

/* Creates the shared status Int32Array and exports it as `status`. */
static bool make_status(napi_env env, vt_state *st, napi_value exports) {
  napi_value ab, arr;
  void *data;
  if (napi_create_arraybuffer(env, VT_STATUS_LEN * sizeof(int32_t), &data, &ab) != napi_ok) return false;
  if (napi_create_typedarray(env, napi_int32_array, VT_STATUS_LEN, ab, 0, &arr) != napi_ok) return false;
  if (napi_create_reference(env, arr, 1, &st->status_ref) != napi_ok) return false;
  st->status = data;
  memset(data, 0, VT_STATUS_LEN * sizeof(int32_t));
  return napi_set_named_property(env, exports, "status", arr) == napi_ok;
}

bool vt_export_fns(napi_env env, napi_value exports, const vt_fn *defs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    napi_value fn;
    if (napi_create_function(env, defs[i].name, NAPI_AUTO_LENGTH, defs[i].fn, NULL, &fn) != napi_ok) return false;
    if (napi_set_named_property(env, exports, defs[i].name, fn) != napi_ok) return false;
  }
  return true;
}

bool vt_export_int(napi_env env, napi_value obj, const char *name, int64_t v) {
  napi_value num;
  if (napi_create_int64(env, v, &num) != napi_ok) return false;
  return napi_set_named_property(env, obj, name, num) == napi_ok;
}

static napi_value init(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {{"setErrorFactory", set_error_factory}};
  vt_state *st = calloc(1, sizeof(*st));
  if (st == NULL) {
    napi_throw_error(env, "ENOMEM", "vfio_ts: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, st, state_finalize, NULL) != napi_ok) {
    free(st);
    return NULL;
  }
  if (!make_status(env, st, exports) || !vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns)) ||
      !vt_register_fdops(env, exports) || !vt_register_unix_socket(env, exports) ||
      !vt_register_watcher(env, exports) || !vt_register_eventfd(env, exports) ||
      !vt_register_memory(env, exports) || !vt_register_netlink(env, exports))
    return NULL;
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
