/*
 * Argument readers and result helpers.
 *
 * JavaScript hands us numbers, bigints, strings, buffers and fd lists; each
 * reader checks the type (TypeError) and the range (RangeError) before any
 * system call sees the value, so bad input never reaches the kernel as a wild
 * pointer or length. Buffers are read in place (no copy): TypedArray,
 * DataView and ArrayBuffer all give a pointer to their bytes, which stays put
 * while the call runs.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <limits.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "common.h"

#define MAX_SAFE_INTEGER 9007199254740991.0 /* 2^53 - 1 */

static bool is_type(napi_env env, napi_value v, napi_valuetype want) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && t == want;
}

static bool is_nullish(napi_env env, napi_value v) {
  napi_valuetype t;
  return napi_typeof(env, v, &t) == napi_ok && (t == napi_undefined || t == napi_null);
}

bool vt_arg_int(napi_env env, napi_value v, const char *name, int64_t min, int64_t max, int64_t *out) {
  double d;
  if (!is_type(env, v, napi_number)) {
    vt_throw_type(env, "%s must be a number", name);
    return false;
  }
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (!isfinite(d) || floor(d) != d || fabs(d) > MAX_SAFE_INTEGER) {
    vt_throw_range(env, "%s must be a safe integer, got %g", name, d);
    return false;
  }
  if ((int64_t)d < min || (int64_t)d > max) {
    vt_throw_range(env, "%s must be in [%lld, %lld], got %lld", name, (long long)min, (long long)max,
                   (long long)d);
    return false;
  }
  *out = (int64_t)d;
  return true;
}

bool vt_arg_fd(napi_env env, napi_value v, const char *name, int *out) {
  int64_t fd;
  if (!is_type(env, v, napi_number)) {
    vt_throw_type(env, "%s must be an fd (integer number)", name);
    return false;
  }
  if (!vt_arg_int(env, v, name, INT_MIN, INT_MAX, &fd)) return false;
  *out = (int)fd;
  return true;
}

bool vt_arg_u64(napi_env env, napi_value v, const char *name, uint64_t *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_bigint) {
    bool lossless = false;
    if (napi_get_value_bigint_uint64(env, v, out, &lossless) != napi_ok) return false;
    if (!lossless) {
      vt_throw_range(env, "%s must be in [0, 2^64)", name);
      return false;
    }
    return true;
  }
  if (t == napi_number) {
    int64_t n;
    if (!vt_arg_int(env, v, name, 0, INT64_MAX, &n)) return false;
    *out = (uint64_t)n;
    return true;
  }
  vt_throw_type(env, "%s must be a number or bigint", name);
  return false;
}

bool vt_arg_off(napi_env env, napi_value v, const char *name, int64_t *out) {
  uint64_t u;
  if (!vt_arg_u64(env, v, name, &u)) return false;
  if (u > (uint64_t)INT64_MAX) {
    vt_throw_range(env, "%s must be below 2^63", name);
    return false;
  }
  *out = (int64_t)u;
  return true;
}

bool vt_arg_timeout(napi_env env, napi_value v, const char *name, int *out) {
  double d;
  if (is_nullish(env, v)) {
    *out = -1;
    return true;
  }
  if (!is_type(env, v, napi_number)) {
    vt_throw_type(env, "%s must be a number of milliseconds", name);
    return false;
  }
  if (napi_get_value_double(env, v, &d) != napi_ok) return false;
  if (d == -1 || d == INFINITY) {
    *out = -1;
  } else if (isnan(d) || d < 0) {
    vt_throw_range(env, "%s must be >= 0, -1 or Infinity (forever), got %g", name, d);
    return false;
  } else {
    d = ceil(d);
    *out = d > INT_MAX ? INT_MAX : (int)d;
  }
  return true;
}

bool vt_arg_bool(napi_env env, napi_value v, const char *name, bool dflt, bool *out) {
  napi_valuetype t;
  if (napi_typeof(env, v, &t) != napi_ok) return false;
  if (t == napi_undefined) {
    *out = dflt;
    return true;
  }
  if (t != napi_boolean) {
    vt_throw_type(env, "%s must be a boolean", name);
    return false;
  }
  return napi_get_value_bool(env, v, out) == napi_ok;
}

static size_t element_size(napi_typedarray_type t) {
  switch (t) {
    case napi_int8_array:
    case napi_uint8_array:
    case napi_uint8_clamped_array:
      return 1;
    case napi_int16_array:
    case napi_uint16_array:
      return 2;
    case napi_int32_array:
    case napi_uint32_array:
    case napi_float32_array:
      return 4;
    default:
      return 8;
  }
}

bool vt_arg_bytes(napi_env env, napi_value v, const char *name, uint8_t **data, size_t *len) {
  bool is;
  void *p = NULL;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    napi_typedarray_type t;
    size_t n;
    if (napi_get_typedarray_info(env, v, &t, &n, &p, NULL, NULL) != napi_ok) return false;
    *len = n * element_size(t);
  } else if (napi_is_dataview(env, v, &is) == napi_ok && is) {
    if (napi_get_dataview_info(env, v, len, &p, NULL, NULL) != napi_ok) return false;
  } else if (napi_is_arraybuffer(env, v, &is) == napi_ok && is) {
    if (napi_get_arraybuffer_info(env, v, &p, len) != napi_ok) return false;
  } else {
    vt_throw_type(env, "%s must be a Buffer, TypedArray, DataView or ArrayBuffer", name);
    return false;
  }
  /* A detached buffer reports no data: treat it as empty. */
  if (p == NULL) *len = 0;
  *data = p;
  return true;
}

