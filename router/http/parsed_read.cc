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

}  // namespace pdgate::router
