#pragma once
// hiredis's decoded reply turned into ours (RedisReply). Apart from redis_connection.cc so that
// RESP encoding and decoding sit together in redis_resp.cc; hiredis stays out of this header.
struct redisReply;

namespace pdgate::limits {

struct RedisReply;

// A deep copy of `in` (arrays included); nil, and a nil array, become kNil.
RedisReply Convert(const redisReply& in);

}  // namespace pdgate::limits
