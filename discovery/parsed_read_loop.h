#pragma once
// Beast's http::async_read_some, async_read_header and async_read as one plain loop on a stream:
// the same parse steps, read sizes, limits and error codes (header_limit, body_limit, need_buffer,
// end_of_stream, partial_message, buffer_overflow), without a composed operation around the
// reads, and without the completion Beast posts when the buffer already held what the parser
// needed. A template for the stream and executor: router/http/parsed_read.cc instantiates it once
// for the data path's stream, the Kubernetes client for its plain and TLS streams. Include it
// only in .cc files (it brings Beast's parser).
#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <utility>

namespace pdgate {

enum class ReadUntil {
  kSome,     // http::async_read_some: what the buffer holds, else one read's worth
  kHeader,   // http::async_read_header
  kMessage,  // http::async_read (or until the parser's body wants a buffer: need_buffer)
};

// The error (none when the condition was met) and the bytes the parser took.
using ParsedRead = std::pair<boost::beast::error_code, size_t>;

// ReadParsedLoop's steps before its first read: parse what the buffer holds. `settled`: that
// answered the read (`read` is the answer); else `read` holds the parse's error (none or
// need_more) and the bytes it took, and a read comes next.
struct BufferedStep {
  bool settled = false;
  ParsedRead read;
};

// Parser: Beast's basic_parser, or one with its interface (router/http/http1_parser.h).
template <class Parser>
BufferedStep ParseBufferedStep(boost::beast::flat_buffer& buffer, Parser& parser, ReadUntil until) {
  namespace http = boost::beast::http;
  // As Beast's: a header read stops parsing at the header's end, a message read goes through.
  if (until == ReadUntil::kHeader) parser.eager(false);
  if (until == ReadUntil::kMessage) parser.eager(true);
  const auto satisfied = [&] {
    return until == ReadUntil::kHeader ? parser.is_header_done() : parser.is_done();
  };
  BufferedStep step;
  auto& [ec, used] = step.read;
  if (until != ReadUntil::kSome && satisfied()) {
    step.settled = true;
    return step;
  }
  if (buffer.size() == 0) return step;
  used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  step.settled = ec != http::error::need_more && (ec || until == ReadUntil::kSome || satisfied());
  return step;
}

template <class Executor, class Stream, class Parser>
boost::asio::awaitable<ParsedRead, Executor> ReadParsedLoop(Stream& stream,
                                                            boost::beast::flat_buffer& buffer,
                                                            Parser& parser, ReadUntil until) {
  namespace http = boost::beast::http;
  constexpr auto kTuple = boost::asio::as_tuple(boost::asio::use_awaitable_t<Executor>());
  const auto satisfied = [&] {
    return until == ReadUntil::kHeader ? parser.is_header_done() : parser.is_done();
  };
  const BufferedStep step = ParseBufferedStep(buffer, parser, until);
  if (step.settled) co_return step.read;
  auto [ec, used] = step.read;
  // After need_more the bytes left wait for a read; otherwise what is left is parsed first.
  bool parse = ec != http::error::need_more && buffer.size() > 0;
  while (true) {
    // One read_some: parse what is buffered, read only while the parser needs more.
    while (true) {
      if (parse) {
        const size_t taken = parser.put(buffer.data(), ec);
        used += taken;
        buffer.consume(taken);
        if (ec != http::error::need_more) break;
      }
      parse = true;
      // Beast's read_size for a flat_buffer: what is free, at least 512 and at most 64 KiB.
      const size_t size = std::min(std::max<size_t>(512, buffer.capacity() - buffer.size()),
                                   std::min<size_t>(65536, buffer.max_size() - buffer.size()));
      if (size == 0) {
        ec = http::error::buffer_overflow;
        break;
      }
      auto [read_ec, read] = co_await stream.async_read_some(buffer.prepare(size), kTuple);
      buffer.commit(read);
      ec = read_ec;
      if (ec == boost::asio::error::eof) {
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
    parse = buffer.size() > 0;
  }
}

}  // namespace pdgate
