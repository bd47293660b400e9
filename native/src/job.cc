// Streaming librsync jobs, driven from JavaScript, run on the libuv thread pool.
//
// librsync's job API is a state machine fed by buffers: rs_job_iter(job, buffers) takes
// what it can from `next_in`, writes what it can to `next_out`, and returns RS_BLOCKED
// when it needs more input or more output space, RS_DONE at the end, or an error. We keep
// that shape and put JavaScript in charge of the loop:
//
//   job.step(input, eof) -> Promise<{ out?, consumed, done }>
//
// (a failed step rejects with an Error carrying `rsResult` and any `out` written first).
//
// Each step is one PromiseWorker: on a worker thread it calls rs_job_iter over the
// given input until librsync needs more input, has filled its output space (see job.h),
// finished, or failed. JavaScript yields the output, passes the unconsumed rest of the
// input to the next step, and reads the next chunk of its source when all is consumed.
// So the event loop never runs librsync, memory stays bounded by one input chunk plus one
// output buffer (plus the signature, for a delta), and jobs for different files run on
// different pool threads at the same time. The input buffer and the job object are held
// by persistent references while a step runs, so neither can be collected under it.
//
// A delta is two phases in one job: first the signature is streamed into
// rs_loadsig_begin; when that ends (`done`), the same step builds the hash table and
// starts rs_delta_begin, and the new data is streamed next.
//
// State is freed as soon as it is useless: when the job finishes or fails, when
// JavaScript calls close() (its iterator was abandoned), or when the object is collected.
// close() during a running step only marks the job; the step's completion frees it, on
// the main thread, so librsync state is never freed under a worker.
#include "job.h"

#include <algorithm>
#include <atomic>
#include <string>

#include "promise_worker.h"
#include "trace.h"

namespace ibt {

namespace {

std::atomic<int32_t> liveJobs{0};

// librsync 2.3.2's delta copies all the input it is given into its own buffer and moves
// what is left of it to the front each time it emits a command, so handing it a whole
// megabyte at once costs a memmove of up to a megabyte per COPY or literal. Fed a few
// blocks at a time, as rdiff feeds it, it runs at rdiff's speed (1.5-2x faster than with
// 1 MiB, measured on the no-match case).
constexpr size_t kDeltaFeed = 64 * 1024;

bool Failed(rs_result r) { return r != RS_DONE && r != RS_BLOCKED; }

class StepWorker : public PromiseWorker {
 public:
  StepWorker(Napi::Env env, Job* job, Napi::Object self, Napi::Uint8Array input, bool eof)
      : PromiseWorker(env, "ibt:librsync-step"),
        job_(job),
        self_(Napi::Persistent(self)),
        input_(Napi::Persistent(input)),
        output_(Napi::Persistent(Napi::Buffer<char>::New(env, job->OutputCapacity()))),
        in_(reinterpret_cast<const char*>(input.Data())),
        len_(input.ElementLength()),
        eof_(eof) {
    out_.data = output_.Value().Data();
    out_.capacity = output_.Value().Length();
  }

