#include "router/http/deadline_stream.h"

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <array>
#include <cerrno>

namespace pdgate::router {

DeadlineStream::DeadlineStream(const Executor& executor)
    : state_(std::make_shared<State>(Socket(executor))) {}

DeadlineStream::DeadlineStream(Socket socket)
    : state_(std::make_shared<State>(std::move(socket))) {}

DeadlineStream::~DeadlineStream() {
  // The state lives on while completions are queued; what it holds must not wait for them.
  try {
    state_->Close();
  } catch (...) {  // cancelling a timer is declared to throw; it does not in practice
  }
}

void DeadlineStream::cancel() {
  beast::error_code ignored;
  state_->socket.cancel(ignored);
}

std::size_t DeadlineStream::WriteNow(std::span<const net::const_buffer> buffers,
                                     beast::error_code& ec) {
  ec = {};
  if (!state_->socket.is_open()) {
    ec = state_->timed_out ? beast::error_code(beast::error::timeout)
                           : beast::error_code(net::error::bad_descriptor);
    return 0;
  }
  std::array<iovec, 8> iov;  // more pieces than this are left to the asynchronous write
  const size_t count = std::min(buffers.size(), iov.size());
  for (size_t i = 0; i < count; ++i) {
    iov[i].iov_base = const_cast<void*>(buffers[i].data());
    iov[i].iov_len = buffers[i].size();
  }
  msghdr message{};
  message.msg_iov = iov.data();
  message.msg_iovlen = count;
  while (true) {
    // MSG_DONTWAIT whatever the descriptor's mode; MSG_NOSIGNAL: a closed peer is EPIPE, as in
    // Asio.
    const ssize_t sent =
        ::sendmsg(state_->socket.native_handle(), &message, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (sent >= 0) return size_t(sent);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      ec = beast::error_code(errno, net::error::get_system_category());
    }
    return 0;
  }
}

std::size_t BuffersAfter(std::span<const net::const_buffer> buffers, std::size_t written,
                         net::const_buffer* rest) {
  size_t kept = 0;
  for (const net::const_buffer& piece : buffers) {
    if (written >= piece.size()) {
      written -= piece.size();
      continue;
    }
    rest[kept++] = piece + written;
    written = 0;
  }
  return kept;
}

void DeadlineStream::close() { state_->Close(); }

void DeadlineStream::State::Arm() {
  ++arms;
  armed = deadline;
  timer.expires_at(deadline);  // a wait for a later time ends as aborted; Fired() ignores it
  timer.async_wait([self = shared_from_this(), at = deadline](const beast::error_code& ec) {
    self->Fired(ec, at);
  });
}

void DeadlineStream::State::Fired(const beast::error_code& ec, Clock::time_point at) {
  if (at != armed) return;  // a later Arm() or Close() took the timer over
  armed = Clock::time_point::max();
  if (ec || pending == 0) return;  // the next operation arms it again
  if (deadline == Clock::time_point::max()) return;
  if (deadline > Clock::now()) {
    Arm();  // moved later while this wait ran
    return;
  }
  timed_out = true;
  beast::error_code ignored;
  socket.close(ignored);
}

void DeadlineStream::State::Close() {
  beast::error_code ignored;
  socket.close(ignored);
  armed = Clock::time_point::max();
  timer.cancel();
}

}  // namespace pdgate::router
