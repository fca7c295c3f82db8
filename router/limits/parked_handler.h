#pragma once
// A coroutine parked on a command: its completion handler, type-erased. (Boost 1.81's
// any_completion_handler recurses endlessly when moved from an lvalue.) Used by
// redis_connection.cc; a header of its own because it is a template that needs no Asio.
#include <memory>
#include <utility>

namespace pdgate::limits {

class Parked {
 public:
  template <class Handler>
  void Park(Handler handler) {
    resume_ = std::make_unique<Holder<Handler>>(std::move(handler));
  }
  explicit operator bool() const { return resume_ != nullptr; }
  void Resume() {
    std::unique_ptr<Resumable> resume = std::move(resume_);
    resume->Run();
  }

 private:
  struct Resumable {
    virtual ~Resumable() = default;
    virtual void Run() = 0;
  };
  template <class Handler>
  struct Holder final : Resumable {
    explicit Holder(Handler h) : handler(std::move(h)) {}
    void Run() override { std::move(handler)(); }
    Handler handler;
  };
  std::unique_ptr<Resumable> resume_;
};

}  // namespace pdgate::limits