  void Execute() override {
    result_ = RunCapturing([this] { return job_->Run(in_, len_, eof_, out_); }, detail_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    bool failed = Failed(result_);
    job_->StepFinished(failed);
    if (failed) {
      Napi::Error error = LibrsyncError(env, result_, detail_);
      // Output written before the failure is real output, as rdiff leaves it on disk.
      if (out_.length > 0) error.Set("out", TakeOutput(env));
      Reject(error.Value());
      return;
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("consumed", Napi::Number::New(env, static_cast<double>(out_.consumed)));
    result.Set("done", Napi::Boolean::New(env, out_.done));
    if (out_.length > 0) result.Set("out", TakeOutput(env));
    Resolve(result);
  }

 private:
  // Output lives in a Buffer the JavaScript heap allocated, so V8 accounts for it and
  // reuses its memory; a C allocation per step would be fresh, page-faulting memory that
  // V8 does not know to collect. Small outputs (a signature's records) are copied out, so
  // a caller who keeps them does not keep the whole buffer alive.
  Napi::Value TakeOutput(Napi::Env env) {
    Napi::Buffer<char> buffer = output_.Value();
    if (out_.length < out_.capacity / 4) return Napi::Buffer<char>::Copy(env, out_.data, out_.length);
    return Napi::Uint8Array::New(env, out_.length, buffer.ArrayBuffer(), buffer.ByteOffset());
  }

  Job* job_;
  Napi::ObjectReference self_;
  Napi::Reference<Napi::Uint8Array> input_;
  Napi::Reference<Napi::Buffer<char>> output_;
  const char* in_;
  size_t len_;
  bool eof_;
  StepOutput out_;
  rs_result result_ = RS_INTERNAL_ERROR;
  std::string detail_;
};

}  // namespace

Napi::Function Job::Define(Napi::Env env) {
  return DefineClass(env, "Job",
                     {InstanceMethod<&Job::Step>("step"), InstanceMethod<&Job::Close>("close")});
}

int32_t Job::Live() { return liveJobs.load(); }

// new Job('signature', magic, blockLength, strongLength)
// new Job('delta', legacySlack)       -- legacySlack: librsync <= 2.3.2 slack buffers
// new Job('patch', fd, fileHandle) | new Job('patch', Uint8Array)
Job::Job(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Job>(info) {
  Napi::Env env = info.Env();
  std::string kind = info[0].As<Napi::String>();
  if (kind == "signature") {
    phase_ = Phase::Signature;
    job_ = rs_sig_begin(info[2].As<Napi::Number>().Uint32Value(), info[3].As<Napi::Number>().Uint32Value(),
                        static_cast<rs_magic_number>(info[1].As<Napi::Number>().Uint32Value()));
  } else if (kind == "delta") {
    phase_ = Phase::LoadSignature;
    legacySlack_ = info[1].ToBoolean();
    job_ = rs_loadsig_begin(&sig_);
  } else if (kind == "patch") {
    phase_ = Phase::Patch;
    if (info[1].IsNumber() && info[2].IsObject()) {
      basis_.fd = info[1].As<Napi::Number>().Int32Value();
      basisRef_ = Napi::Persistent(info[2].As<Napi::Object>());
    } else if (info[1].IsTypedArray() && info[1].As<Napi::TypedArray>().TypedArrayType() == napi_uint8_array) {
      Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
      basis_.data = bytes.Data();
      basis_.size = bytes.ElementLength();
      basisRef_ = Napi::Persistent(bytes.As<Napi::Object>());
    } else {
      throw Napi::TypeError::New(env, "patch basis must be a file descriptor and its owner, or a Uint8Array");
    }
    job_ = rs_patch_begin(Basis::Copy, &basis_);
  } else {
    throw Napi::TypeError::New(env, "job kind must be signature, delta or patch");
  }
  if (job_ == nullptr) throw Napi::Error::New(env, "librsync could not start the job");
  live_ = true;
  liveJobs++;
}

Job::~Job() { Free(); }

void Job::Free() {
  if (job_ != nullptr) rs_job_free(job_);
  if (sig_ != nullptr) rs_free_sumset(sig_);
  job_ = nullptr;
  sig_ = nullptr;
  basisRef_.Reset();
  stage_.reset();
  stageSize_ = 0;
  if (live_) {
    live_ = false;
    liveJobs--;
  }
}

Napi::Value Job::Step(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (busy_) throw Napi::Error::New(env, "a step of this job is already running");
  if (job_ == nullptr) throw Napi::Error::New(env, "the job is closed");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "step input must be a Uint8Array");
  }
  busy_ = true;
  auto* worker = new StepWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Uint8Array>(),
                                info[1].ToBoolean());
  return worker->Start();
}

void Job::Close(const Napi::CallbackInfo&) {
  if (busy_) {
    closeRequested_ = true;
  } else {
    Free();
  }
}

void Job::StepFinished(bool failed) {
  busy_ = false;
  if (failed || finished_ || closeRequested_) Free();
}

// Staging counts as consuming: the bytes copied into the stage are taken from the input.
Job::Feed Job::NextFeed(const char* in, size_t len, bool eof, size_t& consumed) {
  if (!slack_) {
    size_t n = std::min(len - consumed, feedLimit_);
    return {in + consumed, n, eof && n == len - consumed, false, false};
  }
  if (stageOffset_ == stageLength_) stageOffset_ = stageLength_ = 0;
  // Top up the stage only before librsync has started on it: it may keep pointing into it.
  if (stageOffset_ == 0 && stageLength_ < stageSize_) {
    size_t take = std::min(stageSize_ - stageLength_, len - consumed);
    std::copy(in + consumed, in + consumed + take, stage_.get() + stageLength_);
    stageLength_ += take;
    consumed += take;
  }
  bool last = eof && consumed == len;
  bool starved = stageOffset_ == 0 && stageLength_ < stageSize_ && !last;
  return {stage_.get() + stageOffset_, stageLength_ - stageOffset_, last, true, starved};
}

rs_result Job::Run(const char* in, size_t len, bool eof, StepOutput& out) {
  for (;;) {
    Feed feed = NextFeed(in, len, eof, out.consumed);
    if (feed.starved) return RS_BLOCKED;
    rs_buffers_t buffers;
    buffers.next_in = const_cast<char*>(feed.data);
    buffers.avail_in = feed.length;
    buffers.eof_in = feed.eof ? 1 : 0;
    buffers.next_out = out.data + out.length;
    buffers.avail_out = out.capacity - out.length;
    rs_result r = rs_job_iter(job_, &buffers);
    size_t took = feed.length - buffers.avail_in;
    size_t wrote = (out.capacity - out.length) - buffers.avail_out;
    out.length += wrote;
    if (feed.staged) {
      stageOffset_ += took;
    } else {
      out.consumed += took;
    }
    if (r == RS_DONE) {
      out.done = true;
      if (phase_ == Phase::LoadSignature) return BeginDelta();
      finished_ = true;
      return RS_DONE;
    }
    if (r != RS_BLOCKED) return r;
    if (buffers.avail_out == 0) return RS_BLOCKED;
    bool inputLeft = feed.staged ? (stageOffset_ < stageLength_ || out.consumed < len) : out.consumed < len;
    if (!inputLeft && !eof) return RS_BLOCKED;
    if (took == 0 && wrote == 0) {
      SetLastError("librsync made no progress");
      return RS_INTERNAL_ERROR;
    }
  }
}

rs_result Job::BeginDelta() {
  const rs_stats_t* stats = rs_job_statistics(job_);
  rs_long_t blocks = stats->sig_blocks;
  size_t blockLength = stats->block_len;
  rs_job_free(job_);
  job_ = nullptr;
  rs_result r = rs_build_hash_table(sig_);
  if (r != RS_DONE) return r;
  job_ = rs_delta_begin(sig_);
  if (job_ == nullptr) return RS_MEM_ERROR;
  phase_ = Phase::Delta;
  feedLimit_ = std::max(kDeltaFeed, 4 * blockLength);
  if (blocks == 0) {
    slack_ = true;
    stageSize_ = legacySlack_ ? blockLength : 4 * (65536 + blockLength);
    // Uninitialised, so a huge block length from a hostile signature costs address space,
    // not memory: only the pages input is actually staged into are ever touched.
    stage_.reset(new char[stageSize_]);
  }
  return RS_DONE;
}

}  // namespace ibt
