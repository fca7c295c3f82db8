#pragma once
// One Redis command as a coroutine whose result is a value, for RunOn (redis_server.h).
#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "router/limits/redis_connection.h"

namespace pdgate::limits::testing {

inline pdgate::router::Task<absl::StatusOr<RedisReply>> Send(RedisConnection& redis,
                                                             std::vector<std::string> argv) {
  absl::StatusOr<RedisReply> reply = co_await redis.Command(argv);
  co_return reply;
}

}  // namespace pdgate::limits::testing
