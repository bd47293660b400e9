// The basis a patch job copies from. librsync asks for basis bytes through a callback
// (rs_copy_cb) from inside rs_job_iter, which runs on a libuv worker thread, so the
// callback must never call into JavaScript. Two kinds of basis can be read from C
// directly: an open file, by its descriptor (pread, which has no shared file offset, so
// several patches may read one descriptor at once), and bytes in memory, which the job
// keeps alive with a reference for as long as it can still read them.
#pragma once

#include <librsync.h>

#include <cstddef>
#include <cstdint>

namespace ibt {

struct Basis {
  // Open file descriptor to pread from, or -1 for an in-memory basis.
  int fd = -1;
  // In-memory basis: its bytes (owned by a JavaScript Uint8Array the job references).
  const uint8_t* data = nullptr;
  size_t size = 0;

  // librsync's copy callback; `opaque` is a Basis*.
  static rs_result Copy(void* opaque, rs_long_t pos, size_t* len, void** buf);
};

}  // namespace ibt
