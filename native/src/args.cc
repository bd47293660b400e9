// See args.h: the shared argument checks of the addon's functions.
#include "args.h"

#include <string>

namespace ibt {

namespace {

void RequireNumber(const Napi::CallbackInfo& info, size_t i, const char* what) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(what) + " (number) is required");
}

}  // namespace

int32_t FdArg(const Napi::CallbackInfo& info, size_t i) {
  RequireNumber(info, i, "a file descriptor");
  return info[i].As<Napi::Number>().Int32Value();
}

int64_t CountArg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  RequireNumber(info, i, what);
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0 && v <= 9007199254740991.0) || v != static_cast<double>(static_cast<int64_t>(v))) {
    throw Napi::RangeError::New(info.Env(), std::string(what) + " must be an integer from 0 to 2^53 - 1");
  }
  return static_cast<int64_t>(v);
}

uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* what) {
  RequireNumber(info, i, what);
  return info[i].As<Napi::Number>().Uint32Value();
}

}  // namespace ibt
