// copyFileRange(fdIn, offIn, fdOut, offOut, length) -> Promise<number>: copy_file_range(2)
// from one open file to another at explicit offsets, for a patch's COPY commands when the
// basis and the output are both files.
//
// The kernel moves the bytes from page cache to page cache (or shares the blocks, on file
// systems that reflink), so they never pass through user memory: a COPY costs one copy
// instead of librsync's two (pread into a buffer, write from it), and no JavaScript buffer.
//
// Each call is a PromiseWorker, like the librsync steps: the copy runs on the libuv
// thread pool and the event loop stays free however long it takes. The caller bounds that
// time by cutting large COPYs into slices (a few milliseconds each), so one copy never holds
// a pool thread, which node's own file-system calls share, for long. Offsets are explicit
// (pointers to our own variables), so neither file's position moves and several slices can
// run at once.
//
// The promise resolves to the bytes copied: all of `length`, or fewer when the input ends
// first (the caller decides whether that is an error). A failure after some bytes were
// copied resolves to those bytes; the caller's next call for the rest then fails at once.
// A failure before any byte rejects with an Error shaped like node's own (code 'EXDEV',
// errno, syscall), so the caller can tell "this pair of files cannot be copied so"
// (EXDEV: different file systems, on kernels that refuse that; ENOSYS, EOPNOTSUPP, EINVAL:
// a kernel or file system without the call) from a real I/O error. Where the system has no
// copy_file_range at all the call rejects with ENOSYS.
#include "copy_range.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>

#include "args.h"
#include "fsops.h"
#include "promise_worker.h"

namespace ibt {

namespace {

class CopyWorker : public PromiseWorker {
 public:
  CopyWorker(Napi::Env env, int fdIn, int64_t offIn, int fdOut, int64_t offOut, int64_t length)
      : PromiseWorker(env, "ibt:copy-file-range"),
        fdIn_(fdIn),
        offIn_(offIn),
        fdOut_(fdOut),
        offOut_(offOut),
        left_(length) {}

  void Execute() override {
#ifdef __linux__
    off_t in = static_cast<off_t>(offIn_);
    off_t out = static_cast<off_t>(offOut_);
    while (left_ > 0) {
      ssize_t n = copy_file_range(fdIn_, &in, fdOut_, &out, static_cast<size_t>(left_), 0);
      if (n < 0) {
        if (errno == EINTR) continue;
        error_ = errno;
        return;
      }
      if (n == 0) return;  // the input ends here
      copied_ += n;
      left_ -= n;
    }
#else
    error_ = ENOSYS;
#endif
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_ != 0 && copied_ == 0) {
      Reject(ErrnoError(env, error_, "copy_file_range").Value());
      return;
    }
    Resolve(Napi::Number::New(env, static_cast<double>(copied_)));
  }

 private:
  int fdIn_;
  int64_t offIn_;
  int fdOut_;
  int64_t offOut_;
  int64_t left_;
  int64_t copied_ = 0;
  int error_ = 0;
};

Napi::Value CopyFileRange(const Napi::CallbackInfo& info) {
  int fdIn = FdArg(info, 0);
  int64_t offIn = CountArg(info, 1, "an input offset");
  int fdOut = FdArg(info, 2);
  int64_t offOut = CountArg(info, 3, "an output offset");
  int64_t length = CountArg(info, 4, "a length");
  return (new CopyWorker(info.Env(), fdIn, offIn, fdOut, offOut, length))->Start();
}

}  // namespace

void DefineCopyRange(Napi::Env env, Napi::Object exports) {
  exports.Set("copyFileRange", Napi::Function::New(env, CopyFileRange, "copyFileRange"));
}

}  // namespace ibt
