#include "bench/engine_sim/http_kv_transport.h"

#include "bench/engine_sim/http_client.h"
#include "bench/engine_sim/json_writer.h"
#include "config/strings.h"

namespace pdgate::sim {
namespace {

std::function<void(HttpResult)> ToTransfer(TransferDone done, std::string peer) {
  return [done = std::move(done), peer = std::move(peer)](HttpResult result) {
    if (!result.transport_ok) return done(TransferResult{false, StrCat(peer, ": ", result.error)});
    if (result.status != 200) {
      return done(
          TransferResult{false, StrCat(peer, " answered ", result.status, " ", result.body)});
    }
    done(TransferResult{true, ""});
  };
}

}  // namespace

void HttpKvTransport::Pull(const KvTransferParams& params, TransferDone done) {
  if (!params.remote_host || !params.remote_port || !params.remote_engine_id ||
      !params.remote_request_id || !params.remote_block_ids) {
    return done(TransferResult{false, "incomplete kv_transfer_params"});
  }
  std::string body = R"({"remote_engine_id":)";
  AppendJsonString(body, *params.remote_engine_id);
  body += R"(,"remote_request_id":)";
  AppendJsonString(body, *params.remote_request_id);
  body += R"(,"remote_block_ids":[)";
  for (size_t i = 0; i < params.remote_block_ids->size(); ++i) {
    StrAppend(body, i ? "," : "", (*params.remote_block_ids)[i]);
  }
  body += "]}";
  std::string peer = StrCat(*params.remote_host, ":", *params.remote_port);
  AsyncHttpPost(ioc_, *params.remote_host, static_cast<uint16_t>(*params.remote_port), "/kv/pull",
                std::move(body), std::chrono::seconds(60),
                ToTransfer(std::move(done), std::move(peer)));
}

void HttpKvTransport::WaitRoom(const SglangBootstrap& bootstrap, double timeout_s,
                               TransferDone done) {
  const auto timeout_ms = static_cast<int64_t>(timeout_s * 1000);
  std::string body = StrCat(R"({"room":)", bootstrap.room, R"(,"timeout_ms":)", timeout_ms, "}");
  std::string peer = StrCat(bootstrap.host, ":", bootstrap.port);
  AsyncHttpPost(ioc_, bootstrap.host, static_cast<uint16_t>(bootstrap.port), "/bootstrap/wait",
                std::move(body), std::chrono::milliseconds(timeout_ms + 5000),
                ToTransfer(std::move(done), std::move(peer)));
}

}  // namespace pdgate::sim
