// RESP2 on the wire: encoding commands (AppendRespCommand) and converting the replies hiredis's
// reader decodes (Convert). The connection itself is in redis_connection.cc.
#include "router/limits/redis_resp.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <string>
#include <vector>

#include "router/limits/redis_connection.h"

namespace pdgate::limits {

RedisReply Convert(const redisReply& in) {
  RedisReply out;
  switch (in.type) {
    case REDIS_REPLY_STRING:
      out.type = RedisReply::Type::kString;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = RedisReply::Type::kStatus;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = RedisReply::Type::kError;
      out.str.assign(in.str, in.len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = RedisReply::Type::kInteger;
      out.integer = in.integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = RedisReply::Type::kArray;
      out.elements.reserve(in.elements);
      for (size_t i = 0; i < in.elements; ++i) out.elements.push_back(Convert(*in.element[i]));
      break;
    default:  // REDIS_REPLY_NIL, and a nil array
      break;
  }
  return out;
}

void AppendRespCommand(const std::vector<std::string>& argv, std::string& out) {
  // Plain appends: every rate-limited request encodes one command, and absl::StrAppend's pieces
  // cost several times as much here (a profile of the global-limit benchmark).
  size_t size = 16;
  for (const std::string& arg : argv) size += arg.size() + 16;
  out.reserve(out.size() + size);
  auto header = [&out](char kind, size_t count) {
    char buffer[24];
    buffer[0] = kind;
    char* end = std::to_chars(buffer + 1, buffer + sizeof buffer - 2, count).ptr;
    *end++ = '\r';
    *end++ = '\n';
    out.append(buffer, end);
  };
  header('*', argv.size());
  for (const std::string& arg : argv) {
    header('$', arg.size());
    out.append(arg);
    out.append("\r\n", 2);
  }
}

}  // namespace pdgate::limits
