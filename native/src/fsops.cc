// File-system calls node 20 does not offer, run synchronously on the calling thread.
//
// Times: fs.utimes and friends take seconds as a double, which cannot carry nanoseconds
// for today's dates (a double near 2^31 s steps in 238 ns) and which libuv 1.46 further
// truncates to whole microseconds. utimensat and futimens take a timespec, so a time
// recorded in nanoseconds is restored exactly. Times arrive as a BigInt of nanoseconds
// since the epoch (negative before 1970, of any size) and are split with floor division,
// so tv_nsec is in [0, 1e9) as the kernel requires: -1 ns is { -1 s, 999999999 ns }.
//
// Holes: lseek's SEEK_DATA and SEEK_HOLE tell where a sparse file's data lies, so a
// reader can produce zeros for its holes instead of reading them. ENXIO ("no data at or
// after this offset") is an answer, not a failure, and comes back as -1.
//
// These calls are quick metadata operations, so they run on the event loop rather than
// paying a trip through the thread pool. Failures throw an Error shaped like node's own
// (code 'ENOENT', errno, syscall, path), so the TypeScript layer wraps them as it wraps
// node:fs errors.
#include "fsops.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include <cerrno>
#include <cstdint>
#include <limits>
#include <string>

namespace ibt {

// An Error like node's for a failed system call: "ENOENT: no such file or directory,
// utimensat '/x'", with code, errno (libuv's negative number, as node sets it), syscall
// and, when there is one, path.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string* path) {
  const char* code = uv_err_name(-err);
  std::string message = std::string(code) + ": " + uv_strerror(-err) + ", " + syscall;
  if (path != nullptr) message += " '" + *path + "'";
  Napi::Error error = Napi::Error::New(env, message);
  Napi::Object obj = error.Value();
  obj.Set("code", code);
  obj.Set("errno", -err);
  obj.Set("syscall", syscall);
  if (path != nullptr) obj.Set("path", *path);
  return error;
}

namespace {

// The directory descriptor JavaScript passes for "relative to the current directory":
// Linux's AT_FDCWD, translated so the same number works where AT_FDCWD differs (macOS: -2).
constexpr int kJsAtFdcwd = -100;
constexpr int64_t kNsPerSecond = 1000000000;

int32_t FdArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "a file descriptor (number) is required");
  return info[i].As<Napi::Number>().Int32Value();
}

// A BigInt of nanoseconds since the epoch as a timespec, flooring so tv_nsec is in
// [0, 1e9). False when the seconds do not fit time_t (beyond ±292 billion years).
bool ToTimespec(Napi::BigInt value, timespec& ts) {
  int negative = 0;
  uint64_t words[2] = {0, 0};
  size_t count = 2;
  value.ToWords(&negative, &count, words);
  if (count > 2) return false;
  unsigned __int128 magnitude = (static_cast<unsigned __int128>(words[1]) << 64) | words[0];
  unsigned __int128 seconds = magnitude / kNsPerSecond;
  int64_t nanos = static_cast<int64_t>(magnitude % kNsPerSecond);
  if (negative && nanos != 0) {
    seconds += 1;
    nanos = kNsPerSecond - nanos;
  }
  constexpr auto kMax = static_cast<unsigned __int128>(std::numeric_limits<time_t>::max());
  if (seconds > (negative ? kMax + 1 : kMax)) return false;
  ts.tv_sec = negative ? static_cast<time_t>(-static_cast<__int128>(seconds)) : static_cast<time_t>(seconds);
  ts.tv_nsec = nanos;
  return true;
}

// Arguments i and i + 1 (access and modification times) as the timespec pair the calls take.
void TimesArgs(const Napi::CallbackInfo& info, size_t i, timespec (&times)[2], const char* syscall,
               const std::string* path) {
  for (size_t k = 0; k < 2; k++) {
    if (!info[i + k].IsBigInt()) throw Napi::TypeError::New(info.Env(), "times must be BigInt nanoseconds");
    if (!ToTimespec(info[i + k].As<Napi::BigInt>(), times[k])) throw ErrnoError(info.Env(), EOVERFLOW, syscall, path);
  }
}

// utimensat(dirfd, path, atimeNs, mtimeNs, nofollow): nofollow sets a symlink's own times.
Napi::Value Utimensat(const Napi::CallbackInfo& info) {
  int dirfd = FdArg(info, 0);
  if (!info[1].IsString()) throw Napi::TypeError::New(info.Env(), "a path (string) is required");
  std::string path = info[1].As<Napi::String>().Utf8Value();
  timespec times[2];
  TimesArgs(info, 2, times, "utimensat", &path);
  int flags = info[4].ToBoolean().Value() ? AT_SYMLINK_NOFOLLOW : 0;
  if (utimensat(dirfd == kJsAtFdcwd ? AT_FDCWD : dirfd, path.c_str(), times, flags) != 0) {
    throw ErrnoError(info.Env(), errno, "utimensat", &path);
  }
  return info.Env().Undefined();
}

// futimens(fd, atimeNs, mtimeNs).
Napi::Value Futimens(const Napi::CallbackInfo& info) {
  int fd = FdArg(info, 0);
  timespec times[2];
  TimesArgs(info, 1, times, "futimens", nullptr);
  if (futimens(fd, times) != 0) throw ErrnoError(info.Env(), errno, "futimens");
  return info.Env().Undefined();
}

// lseek(fd, offset, whence) for SEEK_DATA / SEEK_HOLE; -1 for ENXIO.
Napi::Value Seek(const Napi::CallbackInfo& info, int whence) {
  int fd = FdArg(info, 0);
  if (!info[1].IsNumber()) throw Napi::TypeError::New(info.Env(), "an offset (number) is required");
  auto offset = static_cast<off_t>(info[1].As<Napi::Number>().Int64Value());
  off_t found = lseek(fd, offset, whence);
  if (found < 0) {
    if (errno == ENXIO) return Napi::Number::New(info.Env(), -1);
    throw ErrnoError(info.Env(), errno, "lseek");
  }
  return Napi::Number::New(info.Env(), static_cast<double>(found));
}

Napi::Value SeekData(const Napi::CallbackInfo& info) { return Seek(info, SEEK_DATA); }
Napi::Value SeekHole(const Napi::CallbackInfo& info) { return Seek(info, SEEK_HOLE); }

}  // namespace

void DefineFsOps(Napi::Env env, Napi::Object exports) {
  exports.Set("utimensat", Napi::Function::New(env, Utimensat, "utimensat"));
  exports.Set("futimens", Napi::Function::New(env, Futimens, "futimens"));
  exports.Set("seekData", Napi::Function::New(env, SeekData, "seekData"));
  exports.Set("seekHole", Napi::Function::New(env, SeekHole, "seekHole"));
}

}  // namespace ibt
