// The signature of a byte range of a file, read and computed on the libuv thread pool; see
// file_signature.cc.
#pragma once

#include <napi.h>

namespace ibt {

// Adds signatureOfRange to the module's exports.
void DefineFileSignature(Napi::Env env, Napi::Object exports);

}  // namespace ibt
