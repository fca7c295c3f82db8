#pragma once
// How a decode engine obtains KV computed elsewhere. The seam between the engine model and the
// network: the real implementation talks HTTP to the prefill sim's side-channel listener (vLLM:
// remote_host:remote_port from kv_transfer_params; SGLang: bootstrap_host:bootstrap_port); tests
// of the engine alone can substitute their own.
#include <functional>
#include <string>

#include "bench/engine_sim/request.h"

namespace pdgate::sim {

struct TransferResult {
  bool ok = false;
  std::string error;  // why it failed, for the client's error message
};
using TransferDone = std::function<void(TransferResult)>;  // any thread

class KvTransport {
 public:
  virtual ~KvTransport() = default;
  // vLLM pull: asks the prefill to hand over the blocks named in `params`. Completes after the
  // transfer time the prefill charges.
  virtual void Pull(const KvTransferParams& params, TransferDone done) = 0;
  // SGLang: waits (at most `timeout_s`) at the prefill's bootstrap server until the prefill of
  // `bootstrap.room` is done, then receives its KV.
  virtual void WaitRoom(const SglangBootstrap& bootstrap, double timeout_s, TransferDone done) = 0;
};

}  // namespace pdgate::sim
