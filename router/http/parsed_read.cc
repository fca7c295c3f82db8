#include "router/http/parsed_read.h"

#include <algorithm>

namespace pdgate::router {
namespace {

// Beast's read_size for a flat_buffer: what is free, at least 512 and at most 64 KiB.
size_t ReadSize(const beast::flat_buffer& buffer) {
  const size_t size = buffer.size();
  return std::min(std::max<size_t>(512, buffer.capacity() - size),
                  std::min<size_t>(65536, buffer.max_size() - size));
}

template <bool isRequest>
Task<ParsedRead> Read(Stream& stream, beast::flat_buffer& buffer,
                      http::basic_parser<isRequest>& parser, ReadUntil until) {
  const auto satisfied = [&] {
    return until == ReadUntil::kHeader ? parser.is_header_done() : parser.is_done();
  };
  // As Beast's: a header read stops parsing at the header's end, a message read goes through.
  if (until == ReadUntil::kHeader) parser.eager(false);
  if (until == ReadUntil::kMessage) parser.eager(true);
  beast::error_code ec;
  size_t used = 0;
  if (until != ReadUntil::kSome && satisfied()) co_return ParsedRead{ec, used};
  while (true) {
    // One read_some: parse what is buffered, read only while the parser needs more.
    bool parse = buffer.size() > 0;
    while (true) {
      if (parse) {
        const size_t taken = parser.put(buffer.data(), ec);
        used += taken;
        buffer.consume(taken);
        if (ec != http::error::need_more) break;
      }
      parse = true;
      const size_t size = ReadSize(buffer);
      if (size == 0) {
        ec = http::error::buffer_overflow;
        break;
      }
      auto [read_ec, read] = co_await stream.async_read_some(buffer.prepare(size), kTuple);
      buffer.commit(read);
      ec = read_ec;
      if (ec == net::error::eof) {
        // A body that ends with the connection is complete here; anything else is cut short.
        if (parser.got_some()) {
          ec = {};
          parser.put_eof(ec);
        } else {
          ec = http::error::end_of_stream;
        }
        break;
      }
      if (ec) break;
    }
    if (ec || until == ReadUntil::kSome || satisfied()) co_return ParsedRead{ec, used};
  }
}

}  // namespace

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<true>& parser, ReadUntil until) {
  return Read(stream, buffer, parser, until);
}

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<false>& parser, ReadUntil until) {
  return Read(stream, buffer, parser, until);
}

}  // namespace pdgate::router
