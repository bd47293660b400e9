// new DeltaIndex(signature: Uint8Array);
// index.scan(data: Uint8Array, length: number) -> Promise<{ hits: Float64Array, end: number }>;
// index.close().
//
// A delta's match scan in segments, on every thread of the libuv pool (see
// `src/engine/parallel-delta.ts` for the segments and how their results are stitched into
// the one-pass delta, and `src/engine/native-delta.ts` for what a segment is given). `scan`
// runs one librsync delta job over `data` as a whole input (end of input at its end): the
// delta of that segment as if the file began there, since the job starts fresh at its first
// byte, which is what the stitching needs. The job's output is read here for where the
// blocks matched, and only that crosses to JavaScript (not the literal data):
//   hits: (position, block, length) triples, positions relative to `data`, for the windows
//         that start before `length`; librsync joins matches of consecutive blocks into one
//         COPY, which is cut back into its blocks (the stitching resynchronises at block
//         boundaries);
//   end:  where the scan stopped, the first position at or after `length` it reached (a
//         literal byte is a position tried, a match moves the scan to its end), or the end
//         of `data`.
//
// Each pool thread loads the signature once, into its own librsync sumset, the first time
// it scans for this index. Sharing one sumset between threads would be correct (the scan
// only reads it) but slow: librsync counts every hash-table lookup in the table itself, so
// two threads scanning at once would pass that counter's cache line back and forth for
// every byte of new data that does not match. The serialized signature is copied in at
// construction; the sumsets are freed by close() once no scan runs, or when the object is
// collected.
//
// Input is fed to librsync a few blocks at a time, as job.cc does (kDeltaFeed there): fed
// a whole segment at once, librsync 2.3.2 moves the rest of its input buffer after every
// command. A failure rejects with an Error carrying `rsResult`, as a Job's step does.
#include "delta_index.h"

#include <algorithm>
#include <atomic>
#include <vector>

#include "promise_worker.h"
#include "trace.h"

namespace ibt {

namespace {

std::atomic<int32_t> liveIndexes{0};

constexpr size_t kOutStep = 256 * 1024;

bool Failed(rs_result r) { return r != RS_DONE && r != RS_BLOCKED; }

// Runs a job over all of `in` (end of input at its end), appending its output to `out`.
rs_result RunToEnd(rs_job_t* job, const char* in, size_t len, size_t feed, std::vector<char>& out) {
  size_t consumed = 0;
  size_t written = 0;
  for (;;) {
    if (out.size() - written < kOutStep) out.resize(written + kOutStep);
    rs_buffers_t buffers{};
    size_t n = std::min(feed, len - consumed);
    buffers.next_in = const_cast<char*>(in + consumed);
    buffers.avail_in = n;
    buffers.eof_in = consumed + n == len ? 1 : 0;
    buffers.next_out = out.data() + written;
    buffers.avail_out = out.size() - written;
    size_t outBefore = buffers.avail_out;
    rs_result r = rs_job_iter(job, &buffers);
    consumed += n - buffers.avail_in;
    written += outBefore - buffers.avail_out;
    if (r == RS_DONE || Failed(r)) {
      out.resize(written);
      return r;
    }
    if (buffers.avail_in == n && buffers.avail_out == outBefore && buffers.avail_out > 0 && buffers.eof_in) {
      SetLastError("librsync made no progress");
      return RS_INTERNAL_ERROR;
    }
  }
}

uint64_t ReadBE(const unsigned char* p, int width) {
  uint64_t v = 0;
  for (int i = 0; i < width; i++) v = (v << 8) | p[i];
  return v;
}

// Reads the matches of a delta job's output (see the header). False when the output is not
// a delta of whole blocks as librsync writes them.
bool ReadMatches(const std::vector<char>& delta, uint64_t length, uint64_t size, uint64_t blockLength,
                 std::vector<double>& hits, uint64_t& end) {
  static const int kWidths[] = {1, 2, 4, 8};
  auto p = reinterpret_cast<const unsigned char*>(delta.data());
  size_t n = delta.size();
  size_t at = 4;  // the magic
  uint64_t pos = 0;
  bool ended = false;
  auto stop = [&](uint64_t q) {
    if (!ended) {
      end = q;
      ended = true;
    }
  };
  while (at < n) {
    unsigned op = p[at++];
    if (op == 0) break;
    if (op <= 0x44) {
      uint64_t len = op;
      if (op > 0x40) {
        int w = kWidths[op - 0x41];
        if (at + w > n) return false;
        len = ReadBE(p + at, w);
        at += w;
      }
      if (pos + len > length) stop(std::max(pos, length));
      pos += len;
      at += len;
      continue;
    }
    if (op > 0x54) return false;
    int ow = kWidths[(op - 0x45) >> 2];
    int lw = kWidths[(op - 0x45) & 3];
    if (at + ow + lw > n) return false;
    uint64_t offset = ReadBE(p + at, ow);
    uint64_t len = ReadBE(p + at + ow, lw);
    at += ow + lw;
    if (offset % blockLength != 0) return false;
    for (uint64_t done = 0; done < len;) {
      uint64_t blen = std::min(blockLength, len - done);
      if (pos >= length) {
        stop(pos);
      } else {
        hits.push_back(static_cast<double>(pos));
        hits.push_back(static_cast<double>((offset + done) / blockLength));
        hits.push_back(static_cast<double>(blen));
        if (pos + blen > length) stop(pos + blen);
      }
      pos += blen;
      done += blen;
    }
  }
  stop(size);
  return true;
}

class ScanWorker : public PromiseWorker {
 public:
  ScanWorker(Napi::Env env, DeltaIndex* index, Napi::Object self, Napi::Uint8Array data, uint64_t length)
      : PromiseWorker(env, "ibt:delta-scan"),
        index_(index),
        self_(Napi::Persistent(self)),
        data_(Napi::Persistent(data)),
        in_(reinterpret_cast<const char*>(data.Data())),
        len_(data.ElementLength()),
        length_(length) {}

