/*
 * Shared memory: memfd_create and mmap.
 *
 * A mapping is handed to JavaScript as an external ArrayBuffer over the
 * mapped pages, so typed-array views read and write the memory directly
 * (device BARs, guest RAM shared by a vfio-user client, DMA buffers). Each
 * mapping is a vt_mapping {addr, len, unmapped}:
 *   - munmap(buffer) detaches the ArrayBuffer first (every view then has
 *     length 0 and reads undefined: no access can reach the unmapped pages)
 *     and then unmaps; a second munmap is a no-op returning false;
 *   - when the ArrayBuffer is collected, its finalizer unmaps unless that was
 *     done already, then frees the struct.
 * The ArrayBuffer is type-tagged and wrapped with its vt_mapping so that
 * munmap accepts only buffers made here.
 *
 * Memory past the end of the file behind a mapping raises SIGBUS when
 * touched, as in C: size the file (ftruncate) before mapping it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <limits.h>
#include <linux/memfd.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

typedef struct vt_mapping {
  void *addr;
  size_t len;
  bool unmapped;
} vt_mapping;

static const napi_type_tag MAPPING_TAG = {0x7666696f2d74735fULL, 0x6d617070696e67ULL};

/* The largest mapping handed out as one ArrayBuffer: Node 20 builds external
 * ArrayBuffers as Buffers, whose limit is 2^32 bytes (buffer.constants.MAX_LENGTH).
 * Larger regions are mapped in pieces. */
#define MAX_MAPPING ((uint64_t)1 << 32)

static void mapping_finalize(napi_env env, void *data, void *hint) {
  vt_mapping *m = hint;
  (void)env;
  (void)data;
  if (!m->unmapped) munmap(m->addr, m->len);
  free(m);
}

/* Wraps mapped pages in an ArrayBuffer that owns them. */
static napi_value wrap_mapping(napi_env env, void *addr, size_t len) {
  napi_value ab;
  vt_mapping *m = malloc(sizeof(*m));
  if (m == NULL) {
    munmap(addr, len);
    return vt_throw_sys(env, "mmap", ENOMEM, NULL);
  }
  m->addr = addr;
  m->len = len;
  m->unmapped = false;
  if (napi_create_external_arraybuffer(env, addr, len, mapping_finalize, m, &ab) != napi_ok) {
    /* Node calls the finalizer itself when it fails to build the buffer
     * (it cannot fail earlier: no exception is pending here), so the pages
     * and m are already released. */
    return NULL;
  }
  /* Past this point the finalizer owns the mapping. */
  if (napi_type_tag_object(env, ab, &MAPPING_TAG) != napi_ok || napi_wrap(env, ab, m, NULL, NULL, NULL) != napi_ok)
    return NULL;
  return ab;
}

static bool arg_prot(napi_env env, napi_value v, int *prot) {
  int64_t p;
  if (!vt_arg_int(env, v, "prot", 0, PROT_READ | PROT_WRITE, &p)) return false;
  if (p & ~(int64_t)(PROT_READ | PROT_WRITE)) {
    vt_throw_range(env, "prot must combine PROT_READ and PROT_WRITE only");
    return false;
  }
  *prot = (int)p;
  return true;
}

static bool arg_length(napi_env env, napi_value v, size_t *len) {
  uint64_t l;
  if (!vt_arg_u64(env, v, "length", &l)) return false;
  if (l == 0 || l > MAX_MAPPING) {
    vt_throw_range(env, "length must be in [1, 2^32], got %llu", (unsigned long long)l);
    return false;
  }
  *len = (size_t)l;
  return true;
}

/* mmap(fd, offset, length, prot) -> ArrayBuffer over a MAP_SHARED mapping. */
static napi_value mem_mmap(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 4);
  int fd, prot;
  int64_t offset;
  size_t len;
  void *addr;
  if (!vt_arg_fd(env, argv[0], "fd", &fd) || !vt_arg_off(env, argv[1], "offset", &offset) ||
      !arg_length(env, argv[2], &len) || !arg_prot(env, argv[3], &prot))
    return NULL;
  addr = mmap(NULL, len, prot, MAP_SHARED, fd, (off_t)offset);
  if (addr == MAP_FAILED) return vt_throw_sys(env, "mmap", errno, NULL);
  return wrap_mapping(env, addr, len);
}

/* mmapAnonymous(length, prot, shared = false) -> ArrayBuffer over fresh
 * zeroed pages (MAP_PRIVATE or MAP_SHARED). */
