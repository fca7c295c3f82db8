#pragma once
// The client's response to a relayed engine answer, written without Beast's serializer: the head
// is formatted once, and each piece of the body goes out in one gather write (the head with the
// first piece, chunk framing around each piece when the length is unknown). Beast's serializer
// walks a five-part buffer view per write, about a fifth of pdgate's instructions per request.
#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "router/http/header_text.h"
#include "router/http/net.h"

namespace pdgate::router {

class RelayedResponse {
 public:
  explicit RelayedResponse(int status);

  int status() const { return status_; }

  // Before the first Write. A value with CR or LF is left out (it would split the head).
  void Set(FieldName name, std::string_view value);
  // The same for a name not written in the code, which is checked too.
  void SetChecked(std::string_view name, std::string_view value);
  // A whole constant field, e.g. "Content-Type: application/json\r\n".
  void Add(FieldLine line) { head_ += line.view(); }
  void KeepAlive(bool keep_alive) { keep_alive_ = keep_alive; }
  // Without a content length the body is chunked.
  void ContentLength(uint64_t length) { content_length_ = length; }

  // Writes `data` (the head first, once). `last`: the body ends with it. False on a write error.
  Task<bool> Write(Stream& client, std::string_view data, bool last);
  // What Write writes, for a caller that writes it itself (a coroutine frame less per write):
  // the buffers in `parts`, their count returned (0: nothing to write). They point into `data`
  // and into this object, valid until the next Prepare.
  using Parts = std::array<net::const_buffer, 5>;
  size_t Prepare(std::string_view data, bool last, Parts& parts);
  // What a short write of `written` bytes left of the first `count` parts, into `rest`; its count.
  static size_t Rest(const Parts& parts, size_t count, size_t written, Parts& rest);

  // The head as it goes out (tests).
  std::string FinishedHead() const;

 private:
  void FinishHead();

  int status_;
  std::string head_;
  bool keep_alive_ = true;
  bool head_finished_ = false;
  bool head_sent_ = false;
  int64_t content_length_ = -1;  // -1: chunked
  // The chunk-size line of the piece being written. std::array, not a C array: GCC 12
  // miscompiles C arrays held across co_await.
  std::array<char, 20> size_line_{};
};

}  // namespace pdgate::router
