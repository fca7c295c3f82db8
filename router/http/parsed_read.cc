#include "router/http/parsed_read.h"

namespace pdgate::router {

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<true>& parser, ReadUntil until) {
  return ReadParsedLoop<Executor>(stream, buffer, parser, until);
}

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<false>& parser, ReadUntil until) {
  return ReadParsedLoop<Executor>(stream, buffer, parser, until);
}

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer, Http1Parser& parser,
                            ReadUntil until) {
  return ReadParsedLoop<Executor>(stream, buffer, parser, until);
}

std::optional<ParsedRead> ParseBuffered(beast::flat_buffer& buffer, Http1Parser& parser,
                                        ReadUntil until) {
  // ReadParsedLoop's steps up to its first read, in the same order.
  if (until == ReadUntil::kHeader) parser.eager(false);
  if (until == ReadUntil::kMessage) parser.eager(true);
  const auto satisfied = [&] {
    return until == ReadUntil::kHeader ? parser.is_header_done() : parser.is_done();
  };
  beast::error_code ec;
  if (until != ReadUntil::kSome && satisfied()) return ParsedRead{ec, 0};
  if (buffer.size() == 0) return std::nullopt;
  const size_t taken = parser.put(buffer.data(), ec);
  buffer.consume(taken);
  if (ec == http::error::need_more) return std::nullopt;
  if (ec || until == ReadUntil::kSome || satisfied()) return ParsedRead{ec, taken};
  return std::nullopt;
}

}  // namespace pdgate::router
