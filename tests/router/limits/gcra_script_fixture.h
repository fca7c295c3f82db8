#pragma once
// A real Redis and a connection to it on a local io_context, with blocking wrappers of the GCRA
// script's calls. Shared by gcra_script_test.cc and gcra_script_load_test.cc.
#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "router/limits/gcra_script.h"
#include "router/limits/redis_connection.h"
#include "tests/router/limits/redis_command.h"
#include "tests/router/limits/redis_server.h"

namespace pdgate::limits::testing {

inline pdgate::router::Task<absl::StatusOr<GcraOutcome>> Check(RedisConnection& redis,
                                                               std::vector<GcraKey> keys) {
  absl::StatusOr<GcraOutcome> outcome = co_await GcraCheck(redis, keys);
  co_return outcome;
}

inline pdgate::router::Task<absl::StatusOr<GcraOutcome>> CheckWithDebits(
    RedisConnection& redis, std::vector<GcraKey> keys, std::vector<GcraCharge> debits) {
  absl::StatusOr<GcraOutcome> outcome = co_await GcraCheck(redis, keys, debits);
  co_return outcome;
}

inline pdgate::router::Task<absl::Status> Debit(RedisConnection& redis,
                                                std::vector<GcraCharge> debits) {
  absl::Status status = co_await GcraDebit(redis, debits);
  co_return status;
}

// (key, cost) as a charge on that key.
inline std::vector<GcraCharge> Charges(const std::vector<std::pair<GcraKey, double>>& charges) {
  std::vector<GcraCharge> out;
  out.reserve(charges.size());
  for (const auto& [key, cost] : charges) out.push_back({key.key, key.ei_us, cost});
  return out;
}

struct ScriptFixture {
  ScriptFixture() : server(RedisServer::Start()) {
    using namespace std::chrono_literals;
    REQUIRE(server.ok());
    RedisOptions options;
    options.host = server->host();
    options.port = server->port();
    options.command_timeout = 1s;  // correctness here, not deadlines
    redis.emplace(ioc, options);
  }
  absl::StatusOr<GcraOutcome> CheckNow(std::vector<GcraKey> keys) {
    return RunOn(ioc, Check(*redis, std::move(keys)));
  }
  absl::StatusOr<GcraOutcome> CheckNow(std::vector<GcraKey> keys,
                                       const std::vector<std::pair<GcraKey, double>>& debits) {
    return RunOn(ioc, CheckWithDebits(*redis, std::move(keys), Charges(debits)));
  }
  absl::Status DebitNow(const std::vector<std::pair<GcraKey, double>>& charges) {
    return RunOn(ioc, Debit(*redis, Charges(charges)));
  }
  absl::StatusOr<RedisReply> CallNow(std::vector<std::string> argv) {
    return RunOn(ioc, Send(*redis, std::move(argv)));
  }

  absl::StatusOr<RedisServer> server;
  net::io_context ioc;
  std::optional<RedisConnection> redis;
};

}  // namespace pdgate::limits::testing
