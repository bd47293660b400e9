// librsync reports the reason for a failure through its trace callback, not through the
// rs_result it returns ("bad magic" says nothing about which magic it read). We route
// that callback into a per-thread slot: a job step runs on one libuv worker thread from
// its rs_job_iter call to its result, so the message left in that thread's slot belongs
// to that step, however many jobs run at once on other threads. Nothing is printed: a
// library must not write to the host process's stderr. Every pool worker that runs librsync
// reports a failure the same way, through RunCapturing and LibrsyncError below, so a job
// step, a delta scan and a range's signature fail with the same kind of Error.
#pragma once

#include <librsync.h>
#include <napi.h>

#include <new>
#include <string>

namespace ibt {

// Installs the capturing trace callback; call once when the addon loads.
void InstallTraceCapture();

// Forgets this thread's last message, before a step starts.
void ClearLastError();

// Records a message on this thread, for failures our own callbacks detect (the first
// message of a step wins).
void SetLastError(std::string message);

// This thread's last librsync error message, or "" when there was none.
const std::string& LastError();

// Pool thread: runs `work` (librsync calls, returning their rs_result) with this thread's
// message cleared first; running out of memory is RS_MEM_ERROR. A failure (neither RS_DONE
// nor RS_BLOCKED) leaves its cause in `detail`, for LibrsyncError on the main thread.
template <typename Work>
rs_result RunCapturing(Work&& work, std::string& detail) {
  ClearLastError();
  rs_result r;
  try {
    r = work();
  } catch (const std::bad_alloc&) {
    r = RS_MEM_ERROR;
  }
  if (r != RS_DONE && r != RS_BLOCKED) detail = LastError();
  return r;
}

// Main thread: the Error a failed librsync call rejects with: rs_strerror(result), then
// ": detail" when there is one, and `rsResult` for the TypeScript layer to map to a code.
Napi::Error LibrsyncError(Napi::Env env, rs_result result, const std::string& detail);

}  // namespace ibt
