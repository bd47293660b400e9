// A loaded signature that scans segments of new data for a parallel delta; see
// delta_index.cc.
#pragma once

#include <librsync.h>
#include <napi.h>

#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>

namespace ibt {

class DeltaIndex : public Napi::ObjectWrap<DeltaIndex> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Indexes whose librsync state is still allocated, for leak tests.
  static int32_t Live();

  explicit DeltaIndex(const Napi::CallbackInfo& info);
  ~DeltaIndex() override;

  // Worker thread: this thread's own loaded signature (loaded on first use), or nullptr with
  // `result` set when the signature does not load.
  rs_signature_t* ForThisThread(rs_result& result);

  // Main thread, when a scan settles: frees the state if close() was asked for meanwhile.
  void ScanFinished();

  // Bytes of new data given to librsync at a time.
  size_t Feed() const { return feed_; }
  // The signature's block length.
  uint64_t BlockLength() const { return blockLength_; }

  // The least feed: librsync 2.3.2 moves what is left of its input after each command, so a
  // few blocks at a time is fastest (see kDeltaFeed in job.cc).
  static constexpr size_t kFeed = 64 * 1024;

 private:
  Napi::Value Scan(const Napi::CallbackInfo& info);
  void Close(const Napi::CallbackInfo& info);
  void Free();

  std::string signature_;
  size_t feed_ = kFeed;
  uint64_t blockLength_ = 0;
  std::mutex mutex_;
  std::unordered_map<std::thread::id, rs_signature_t*> loaded_;
  int running_ = 0;
  bool closeRequested_ = false;
  bool live_ = false;
};

}  // namespace ibt
