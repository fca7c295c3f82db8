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
  const BufferedStep step = ParseBufferedStep(buffer, parser, until);
  if (step.settled) return step.read;
  return std::nullopt;
}

}  // namespace pdgate::router