bool vt_arg_range(napi_env env, napi_value buf, napi_value off, napi_value len, const char *name,
                  uint8_t **data, size_t *size) {
  uint8_t *p;
  size_t total;
  int64_t o = 0, l;
  if (!vt_arg_bytes(env, buf, name, &p, &total)) return false;
  if (!is_nullish(env, off) && !vt_arg_int(env, off, "offset", 0, INT64_MAX, &o)) return false;
  if ((uint64_t)o > total) {
    vt_throw_range(env, "%s: offset %lld is past the end (%zu bytes)", name, (long long)o, total);
    return false;
  }
  if (is_nullish(env, len)) {
    l = (int64_t)(total - (size_t)o);
  } else if (!vt_arg_int(env, len, "length", 0, INT64_MAX, &l)) {
    return false;
  }
  if ((uint64_t)l > total - (size_t)o) {
    vt_throw_range(env, "%s: range [%lld, +%lld) exceeds the buffer (%zu bytes)", name, (long long)o,
                   (long long)l, total);
    return false;
  }
  *data = p + o;
  *size = (size_t)l;
  return true;
}

bool vt_arg_int32array(napi_env env, napi_value v, const char *name, int32_t **data, size_t *count) {
  bool is;
  napi_typedarray_type t;
  void *p = NULL;
  size_t n = 0;
  if (is_nullish(env, v)) {
    *data = NULL;
    *count = 0;
    return true;
  }
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is ||
      napi_get_typedarray_info(env, v, &t, &n, &p, NULL, NULL) != napi_ok || t != napi_int32_array) {
    vt_throw_type(env, "%s must be an Int32Array or null", name);
    return false;
  }
  *data = p;
  *count = p == NULL ? 0 : n;
  return true;
}

bool vt_arg_fd_list(napi_env env, napi_value v, const char *name, int fds[VT_MAX_FDS], size_t *count) {
  bool is;
  *count = 0;
  if (is_nullish(env, v)) return true;
  if (napi_is_typedarray(env, v, &is) == napi_ok && is) {
    int32_t *p;
    size_t n;
    if (!vt_arg_int32array(env, v, name, &p, &n)) return false;
    if (n > VT_MAX_FDS) {
      vt_throw_range(env, "%s: at most %d fds per message, got %zu", name, VT_MAX_FDS, n);
      return false;
    }
    memcpy(fds, p, n * sizeof(int));
    *count = n;
    return true;
  }
  if (napi_is_array(env, v, &is) == napi_ok && is) {
    uint32_t n;
    if (napi_get_array_length(env, v, &n) != napi_ok) return false;
    if (n > VT_MAX_FDS) {
      vt_throw_range(env, "%s: at most %d fds per message, got %u", name, VT_MAX_FDS, n);
      return false;
    }
    for (uint32_t i = 0; i < n; i++) {
      napi_value e;
      if (napi_get_element(env, v, i, &e) != napi_ok || !vt_arg_fd(env, e, name, &fds[i])) return false;
    }
    *count = n;
    return true;
  }
  vt_throw_type(env, "%s must be an array of fds, an Int32Array or null", name);
  return false;
}

bool vt_arg_string(napi_env env, napi_value v, const char *name, char *buf, size_t cap) {
  size_t len;
  if (!is_type(env, v, napi_string)) {
    vt_throw_type(env, "%s must be a string", name);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, NULL, 0, &len) != napi_ok) return false;
  if (len >= cap) {
    vt_throw_range(env, "%s is too long (%zu bytes, at most %zu)", name, len, cap - 1);
    return false;
  }
  if (napi_get_value_string_utf8(env, v, buf, cap, &len) != napi_ok) return false;
  if (strlen(buf) != len) {
    vt_throw_range(env, "%s must not contain NUL characters", name);
    return false;
  }
  return true;
}

napi_value vt_int(napi_env env, int64_t v) {
  napi_value r = NULL;
  napi_create_int64(env, v, &r);
  return r;
}

napi_value vt_undefined(napi_env env) {
  napi_value r = NULL;
  napi_get_undefined(env, &r);
  return r;
}

napi_value vt_bool(napi_env env, bool v) {
  napi_value r = NULL;
  napi_get_boolean(env, v, &r);
  return r;
}

int64_t vt_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t vt_deadline(int timeout_ms) {
  if (timeout_ms < 0) return -1;
  return vt_now_ns() + (int64_t)timeout_ms * 1000000;
}

int vt_ms_left(int64_t deadline_ns) {
  int64_t left;
  if (deadline_ns < 0) return -1;
  left = deadline_ns - vt_now_ns();
  if (left <= 0) return 0;
  left = (left + 999999) / 1000000;
  return left > INT_MAX ? INT_MAX : (int)left;
}
