// Copying a byte range from one file to another inside the kernel (copy_file_range), on the
// libuv thread pool; see copy_range.cc.
#pragma once

#include <napi.h>

namespace ibt {

// Adds copyFileRange to the module's exports.
void DefineCopyRange(Napi::Env env, Napi::Object exports);

}  // namespace ibt
