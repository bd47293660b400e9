// The native engine's entry point: librsync's signature, delta and patch jobs as
// JavaScript objects (job.cc), deltas scanned in segments on every pool thread
// (delta_index.cc), signatures of file ranges read on the thread pool
// (file_signature.cc), the file-system calls node lacks (fsops.cc), in-kernel copies between
// files (copy_range.cc), plus what the TypeScript loader checks before trusting the build:
// the binding's ABI number and the librsync version it runs against.
#include <librsync.h>
#include <napi.h>

#include "copy_range.h"
#include "delta_index.h"
#include "file_signature.h"
#include "fsops.h"
#include "job.h"
#include "trace.h"

namespace {

// Bumped whenever the JavaScript-facing interface of this addon changes, so the loader
// can refuse a stale build with "run npm run build:native" instead of misbehaving.
constexpr int kAbi = 3;

Napi::Value LiveJobs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ibt::Job::Live() + ibt::DeltaIndex::Live());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ibt::InstallTraceCapture();
  exports.Set("abi", Napi::Number::New(env, kAbi));
  exports.Set("librsyncVersion", Napi::String::New(env, rs_librsync_version));
  exports.Set("Job", ibt::Job::Define(env));
  exports.Set("DeltaIndex", ibt::DeltaIndex::Define(env));
  exports.Set("liveJobs", Napi::Function::New(env, LiveJobs, "liveJobs"));
  ibt::DefineFsOps(env, exports);
  ibt::DefineCopyRange(env, exports);
  ibt::DefineFileSignature(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ibt_librsync, Init)
