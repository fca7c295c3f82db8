#pragma once
// A request to an engine, formatted once: the head (request line and fields) in one string, the
// body in another, written with one gather write. Beast's request serializer walked a five-part
// buffer view per write, a tenth of pdgate's instructions per request.
#include <array>
#include <string>
#include <string_view>

#include "router/http/header_text.h"
#include "router/http/net.h"

namespace pdgate::router {

class LegRequest {
 public:
  // POST `target` (the client's, validated by its parser) to `host`, HTTP/1.1 keep-alive.
  LegRequest(std::string_view target, std::string_view host);

  // Before SetBody. A field with CR or LF is left out: it would split the head.
  void Set(FieldName name, std::string_view value);
  // The same for a name not written in the code, which is checked too.
  void SetChecked(std::string_view name, std::string_view value);
  // A whole constant field, e.g. "Content-Type: application/json\r\n".
  void Add(FieldLine line) { head_ += line.view(); }
  // Ends the head with the body's Content-Length.
  void SetBody(std::string body);
  // The same for bytes the request does not own (the client's body, sent as it came), which
  // must outlive it.
  void SetBodyView(std::string_view body);

  const std::string& head() const { return head_; }
  std::string_view body() const { return borrowed_ ? borrowed_body_ : std::string_view(body_); }
  std::array<net::const_buffer, 2> Buffers() const {
    const std::string_view bytes = body();
    return {net::buffer(head_), net::buffer(bytes.data(), bytes.size())};
  }
  size_t size() const { return head_.size() + body().size(); }

 private:
  std::string head_;
  std::string body_;
  // Not a view of body_ when it is ours: a moved request's short body moves to other storage.
  std::string_view borrowed_body_;
  bool borrowed_ = false;
};

}  // namespace pdgate::router
