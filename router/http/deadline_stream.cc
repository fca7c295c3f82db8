#include "router/http/deadline_stream.h"

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
