// ThreadLocalHandle: an io thread's copies of its state handle count on a count of their own.
#include "router/runtime/router_state.h"

#include <catch2/catch.hpp>
#include <memory>

using pdgate::router::RouterState;
using pdgate::router::ThreadLocalHandle;

TEST_CASE("a thread-local state handle pins the state with a count of its own") {
  auto shared = std::make_shared<const RouterState>();
  const RouterState* raw = shared.get();
  auto first = ThreadLocalHandle(shared);
  auto second = ThreadLocalHandle(shared);
  CHECK(first.get() == raw);
  CHECK(second.get() == raw);
  CHECK(shared.use_count() == 3);  // the handles hold one reference each

  // A request's pin writes its thread's count only.
  {
    const std::shared_ptr<const RouterState> pin = first;
    CHECK(first.use_count() == 2);
    CHECK(second.use_count() == 1);
    CHECK(shared.use_count() == 3);
  }
  CHECK(first.use_count() == 1);

  // The state lives while any handle or pin does.
  std::weak_ptr<const RouterState> watch = shared;
  const std::shared_ptr<const RouterState> pin = second;
  shared.reset();
  first.reset();
  second.reset();
  CHECK_FALSE(watch.expired());
  CHECK(pin.get() == raw);
  CHECK(ThreadLocalHandle(nullptr) == nullptr);
}

TEST_CASE("a thread-local handle lets the state go with its last pin") {
  auto shared = std::make_shared<const RouterState>();
  std::weak_ptr<const RouterState> watch = shared;
  auto handle = ThreadLocalHandle(std::move(shared));
  auto pin = handle;
  handle.reset();
  CHECK_FALSE(watch.expired());
  pin.reset();
  CHECK(watch.expired());
}
