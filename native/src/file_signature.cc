// signatureOfRange(fd, offset, length, magic, blockLength, strongLength, owner)
//   -> Promise<{ out: Buffer, read: number }>
//
// librsync's signature of `length` bytes of an open file from `offset`, as one call on the
// libuv thread pool that reads the file itself (pread, 1 MiB at a time) and feeds librsync.
// `out` is the job's whole output, the 12-byte signature header first; `read` is how many
// bytes the file had there (fewer than `length` where it ends).
//
// A signature record depends only on its block's bytes, so a file cut into ranges of whole
// blocks can be signed range by range on every thread of the pool and the records joined in
// order (the caller keeps the first range's header and drops the others'): the same bytes as
// one pass. Compared with streaming the file through a Job (JavaScript reads each chunk,
// copies it into a stripe, hands it over), nothing of the file passes through the event
// loop: the JavaScript thread only orders results, and the pool threads do all the reading
// and hashing, which is what lets a signature use every core.
//
// `owner` (the FileHandle) is held until the call settles, so it is not collected, and its
// descriptor closed or reused, under the read. A read error rejects with a node-style errno
// Error (syscall 'pread'); a librsync failure with an Error carrying `rsResult`, as a Job's.
#include "file_signature.h"

#include <librsync.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <memory>
#include <string>

#include "args.h"
#include "fsops.h"
#include "promise_worker.h"
#include "trace.h"

namespace ibt {

namespace {

constexpr size_t kPiece = 1 << 20;
constexpr size_t kHeader = 12;

class RangeWorker : public PromiseWorker {
 public:
  RangeWorker(Napi::Env env, int fd, int64_t offset, int64_t length, uint32_t magic, uint32_t blockLength,
              uint32_t strongLength, Napi::Object owner)
      : PromiseWorker(env, "ibt:signature-of-range"),
        owner_(Napi::Persistent(owner)),
        fd_(fd),
        offset_(offset),
        length_(length),
        magic_(magic),
        blockLength_(blockLength),
        strongLength_(strongLength) {}

  void Execute() override {
    result_ = RunCapturing([this] { return Sign(); }, detail_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (errno_ != 0) {
      Reject(ErrnoError(env, errno_, "pread").Value());
      return;
    }
    if (result_ != RS_DONE) {
      Reject(LibrsyncError(env, result_, detail_).Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("out", Napi::Buffer<char>::Copy(env, out_.get(), outLength_));
    result.Set("read", Napi::Number::New(env, static_cast<double>(read_)));
    Resolve(result);
  }

 private:
  rs_result Sign() {
    uint64_t blocks = static_cast<uint64_t>(length_) / blockLength_ + 1;
    size_t capacity = kHeader + blocks * (4 + strongLength_);
    size_t pieceSize = static_cast<size_t>(std::clamp<int64_t>(length_, 1, kPiece));
    out_.reset(new char[capacity]);
    std::unique_ptr<char[]> in(new char[pieceSize]);
    rs_job_t* job = rs_sig_begin(blockLength_, strongLength_, static_cast<rs_magic_number>(magic_));
    if (job == nullptr) return RS_MEM_ERROR;
    rs_buffers_t buffers{};
    buffers.next_out = out_.get();
    buffers.avail_out = capacity;
    rs_result r;
    for (;;) {
      if (buffers.avail_in == 0 && !buffers.eof_in) {
        ssize_t got;
        do {
          got = pread(fd_, in.get(), static_cast<size_t>(std::min<int64_t>(pieceSize, length_ - read_)), offset_ + read_);
        } while (got < 0 && errno == EINTR);
        if (got < 0) {
          errno_ = errno;
          r = RS_IO_ERROR;
          break;
        }
        read_ += got;
        buffers.next_in = in.get();
        buffers.avail_in = static_cast<size_t>(got);
        buffers.eof_in = (got == 0 || read_ == length_) ? 1 : 0;
      }
      size_t inBefore = buffers.avail_in;
      size_t outBefore = buffers.avail_out;
      r = rs_job_iter(job, &buffers);
      if (r != RS_BLOCKED) break;
      // Blocked with input left (or at its end) and nothing moved: it cannot go on.
      bool stuck = buffers.avail_in == inBefore && buffers.avail_out == outBefore;
      if (stuck && (buffers.avail_in > 0 || buffers.eof_in)) {
        SetLastError("librsync made no progress on the signature of a range");
        r = RS_INTERNAL_ERROR;
        break;
      }
    }
    outLength_ = capacity - buffers.avail_out;
    rs_job_free(job);
    return r;
  }

  Napi::ObjectReference owner_;
  int fd_;
  int64_t offset_;
  int64_t length_;
  uint32_t magic_;
  uint32_t blockLength_;
  uint32_t strongLength_;
  std::unique_ptr<char[]> out_;
  size_t outLength_ = 0;
  int64_t read_ = 0;
  rs_result result_ = RS_INTERNAL_ERROR;
  int errno_ = 0;
  std::string detail_;
};

Napi::Value SignatureOfRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = FdArg(info, 0);
  int64_t offset = CountArg(info, 1, "an offset");
  int64_t length = CountArg(info, 2, "a length");
  uint32_t magic = U32Arg(info, 3, "a magic number");
  uint32_t blockLength = U32Arg(info, 4, "a block length");
  uint32_t strongLength = U32Arg(info, 5, "a strong sum length");
  if (blockLength == 0) throw Napi::RangeError::New(env, "the block length must be at least 1");
  if (!info[6].IsObject()) throw Napi::TypeError::New(env, "the descriptor's owner (an object) is required");
  return (new RangeWorker(env, fd, offset, length, magic, blockLength, strongLength, info[6].As<Napi::Object>()))->Start();
}

}  // namespace

void DefineFileSignature(Napi::Env env, Napi::Object exports) {
  exports.Set("signatureOfRange", Napi::Function::New(env, SignatureOfRange, "signatureOfRange"));
}

}  // namespace ibt
