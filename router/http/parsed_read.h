#pragma once
// Reads of client requests and engine responses (Http1Parser; Beast's parsers for the admin
// port and the tests): Beast's read semantics without its composed
// operations (discovery/parsed_read_loop.h), compiled once here for the data path's stream.
#include "discovery/parsed_read_loop.h"
#include "router/http/http1_parser.h"
#include "router/http/net.h"

namespace pdgate::router {

using pdgate::ParsedRead;
using pdgate::ReadUntil;

Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<true>& parser, ReadUntil until);
Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer,
                            http::basic_parser<false>& parser, ReadUntil until);
Task<ParsedRead> ReadParsed(Stream& stream, beast::flat_buffer& buffer, Http1Parser& parser,
                            ReadUntil until);

}  // namespace pdgate::router
