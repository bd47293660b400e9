// See basis.h. A COPY that reaches past the end of the basis copies what exists and then
// fails with RS_INPUT_ENDED, as rdiff's own file callback does: we hand back the bytes
// that exist, and librsync asks again for the rest, which is then found missing.
#include "basis.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "trace.h"

namespace ibt {

namespace {

rs_result PastEnd(rs_long_t pos) {
  SetLastError("a COPY command reads past the end of the basis, at offset " + std::to_string(pos));
  return RS_INPUT_ENDED;
}

rs_result CopyFromMemory(const Basis& basis, rs_long_t pos, size_t* len, void** buf) {
  if (static_cast<uint64_t>(pos) >= basis.size) return PastEnd(pos);
  size_t avail = basis.size - static_cast<size_t>(pos);
  if (*len > avail) *len = avail;
  // librsync copies from a pointer we return, so the bytes are copied once, not twice.
  *buf = const_cast<uint8_t*>(basis.data + pos);
  return RS_DONE;
}

rs_result CopyFromFile(const Basis& basis, rs_long_t pos, size_t* len, void** buf) {
  char* out = static_cast<char*>(*buf);
  size_t got = 0;
  while (got < *len) {
    ssize_t n = pread(basis.fd, out + got, *len - got, static_cast<off_t>(pos) + static_cast<off_t>(got));
    if (n < 0) {
      if (errno == EINTR) continue;
      SetLastError(std::string("reading the basis file: ") + std::strerror(errno));
      return RS_IO_ERROR;
    }
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  if (got == 0) return PastEnd(pos);
  *len = got;
  return RS_DONE;
}

}  // namespace

rs_result Basis::Copy(void* opaque, rs_long_t pos, size_t* len, void** buf) {
  const Basis& basis = *static_cast<const Basis*>(opaque);
  return basis.fd >= 0 ? CopyFromFile(basis, pos, len, buf) : CopyFromMemory(basis, pos, len, buf);
}

}  // namespace ibt
