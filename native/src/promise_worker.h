// One call on the libuv thread pool that settles a JavaScript promise: the shape of every
// asynchronous function of the addon (a job step, a delta scan, a range's signature, an
// in-kernel copy). Execute() runs on a pool thread and touches no JavaScript value; OnOK()
// runs on the main thread afterwards and resolves or rejects the promise. Errors are always
// reported through the promise, never through AsyncWorker's own error path, so OnOK() is the
// one place a worker's result becomes JavaScript.
#pragma once

#include <napi.h>

namespace ibt {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // Queues the worker (allocated with new: node-addon-api deletes it once OnOK() has run)
  // and returns its promise, for the function that created it to return.
  Napi::Promise Start() {
    Napi::Promise promise = deferred_.Promise();
    Queue();
    return promise;
  }

 protected:
  // `name` is the async resource name diagnostic tools show ("ibt:delta-scan").
  PromiseWorker(Napi::Env env, const char* name)
      : Napi::AsyncWorker(env, name), deferred_(Napi::Promise::Deferred::New(env)) {}

  void Resolve(Napi::Value value) { deferred_.Resolve(value); }
  void Reject(Napi::Value reason) { deferred_.Reject(reason); }

 private:
  Napi::Promise::Deferred deferred_;
};

}  // namespace ibt
