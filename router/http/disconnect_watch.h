#pragma once
// Notices a client that goes away while its request waits on engines, and closes every live
// upstream leg at once: closing the connection is how vLLM learns to abort (it has no abort
// endpoint), and an engine that is not told keeps computing, or holds KV blocks for minutes.
#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "router/http/net.h"

namespace pdgate::router {

class WatchQueue;

struct DisconnectWatch : std::enable_shared_from_this<DisconnectWatch> {
  bool client_gone = false;
  bool stopped = false;  // the request is done: a late handler must not touch the client socket
  std::vector<Stream*> legs;                   // upstream streams open right now
  std::vector<std::function<void()>> on_gone;  // e.g. SGLang's /abort_request
  // The watched client socket (WatchClient, or WatchQueue::Add before the wait starts).
  Socket* client = nullptr;
  // While it waits in a WatchQueue (router/http/watch_queue.h): the queue, when its wait is due,
  // and its neighbours there.
  WatchQueue* queue = nullptr;
  std::chrono::steady_clock::time_point due;
  DisconnectWatch* prev = nullptr;
  DisconnectWatch* next = nullptr;

  void Add(Stream* leg) { legs.push_back(leg); }
  void Remove(Stream* leg);
  void CloseLegs();
  // The request is done: a watch still queued leaves its queue (no wait was started), a started
  // one's wait is cancelled (client->cancel()). Once only.
  void Stop();
};

// Waits for the client socket to turn readable while a request is in progress. EOF or an error
// means the client left; data means it pipelined its next request, which cannot be told apart
// from a later close, so the watch ends. Stopped by setting `stopped` and cancelling with
// client.socket().cancel(): a wait that completed just before the cancel still runs its handler,
// possibly after the session closed and freed the socket, so the handler looks at `stopped` first.
// A plain completion handler, not a spawned coroutine: one per request, and co_spawn's entry
// frames, dispatch and completion cost about 1,400 instructions and four allocations more.
void WatchClient(Socket& client, std::shared_ptr<DisconnectWatch> watch);

}  // namespace pdgate::router