static napi_value mem_mmap_anonymous(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 3);
  int prot;
  bool shared;
  size_t len;
  void *addr;
  if (!arg_length(env, argv[0], &len) || !arg_prot(env, argv[1], &prot) ||
      !vt_arg_bool(env, argv[2], "shared", false, &shared))
    return NULL;
  addr = mmap(NULL, len, prot, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
  if (addr == MAP_FAILED) return vt_throw_sys(env, "mmap", errno, NULL);
  return wrap_mapping(env, addr, len);
}

/* munmap(buffer) -> true if it unmapped now, false if it was already. */
static napi_value mem_munmap(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  bool tagged = false, is_ab = false;
  void *data = NULL;
  vt_mapping *m;
  if (napi_is_arraybuffer(env, argv[0], &is_ab) != napi_ok) return NULL;
  if (!is_ab || napi_check_object_type_tag(env, argv[0], &MAPPING_TAG, &tagged) != napi_ok || !tagged ||
      napi_unwrap(env, argv[0], &data) != napi_ok || data == NULL)
    return vt_throw_type(env, "munmap: not an ArrayBuffer made by mmap");
  m = data;
  if (m->unmapped) return vt_bool(env, false);
  /* Detach first so that nothing in JavaScript can reach the pages. */
  if (napi_detach_arraybuffer(env, argv[0]) != napi_ok) return NULL;
  m->unmapped = true;
  if (munmap(m->addr, m->len) < 0) return vt_throw_sys(env, "munmap", errno, NULL);
  return vt_bool(env, true);
}

/* addressOf(bufferOrView) -> the address of its first byte as a bigint
 * (0n for a detached buffer). Needed for VFIO_IOMMU_MAP_DMA's vaddr. */
static napi_value mem_address_of(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 1);
  uint8_t *p;
  size_t len;
  napi_value r;
  if (!vt_arg_bytes(env, argv[0], "buffer", &p, &len)) return NULL;
  if (napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)p, &r) != napi_ok) return NULL;
  return r;
}

/* memfdCreate(name, flags = 0) -> fd. flags: MFD_ALLOW_SEALING, MFD_HUGETLB
 * (with an optional MFD_HUGE_* size); MFD_CLOEXEC is always added. */
static napi_value mem_memfd_create(napi_env env, napi_callback_info info) {
  VT_ARGS(env, info, 2);
  char name[250]; /* the kernel's limit: NAME_MAX minus "memfd:" */
  int64_t flags = 0;
  const int64_t allowed = MFD_ALLOW_SEALING | MFD_HUGETLB | ((int64_t)MFD_HUGE_MASK << MFD_HUGE_SHIFT);
  napi_valuetype t;
  int fd;
  if (!vt_arg_string(env, argv[0], "name", name, sizeof(name)) || napi_typeof(env, argv[1], &t) != napi_ok) return NULL;
  if (t != napi_undefined && !vt_arg_int(env, argv[1], "flags", 0, UINT32_MAX, &flags)) return NULL;
  if (flags & ~allowed) return vt_throw_range(env, "unknown memfd flags 0x%llx", (unsigned long long)(flags & ~allowed));
  fd = memfd_create(name, (unsigned int)flags | MFD_CLOEXEC);
  if (fd < 0) return vt_throw_sys(env, "memfd_create", errno, name);
  return vt_int(env, fd);
}

bool vt_register_memory(napi_env env, napi_value exports) {
  static const vt_fn fns[] = {
      {"mmap", mem_mmap},           {"mmapAnonymous", mem_mmap_anonymous},   {"munmap", mem_munmap},
      {"addressOf", mem_address_of}, {"memfdCreate", mem_memfd_create},
  };
  return vt_export_fns(env, exports, fns, VT_ARRAY_LEN(fns)) && vt_export_int(env, exports, "PROT_READ", PROT_READ) &&
         vt_export_int(env, exports, "PROT_WRITE", PROT_WRITE) &&
         vt_export_int(env, exports, "MFD_ALLOW_SEALING", MFD_ALLOW_SEALING) &&
         vt_export_int(env, exports, "MFD_HUGETLB", MFD_HUGETLB) &&
         vt_export_int(env, exports, "MFD_HUGE_2MB", MFD_HUGE_2MB) &&
         vt_export_int(env, exports, "MFD_HUGE_1GB", MFD_HUGE_1GB) &&
         vt_export_int(env, exports, "PAGE_SIZE", sysconf(_SC_PAGESIZE));
}
