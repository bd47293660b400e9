// The native engine's entry point: librsync's signature, delta and patch jobs as
// JavaScript objects (job.cc), the file-system calls node lacks (fsops.cc), plus what the
// TypeScript loader checks before trusting the build: the binding's ABI number and the
// librsync version it runs against.
#include <librsync.h>
#include <napi.h>

#include "fsops.h"
#include "job.h"
#include "trace.h"

namespace {

// Bumped whenever the JavaScript-facing interface of this addon changes, so the loader
// can refuse a stale build with "run npm run build:native" instead of misbehaving.
constexpr int kAbi = 2;

Napi::Value LiveJobs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ibt::Job::Live());
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  ibt::InstallTraceCapture();
  exports.Set("abi", Napi::Number::New(env, kAbi));
  exports.Set("librsyncVersion", Napi::String::New(env, rs_librsync_version));
  exports.Set("Job", ibt::Job::Define(env));
  exports.Set("liveJobs", Napi::Function::New(env, LiveJobs, "liveJobs"));
  ibt::DefineFsOps(env, exports);
  return exports;
}

}  // namespace

NODE_API_MODULE(ibt_librsync, Init)
