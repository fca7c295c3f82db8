#pragma once
// KvTransport over HTTP to the prefill sim's side-channel listener:
//   vLLM:   POST http://remote_host:remote_port/kv/pull {"remote_engine_id","remote_request_id",
//           "remote_block_ids"}; the prefill answers after the transfer time, 200 on success.
//   SGLang: POST http://bootstrap_host:bootstrap_port/bootstrap/wait {"room","timeout_ms"}; the
//           prefill answers when the room's prefill is done and transferred, 404 at the timeout.
// Real engines move KV over RDMA (NIXL/Mooncake) after an out-of-band handshake; what matters to
// a router is that the decode fails when the prefill does not hold the KV it names.
#include "bench/engine_sim/http_client.h"
#include "bench/engine_sim/kv_transport.h"

namespace boost::asio {
class io_context;
}

namespace pdgate::sim {

class HttpKvTransport : public KvTransport {
 public:
  explicit HttpKvTransport(boost::asio::io_context& ioc) : ioc_(ioc), client_(ioc) {}
  void Pull(const KvTransferParams& params, TransferDone done) override;
  void WaitRoom(const SglangBootstrap& bootstrap, double timeout_s, TransferDone done) override;

 private:
  boost::asio::io_context& ioc_;
  HttpClientPool client_;
};

}  // namespace pdgate::sim