  void Execute() override {
    result_ = RunCapturing([this] { return Scan(); }, detail_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    index_->ScanFinished();
    if (result_ != RS_DONE) {
      Reject(LibrsyncError(env, result_, detail_).Value());
      return;
    }
    Napi::Float64Array hits = Napi::Float64Array::New(env, hits_.size());
    std::copy(hits_.begin(), hits_.end(), hits.Data());
    Napi::Object result = Napi::Object::New(env);
    result.Set("hits", hits);
    result.Set("end", Napi::Number::New(env, static_cast<double>(end_)));
    Resolve(result);
  }

 private:
  rs_result Scan() {
    rs_result r;
    rs_signature_t* sig = index_->ForThisThread(r);
    if (sig == nullptr) return r;
    rs_job_t* job = rs_delta_begin(sig);
    if (job == nullptr) return RS_MEM_ERROR;
    std::vector<char> delta;
    r = RunToEnd(job, in_, len_, index_->Feed(), delta);
    rs_job_free(job);
    if (r == RS_DONE && !ReadMatches(delta, length_, len_, index_->BlockLength(), hits_, end_)) {
      SetLastError("librsync wrote a delta this scan cannot read");
      return RS_INTERNAL_ERROR;
    }
    return r;
  }

  DeltaIndex* index_;
  Napi::ObjectReference self_;
  Napi::Reference<Napi::Uint8Array> data_;
  const char* in_;
  size_t len_;
  uint64_t length_;
  std::vector<double> hits_;
  uint64_t end_ = 0;
  rs_result result_ = RS_INTERNAL_ERROR;
  std::string detail_;
};

}  // namespace

Napi::Function DeltaIndex::Define(Napi::Env env) {
  return DefineClass(env, "DeltaIndex",
                     {InstanceMethod<&DeltaIndex::Scan>("scan"), InstanceMethod<&DeltaIndex::Close>("close")});
}

int32_t DeltaIndex::Live() { return liveIndexes.load(); }

DeltaIndex::DeltaIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DeltaIndex>(info) {
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(info.Env(), "the signature must be a Uint8Array");
  }
  Napi::Uint8Array bytes = info[0].As<Napi::Uint8Array>();
  signature_.assign(reinterpret_cast<const char*>(bytes.Data()), bytes.ElementLength());
  // The block length, big-endian at offset 4 of the header: at least a few blocks per feed.
  if (signature_.size() >= 8) {
    auto b = reinterpret_cast<const unsigned char*>(signature_.data());
    blockLength_ = (uint64_t{b[4]} << 24) | (uint64_t{b[5]} << 16) | (uint64_t{b[6]} << 8) | b[7];
    feed_ = std::max<uint64_t>(kFeed, 4 * blockLength_);
  }
  live_ = true;
  liveIndexes++;
}

DeltaIndex::~DeltaIndex() { Free(); }

rs_signature_t* DeltaIndex::ForThisThread(rs_result& result) {
  std::thread::id me = std::this_thread::get_id();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto found = loaded_.find(me);
    if (found != loaded_.end()) return found->second;
  }
  rs_signature_t* sig = nullptr;
  rs_job_t* job = rs_loadsig_begin(&sig);
  if (job == nullptr) {
    result = RS_MEM_ERROR;
    return nullptr;
  }
  std::vector<char> none;
  result = RunToEnd(job, signature_.data(), signature_.size(), signature_.size(), none);
  rs_job_free(job);
  if (result == RS_DONE) result = rs_build_hash_table(sig);
  if (result != RS_DONE) {
    if (sig != nullptr) rs_free_sumset(sig);
    return nullptr;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  loaded_[me] = sig;
  return sig;
}

void DeltaIndex::ScanFinished() {
  running_--;
  if (closeRequested_ && running_ == 0) Free();
}

Napi::Value DeltaIndex::Scan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!live_) throw Napi::Error::New(env, "the index is closed");
  if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
    throw Napi::TypeError::New(env, "scan input must be a Uint8Array");
  }
  if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "the segment length (number) is required");
  if (blockLength_ == 0) throw Napi::Error::New(env, "the signature has no block length");
  running_++;
  auto* worker = new ScanWorker(env, this, info.This().As<Napi::Object>(), info[0].As<Napi::Uint8Array>(),
                                static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value()));
  return worker->Start();
}

void DeltaIndex::Close(const Napi::CallbackInfo&) {
  if (running_ > 0) {
    closeRequested_ = true;
  } else {
    Free();
  }
}

void DeltaIndex::Free() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& entry : loaded_) rs_free_sumset(entry.second);
  loaded_.clear();
  if (live_) {
    live_ = false;
    liveIndexes--;
    std::string().swap(signature_);
  }
}

}  // namespace ibt
