// See trace.h: librsync's error messages, captured per thread instead of printed, and the
// Error a failure becomes.
#include "trace.h"

#include <librsync.h>

namespace ibt {

namespace {

thread_local std::string lastError;

// librsync formats messages as "librsync: ERROR: (function) text\n"; keep the text.
std::string Clean(std::string msg) {
  for (const char* prefix : {"librsync: ", "ERROR: "}) {
    if (msg.rfind(prefix, 0) == 0) msg.erase(0, std::char_traits<char>::length(prefix));
  }
  if (!msg.empty() && msg[0] == '(') {
    size_t close = msg.find(") ");
    if (close != std::string::npos) msg.erase(0, close + 2);
  }
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  return msg;
}

// The first error of a step is the cause. librsync ends every failure with a generic
// "<job> job failed: <result>", which only repeats the rs_result: it is dropped, so that it
// neither hides the cause nor stands in for a cause that was never given.
void Capture(rs_loglevel level, char const* msg) {
  if (level > RS_LOG_ERR || msg == nullptr || !lastError.empty()) return;
  std::string text = Clean(msg);
  if (text.find(" job failed: ") == std::string::npos) lastError = std::move(text);
}

}  // namespace

void InstallTraceCapture() {
  // Errors only: warnings such as "strong_len smaller than recommended" are about
  // choices the TypeScript layer already made deliberately, and formatting them costs time.
  rs_trace_set_level(RS_LOG_ERR);
  rs_trace_to(Capture);
}

void ClearLastError() { lastError.clear(); }

void SetLastError(std::string message) {
  if (lastError.empty()) lastError = std::move(message);
}

const std::string& LastError() { return lastError; }

Napi::Error LibrsyncError(Napi::Env env, rs_result result, const std::string& detail) {
  std::string message = rs_strerror(result);
  if (!detail.empty()) message += ": " + detail;
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("rsResult", Napi::Number::New(env, result));
  return error;
}

}  // namespace ibt
