// Small synchronous file-system calls node 20 lacks: setting times to the nanosecond, and
// finding the data and holes of a sparse file; see fsops.cc.
#pragma once

#include <napi.h>

#include <string>

namespace ibt {

// Adds utimensat, futimens, seekData and seekHole to the module's exports.
void DefineFsOps(Napi::Env env, Napi::Object exports);

// An Error shaped like node's for the failed system call `syscall` with errno `err`:
// code ('ENOENT'), errno (libuv's negative number), syscall and, when given, path.
Napi::Error ErrnoError(Napi::Env env, int err, const char* syscall, const std::string* path = nullptr);

}  // namespace ibt
