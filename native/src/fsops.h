// Small synchronous file-system calls node 20 lacks: setting times to the nanosecond, and
// finding the data and holes of a sparse file; see fsops.cc.
#pragma once

#include <napi.h>

namespace ibt {

// Adds utimensat, futimens, seekData and seekHole to the module's exports.
void DefineFsOps(Napi::Env env, Napi::Object exports);

}  // namespace ibt
