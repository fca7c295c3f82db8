#include "router/http/disconnect_watch.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

#include "discovery/uncaught.h"
#include "router/http/watch_queue.h"

namespace pdgate::router {

void DisconnectWatch::Remove(Stream* leg) {
  legs.erase(std::remove(legs.begin(), legs.end(), leg), legs.end());
}

void DisconnectWatch::CloseLegs() {
  for (Stream* leg : legs) {
    beast::error_code ignored;
    leg->socket().close(ignored);
  }
  legs.clear();
}

void DisconnectWatch::Stop() {
  // A wait that completed before this cancel still has its handler queued, and it may run after
  // the session closed the socket: the flag tells it not to look at the socket.
  if (stopped) return;
  stopped = true;
  if (queue != nullptr) {
    queue->Remove(*this);  // its wait never started: nothing to cancel
    return;
  }
  if (client != nullptr) {
    beast::error_code ignored;
    client->cancel(ignored);
  }
}

void WatchClient(Socket& client, std::shared_ptr<DisconnectWatch> watch) {
  watch->client = &client;
  client.async_wait(
      Socket::wait_read, [&client, watch = std::move(watch)](const beast::error_code& ec) {
        if (ec || watch->stopped) return;  // the request finished first
        char byte;
        const ssize_t n = ::recv(client.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) return;
        watch->client_gone = true;
        // Reported as a spawned coroutine's would be: an exception must not leave io_context::run.
        try {
          watch->CloseLegs();
          for (auto& callback : watch->on_gone) callback();
        } catch (...) {
          ReportUncaught{SpawnSite::kDisconnectWatch}(std::current_exception());
        }
      });
}

}  // namespace pdgate::router
