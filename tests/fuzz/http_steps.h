#pragma once
// Puts `input` into an HTTP parser the way a reader does whose first read brought only `split`
// bytes: each put gets the bytes not yet taken, and the rest of the input once it "came". Returns
// what each put said (error, bytes taken, header done, message done), so that two parsers can be
// compared step by step: the cuts inside a head, a chunk line or a trailer that a whole-input
// put never makes.
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace pdgate::fuzz {

template <class Parser>
std::string PutInSteps(Parser& parser, std::string_view input, size_t split) {
  std::string trace;
  size_t taken = 0;
  size_t given = split;
  for (int step = 0; step < 256 && !parser.is_done(); ++step) {
    boost::system::error_code ec;
    const size_t n = parser.put(boost::asio::buffer(input.data() + taken, given - taken), ec);
    taken += n;
    trace += ec.message() + ' ' + std::to_string(n) + (parser.is_header_done() ? " h" : " -") +
             (parser.is_done() ? "d;" : "-;");
    if (ec && ec != boost::beast::http::error::need_more) break;
    if (given == input.size() && (n == 0 || taken == input.size())) break;
    given = input.size();
  }
  return trace;
}

}  // namespace pdgate::fuzz
