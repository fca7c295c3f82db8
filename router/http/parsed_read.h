#pragma once
// Beast's http::async_read_some, async_read_header and async_read as one plain loop on the stream:
// the same parse steps, limits and error codes (header_limit, body_limit, need_buffer,
// end_of_stream, partial_message, buffer_overflow), without a composed operation around the
// reads. Beast's operations post their completion when the buffer already held what the parser
// needed (a request's body that came with its header, a response's first chunk): one more pass
// through the scheduler each. Compiled once here, not instantiated in every unit that reads.
#include <cstddef>
#include <utility>

#include "router/http/net.h"

namespace pdgate::router {

enum class ReadUntil {
  kSome,     // http::async_read_some: what the buffer holds, else one read's worth
  kHeader,   // http::async_read_header
  kMessage,  // http::async_read (or until the parser's body wants a buffer: need_buffer)
};

// The error (none when the condition was met) and the bytes the parser took.
using ParsedRead = std::pair<beast::error_code, size_t>;

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<true>& parser, ReadUntil until);
Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<false>& parser, ReadUntil until);

}  // namespace pdgate::router
