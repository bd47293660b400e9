// Checking the arguments of the addon's functions: a wrong type or range throws the
// TypeError or RangeError a JavaScript caller expects, before any work is queued.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>

namespace ibt {

// Argument `i` as a file descriptor; a non-number is a TypeError.
int32_t FdArg(const Napi::CallbackInfo& info, size_t i);

// Argument `i` as a byte offset or length: an integer from 0 to 2^53 - 1 (a RangeError
// otherwise; a non-number is a TypeError). `what` names it in the error ("a length").
int64_t CountArg(const Napi::CallbackInfo& info, size_t i, const char* what);

// Argument `i` as an unsigned 32-bit number (ToUint32, as JavaScript's `>>> 0`); a non-number
// is a TypeError. `what` names it in the error.
uint32_t U32Arg(const Napi::CallbackInfo& info, size_t i, const char* what);

}  // namespace ibt
