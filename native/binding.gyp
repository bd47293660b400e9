# Builds the optional native engine: librsync through N-API (node-addon-api).
# Run through `npm run build:native`, never at install time. Links the system's shared
# librsync (Debian's static one is not PIC); there is no pkg-config file, so plain -lrsync.
{
  "targets": [
    {
      "target_name": "ibt_librsync",
      "sources": [
        "src/addon.cc",
        "src/args.cc",
        "src/basis.cc",
        "src/copy_range.cc",
        "src/delta_index.cc",
        "src/file_signature.cc",
        "src/fsops.cc",
        "src/job.cc",
        "src/trace.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra"],
      "libraries": ["-lrsync"]
    }
  ]
}
