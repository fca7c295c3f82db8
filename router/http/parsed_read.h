#pragma once
// Reads of client requests and engine responses (Http1Parser; Beast's parsers for the admin
// port and the tests): Beast's read semantics without its composed
// operations (discovery/parsed_read_loop.h), compiled once here for the data path's stream.
#include <optional>

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

// ReadParsed's first step done in place: when the buffer already holds what `until` asks for (a
// request body that came with its head, an answer's body behind its head), its answer without a
// coroutine frame and a resumption. nullopt: a read is needed; ReadParsed goes on from where
// this stopped (its count then leaves out what this took).
std::optional<ParsedRead> ParseBuffered(beast::flat_buffer& buffer, Http1Parser& parser,
                                        ReadUntil until);

}  // namespace pdgate::router
