#include "router/http/client_request.h"

#include <algorithm>
#include <boost/beast/core/string.hpp>
#include <cstring>

#include "router/openai/openai_request.h"

namespace pdgate::router {

std::string_view ClientRequest::operator[](std::string_view name) const {
  for (const Entry& entry : fields_) {
    if (entry.name_size == name.size() &&
        boost::beast::iequals(Text(entry.name_at, entry.name_size), name)) {
      return Text(entry.value_at, entry.value_size);
    }
  }
  return {};
}

ClientRequest::Field ClientRequest::field(size_t i) const {
  const Entry& entry = fields_[i];
  return {Text(entry.name_at, entry.name_size), Text(entry.value_at, entry.value_size)};
}

void ClientRequest::Grow(size_t more) {
  // A head is under the parser's header limit (uint32_t), so are the offsets into its copy.
  const auto capacity =
      uint32_t(std::max<size_t>(size_t{2} * text_capacity_, text_size_ + more + 256));
  auto grown = std::make_unique_for_overwrite<char[]>(capacity);
  if (text_size_ != 0) std::memcpy(grown.get(), text_.get(), text_size_);
  text_ = std::move(grown);
  text_capacity_ = capacity;
}

ClientRequestParser::ClientRequestParser(ClientRequest& request)
    : Http1Parser(/*request=*/true), request_(request) {
  request_.text_size_ = 0;
  request_.fields_.clear();
  request_.method_ = http::verb::unknown;
  request_.method_size_ = request_.target_size_ = 0;
  request_.body_ = std::string();
}

void ClientRequestParser::OnRequestLine(std::string_view method_string, std::string_view target,
                                        int version, error_code&) {
  request_.method_ = http::string_to_verb(method_string);
  request_.method_size_ = uint32_t(method_string.size());
  request_.method_at_ = request_.Keep(method_string);
  request_.target_size_ = uint32_t(target.size());
  request_.target_at_ = request_.Keep(target);
  request_.version_ = version;
}

void ClientRequestParser::OnField(std::string_view name, std::string_view value, error_code&) {
  // A chunked body's trailer fields are dropped: they must not pose as head fields (a trailing
  // Authorization forwarded to an engine), and appending them could move the text that the
  // session's views of the target point into.
  if (is_header_done()) return;
  ClientRequest::Entry entry{0, uint32_t(name.size()), 0, uint32_t(value.size())};
  entry.name_at = request_.Keep(name);
  entry.value_at = request_.Keep(value);
  request_.fields_.push_back(entry);
}

void ClientRequestParser::OnHeader(error_code&) { request_.keep_alive_ = keep_alive(); }

// RFC 9110 forbids Connection in a trailer; one that says close is obeyed all the same (closing
// is always safe; the session reads keep_alive() again after the body), as Beast reports it.
void ClientRequestParser::OnFinish(error_code&) { request_.keep_alive_ = keep_alive(); }

void ClientRequestParser::OnBodyInit(std::optional<uint64_t> content_length, error_code&) {
  // The limit was checked against Content-Length before this; the padding spares simdjson a
  // copy of the body into a larger buffer.
  if (content_length) request_.body_.reserve(size_t(*content_length) + kJsonPadding);
}

size_t ClientRequestParser::OnBody(std::string_view body, error_code&) {
  request_.body_.append(body.data(), body.size());
  return body.size();
}

}  // namespace pdgate::router
