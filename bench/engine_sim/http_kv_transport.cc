#include "bench/engine_sim/http_kv_transport.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "base/strings.h"
#include "bench/engine_sim/http_client.h"
#include "bench/engine_sim/json_writer.h"

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
  client_.Post(*params.remote_host, static_cast<uint16_t>(*params.remote_port), "/kv/pull",
               std::move(body), std::chrono::seconds(60),
               ToTransfer(std::move(done), std::move(peer)));
}

// SGLang's decode has no failure signal from the prefill: while the bootstrap server cannot be
// reached (prefill down or restarting) it keeps trying until its waiting timeout, as the real
// decode keeps polling; a router that loses the prefill leg sees the decode hang that long.
class RoomWait : public std::enable_shared_from_this<RoomWait> {
 public:
  RoomWait(boost::asio::io_context& ioc, HttpClientPool& client, SglangBootstrap bootstrap,
           double timeout_s, TransferDone done)
      : client_(client),
        timer_(ioc),
        bootstrap_(std::move(bootstrap)),
        deadline_(Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000))),
        done_(std::move(done)) {}

  void Attempt() {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left.count() <= 0) {
      return done_(TransferResult{
          false, StrCat("bootstrap room ", bootstrap_.room,
                        " not served before the waiting timeout (", last_error_, ")")});
    }
    std::string body =
        StrCat(R"({"room":)", bootstrap_.room, R"(,"timeout_ms":)", left.count(), "}");
    client_.Post(bootstrap_.host, static_cast<uint16_t>(bootstrap_.port), "/bootstrap/wait",
                 std::move(body), left + std::chrono::seconds(5),
                 [self = shared_from_this()](HttpResult result) { self->OnResult(result); });
  }

 private:
  using Clock = std::chrono::steady_clock;

  void OnResult(const HttpResult& result) {
    const std::string peer = StrCat(bootstrap_.host, ":", bootstrap_.port);
    if (result.transport_ok) {
      if (result.status == 200) return done_(TransferResult{true, ""});
      return done_(
          TransferResult{false, StrCat(peer, " answered ", result.status, " ", result.body)});
    }
    last_error_ = StrCat(peer, ": ", result.error);
    timer_.expires_after(std::chrono::milliseconds(100));
    timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->Attempt(); });
  }

  HttpClientPool& client_;
  boost::asio::steady_timer timer_;
  SglangBootstrap bootstrap_;
  Clock::time_point deadline_;
  TransferDone done_;
  std::string last_error_ = "no answer";
};

void HttpKvTransport::WaitRoom(const SglangBootstrap& bootstrap, double timeout_s,
                               TransferDone done) {
  std::make_shared<RoomWait>(ioc_, client_, bootstrap, timeout_s, std::move(done))->Attempt();
}

}  // namespace pdgate::sim
