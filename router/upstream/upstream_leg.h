#pragma once
// One HTTP exchange with an engine: a pooled or new connection, the request written, the response
// header (or the whole body) read — all under one deadline (trafficPolicy.timeout bounds connect
// + send + response headers). A pooled connection that fails before any response byte was stale
// (the engine closed it while idle, or restarted) and the exchange is retried once on a new one;
// the endpoint's other idle connections are dropped with it, since after an engine restart
// every one of them is stale.
#include <array>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "router/http/disconnect_watch.h"
#include "router/http/net.h"
#include "router/http/parsed_read.h"
#include "router/upstream/engine_response.h"
#include "router/upstream/leg_request.h"
#include "router/upstream/upstream_pool.h"

namespace pdgate::router {

// Where a leg goes. `key` ("host:port": the pool key and what messages name) is borrowed, from
// the endpoint of the snapshot its request pins (no copy per leg) or from an OwnedLegTarget kept
// by whatever outlives the request.
struct LegTarget {
  std::string_view key;
  tcp::endpoint address;
};

// A LegTarget for what may run after its request ended (SGLang's spawned prefill and aborts).
struct OwnedLegTarget {
  explicit OwnedLegTarget(const LegTarget& target) : key(target.key), address(target.address) {}
  LegTarget view() const { return {key, address}; }
  std::string key;
  tcp::endpoint address;
};

// What a leg needs of its io thread, copied into the leg: an abort sent after its request ended
// must not read a configuration that a reload has since replaced.
struct UpstreamContext {
  net::io_context& ioc;
  UpstreamPool& pool;  // the io thread's: lives as long as the thread
  size_t max_header_bytes;
  std::chrono::milliseconds connect_timeout;
};

// kNoResources: pdgate could not open a socket (out of file descriptors, socket buffers or
// memory); the endpoint is not at fault.
enum class LegStatus {
  kOk,
  kConnectFailed,
  kTimeout,
  kTransport,
  kTooLarge,
  kClientGone,
  kNoResources
};

// EMFILE, ENFILE, ENOBUFS, ENOMEM: a failure of this process or host, not of the peer.
bool IsLocalResourceError(const beast::error_code& ec);

struct LegOutcome {
  LegStatus status = LegStatus::kOk;
  std::string detail;
  bool ok() const { return status == LegStatus::kOk; }
};

class UpstreamLeg {
 public:
  // Holds a typical non-streamed answer (vLLM's and SGLang's are 0.5-2 KiB with headers) or a
  // stream's chunk in one read; larger answers grow it. 4 KiB rather than 16: a routed stream holds
  // one, so 10,000 streams hold 40 MB of them.
  static constexpr size_t kReadBufferBytes = size_t{4} * 1024;
  using Clock = std::chrono::steady_clock;
  UpstreamLeg(UpstreamContext context, LegTarget target, std::shared_ptr<DisconnectWatch> watch);
  ~UpstreamLeg();
  UpstreamLeg(const UpstreamLeg&) = delete;
  UpstreamLeg& operator=(const UpstreamLeg&) = delete;

  // Writes `request`, then reads the response header (`whole_body`: the whole response) into a
  // fresh parser emplaced in `parser`.
  template <class Parser>
  Task<LegOutcome> Exchange(const LegRequest& request, std::optional<Parser>& parser,
                            Clock::time_point deadline, bool whole_body, size_t body_limit);

  // The connection of a successful Exchange.
  Stream& stream() { return connection_->stream; }
  beast::flat_buffer& buffer() { return connection_->buffer; }
  const LegTarget& target() const { return target_; }
  // Puts the connection back in the pool (the response was read to its end, keep-alive).
  void Release();

 private:
  LegOutcome Classify(const beast::error_code& ec, std::string_view step) const;
  void Close();

  UpstreamContext context_;
  LegTarget target_;
  std::shared_ptr<DisconnectWatch> watch_;
  ConnectionPtr connection_;
};

// The transport errors after which a pooled connection is taken to have been stale.
bool IsStaleConnectionError(const beast::error_code& ec);

template <class Parser>
Task<LegOutcome> UpstreamLeg::Exchange(const LegRequest& request, std::optional<Parser>& parser,
                                       Clock::time_point deadline, bool whole_body,
                                       size_t body_limit) {
  for (int round = 0; round < 2; ++round) {
    Close();
    bool reused = false;
    connection_ = round == 0 ? context_.pool.Take(target_.key, Clock::now()) : nullptr;
    if (connection_) {
      reused = true;
      connection_->buffer.clear();
      watch_->Add(&connection_->stream);
    } else {
      connection_ = std::make_unique<UpstreamConnection>(context_.ioc.get_executor());
      // Beast's flat_buffer starts at 512 bytes: a typical answer would take two reads.
      connection_->buffer.reserve(kReadBufferBytes);
      context_.pool.Opened();  // active while connecting too: the socket is open
      watch_->Add(&connection_->stream);
      connection_->stream.expires_at(std::min(deadline, Clock::now() + context_.connect_timeout));
      auto [ec] = co_await connection_->stream.async_connect(target_.address, kTuple);
      if (watch_->client_gone) co_return LegOutcome{LegStatus::kClientGone, "client went away"};
      if (ec) {
        if (IsLocalResourceError(ec)) {
          // The engine's pooled connections are fine: only this socket could not be opened.
          co_return LegOutcome{LegStatus::kNoResources, "cannot open a socket: " + ec.message()};
        }
        if (ec != beast::error::timeout) context_.pool.Drop(target_.key);
        co_return LegOutcome{
            ec == beast::error::timeout ? LegStatus::kTimeout : LegStatus::kConnectFailed,
            "connect: " + ec.message()};
      }
      connection_->stream.socket().set_option(tcp::no_delay(true));
    }
    parser.emplace();
    parser->header_limit(uint32_t(context_.max_header_bytes));
    if (body_limit == 0) {  // {}: no limit, for Beast's parsers (in tests) and Http1Parser
      parser->body_limit({});
    } else {
      parser->body_limit(body_limit);
    }
    connection_->stream.expires_at(deadline);
    const std::array<net::const_buffer, 2> buffers = request.Buffers();
    beast::error_code write_ec;
    const size_t written = connection_->stream.WriteNow(buffers, write_ec);
    if (!write_ec && written < request.size()) {
      std::array<net::const_buffer, 2> rest;
      const size_t left = BuffersAfter(buffers, written, rest.data());
      std::tie(write_ec, std::ignore) = co_await net::async_write(
          connection_->stream, std::span<const net::const_buffer>(rest.data(), left), kTuple);
    }
    if (watch_->client_gone) co_return LegOutcome{LegStatus::kClientGone, "client went away"};
    if (write_ec) {
      if (reused && round == 0) {
        context_.pool.Drop(target_.key);
        continue;
      }
      co_return Classify(write_ec, "send");
    }
    auto [read_ec, taken] =
        co_await ReadParsed(connection_->stream, connection_->buffer, *parser,
                            whole_body ? ReadUntil::kMessage : ReadUntil::kHeader);
    if (watch_->client_gone) co_return LegOutcome{LegStatus::kClientGone, "client went away"};
    if (read_ec) {
      if (reused && round == 0 && !parser->got_some() && IsStaleConnectionError(read_ec)) {
        context_.pool.Drop(target_.key);
        continue;
      }
      co_return Classify(read_ec, "response");
    }
    co_return LegOutcome{};
  }
  co_return LegOutcome{LegStatus::kTransport, "connection closed twice"};
}

}  // namespace pdgate::router
