#pragma once
// The seam between the HTTP server and the simulator's handlers: a request as plain strings and a
// Responder to answer it. Handlers never see Beast, so most files compile without it.
//
// Responder methods may be called from any thread, at any time: they post onto the connection's
// strand, and are ignored once the exchange is over (answered, or the client went away).
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace pdgate::sim {

struct IncomingRequest {
  std::string method;
  std::string target;  // path and query
  std::string body;
  std::string request_id_header;  // X-Request-Id
  std::string authorization;
};

class Responder {
 public:
  virtual ~Responder() = default;
  // A whole response (Content-Length framing).
  virtual void Reply(int status, std::string content_type, std::string body) = 0;
  // 200, text/event-stream, chunked; then Send() event bytes and EndStream().
  virtual void StartStream() = 0;
  virtual void Send(std::string bytes) = 0;
  virtual void EndStream() = 0;
  // Closes the connection at once (fault injection).
  virtual void Drop() = 0;
  // Called once, on the connection's strand, if the client closes the connection before the
  // exchange is over (vLLM's with_cancellation: a disconnect aborts the request).
  virtual void OnClientGone(std::function<void()> callback) = 0;
};

using RequestHandler =
    std::function<void(IncomingRequest request, std::shared_ptr<Responder> responder)>;

}  // namespace pdgate::sim
