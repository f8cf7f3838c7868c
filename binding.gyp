{
  "targets": [
    {
      "target_name": "vfio_ts",
      "sources": [
        "native/addon.c",
        "native/args.c",
        "native/errno_names.c",
        "native/fdops.c",
        "native/unix_socket.c",
        "native/watcher.c",
        "native/eventfd.c",
        "native/memory.c",
        "native/netlink.c",
        "native/wait.c"
      ],
      "defines": ["NAPI_VERSION=8", "_GNU_SOURCE"],
      "cflags": ["-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"],
      "configurations": {
        "Release": {
          "cflags!": ["-O3"],
          "cflags": ["-O2"]
        }
      }
    }
  ]
}
