#pragma once
// The client side of one completion request. Every answer goes out through here, so the headers
// every answer carries (x-request-id, a limited route's x-ratelimit-*), whether bytes reached the
// client (no retry from then on), whether the connection stays open, and the status the observer
// records are kept in one place.
#include <optional>
#include <string>
#include <string_view>

#include "router/flow/request_observer.h"
#include "router/http/client_io.h"
#include "router/http/disconnect_watch.h"
#include "router/http/relayed_response.h"

namespace pdgate::router {

class DownstreamWriter {
 public:
  // `keep_alive`: the session's; set false when the connection must close after this request.
  DownstreamWriter(Stream& client, bool& keep_alive, RequestObserver& observer,
                   std::string request_id);

  const std::string& request_id() const { return headers_.front().second; }
  // Headers for every answer from now on (x-ratelimit-* once the limits admitted the request).
  void AddHeaders(const HeaderList& headers);
  const HeaderList& headers() const { return headers_; }

  // A complete answer in the OpenAI error shape. `origin` (access log): who caused it.
  // `retry_after`: adds Retry-After: 1 (nothing can serve now). `extra`: headers of this answer
  // only (a rate limit's refusal).
  Task<void> SendError(const ErrorInfo& error, std::string_view origin, bool retry_after = false,
                       const HeaderList& extra = kNoHeaders);
  // An engine's own error answer, passed on with its status (`body` is moved from).
  Task<void> SendEngineAnswer(int status, std::string& body, std::string_view origin);

  // One piece of a relayed answer (the head goes with the first). From the first piece on, the
  // answer belongs to the client. `idle`: how long the client may take to accept it.
  // Writes what the client's socket takes now: true when the piece went out whole, false when the
  // client is gone (the connection then closes), nullopt when a slow reader left some for
  // RelayRest, which the caller awaits before anything else touches the client.
  // Not a coroutine: a piece that goes out at once costs no frame.
  std::optional<bool> Relay(RelayedResponse& response, std::string_view data, bool last,
                            bool event_stream, Clock::duration idle);
  Task<bool> RelayRest();

  bool committed() const { return committed_; }
  bool keep_alive() const { return keep_alive_; }
  // The connection closes after this request (the client left, or the answer broke off).
  void Close() { keep_alive_ = false; }
  // The disconnect watch on this client (WatchClient), which StopWatching stops.
  void Watching(DisconnectWatch* watch) { watch_ = watch; }
  // Stops the disconnect watch's read on the client socket (before the last write, so a
  // pipelined next request does not wake it for nothing).
  void StopWatching();
  Stream& client() { return client_; }

 private:
  Stream& client_;
  bool& keep_alive_;
  RequestObserver& observer_;
  HeaderList headers_;  // x-request-id first, and only appended to
  bool committed_ = false;
  DisconnectWatch* watch_ = nullptr;
  RelayedResponse::Parts rest_;  // what Relay left for RelayRest
  size_t rest_count_ = 0;
};

}  // namespace pdgate::router
