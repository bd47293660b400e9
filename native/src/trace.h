// librsync reports the reason for a failure through its trace callback, not through the
// rs_result it returns ("bad magic" says nothing about which magic it read). We route
// that callback into a per-thread slot: a job step runs on one libuv worker thread from
// its rs_job_iter call to its result, so the message left in that thread's slot belongs
// to that step, however many jobs run at once on other threads. Nothing is printed: a
// library must not write to the host process's stderr.
#pragma once

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

}  // namespace ibt
