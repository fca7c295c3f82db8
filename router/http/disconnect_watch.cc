#include "router/http/disconnect_watch.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

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

Task<void> WatchClient(Socket& client, std::shared_ptr<DisconnectWatch> watch) {
  auto [ec] = co_await client.async_wait(Socket::wait_read, kTuple);
  if (ec) co_return;  // cancelled: the request finished first
  char byte;
  const ssize_t n = ::recv(client.native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))) co_return;
  watch->client_gone = true;
  watch->CloseLegs();
  for (auto& callback : watch->on_gone) callback();
}

}  // namespace pdgate::router
