// One librsync job (signature, delta or patch) as a JavaScript object; see job.cc for the
// streaming design.
#pragma once

#include <librsync.h>
#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>

#include "basis.h"

namespace ibt {

// Bytes of output space one step fills at most before handing it to JavaScript. It bounds
// the memory of a job: a patch's output can be far larger than its input (an 11-byte COPY
// command may stand for gigabytes). A patch gets more, because its steps are otherwise so
// quick that handing each one between threads is a large share of its time (measured:
// 4 MiB steps patch 1.3-1.5x faster than 1 MiB steps; 8 MiB gain nothing more).
constexpr size_t kStepOutput = 1 << 20;
constexpr size_t kPatchStepOutput = 4 << 20;

// What one step did, filled on the worker thread.
struct StepOutput {
  char* data = nullptr;  // output space, in a JavaScript Buffer
  size_t capacity = 0;   // bytes of space at `data`
  size_t length = 0;     // bytes of output in `data`
  size_t consumed = 0;   // bytes of the step's input librsync took
  bool done = false;     // the job (or, for a delta, the signature-loading phase) is complete
};

class Job : public Napi::ObjectWrap<Job> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Jobs whose librsync state is still allocated, for leak tests.
  static int32_t Live();

  explicit Job(const Napi::CallbackInfo& info);
  ~Job() override;

  // Output space a step of this job gets.
  size_t OutputCapacity() const { return phase_ == Phase::Patch ? kPatchStepOutput : kStepOutput; }

  // Worker thread: run librsync over `in` until it needs more input, the output space is
  // full, the job ends, or it fails. Returns RS_BLOCKED, RS_DONE or an error.
  rs_result Run(const char* in, size_t len, bool eof, StepOutput& out);

  // Main thread, after a step: frees the librsync state once the job can make no more use
  // of it (it failed, finished, or was closed while the step ran).
  void StepFinished(bool failed);

 private:
  enum class Phase { Signature, LoadSignature, Delta, Patch };

  // Where the next rs_job_iter reads from.
  struct Feed {
    const char* data;
    size_t length;
    bool eof;
    bool staged;   // from stage_, not straight from the step's input
    bool starved;  // nothing can be fed until more input arrives
  };

  Napi::Value Step(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Free();
  rs_result BeginDelta();
  Feed NextFeed(const char* in, size_t len, bool eof, size_t& consumed);

  Phase phase_ = Phase::Signature;
  rs_job_t* job_ = nullptr;
  rs_signature_t* sig_ = nullptr;
  Basis basis_;
  // The basis's JavaScript owner (the Uint8Array, or the FileHandle whose descriptor we
  // read), kept alive so it is not collected, and its descriptor closed, under a patch.
  Napi::ObjectReference basisRef_;

  // A delta against a signature of zero blocks ("slack delta") emits one literal per
  // input buffer librsync is given; rdiff gives it whole buffers of a fixed size, so we
  // stage input into buffers of that size to produce the same commands.
  // Most input one rs_job_iter call is given (see kDeltaFeed in job.cc).
  size_t feedLimit_ = SIZE_MAX;

  bool legacySlack_ = true;
  bool slack_ = false;
  std::unique_ptr<char[]> stage_;
  size_t stageSize_ = 0;
  size_t stageLength_ = 0;
  size_t stageOffset_ = 0;

  bool live_ = false;
  bool busy_ = false;
  bool finished_ = false;
  bool closeRequested_ = false;
};

}  // namespace ibt
