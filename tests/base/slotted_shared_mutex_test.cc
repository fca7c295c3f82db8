// The slotted reader-writer lock: writers exclude readers and each other; readers share.
#include "base/slotted_shared_mutex.h"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <vector>

using pdgate::base::SlottedSharedMutex;

TEST_CASE(
    "slotted lock: readers never see a writer's half-done update, writers exclude each other") {
  SlottedSharedMutex mutex;
  // Plain integers: a reader that ran beside a writer would see them differ (and TSan would
  // report the race).
  uint64_t first = 0, second = 0;
  std::atomic<uint64_t> torn{0}, reads{0};
  constexpr int kWriters = 2, kReaders = 20, kWrites = 2000;  // more readers than slots
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&] {
      for (int i = 0; i < kWrites; ++i) {
        std::unique_lock lock(mutex);
        ++first;
        ++second;
      }
    });
  }
  std::atomic<int> writers_done{0};
  for (int r = 0; r < kReaders; ++r) {
    threads.emplace_back([&] {
      do {
        std::shared_lock lock(mutex);
        if (first != second) torn.fetch_add(1);
        reads.fetch_add(1);
      } while (writers_done.load() < kWriters);
    });
  }
  for (int w = 0; w < kWriters; ++w) {
    threads[size_t(w)].join();
    writers_done.fetch_add(1);
  }
  for (size_t t = kWriters; t < threads.size(); ++t) threads[t].join();
  CHECK(first == uint64_t{kWriters} * kWrites);
  CHECK(second == first);
  CHECK(torn.load() == 0);
  CHECK(reads.load() >= uint64_t{kReaders});
}

TEST_CASE("slotted lock: readers share it, a writer waits for the last of them") {
  SlottedSharedMutex mutex;
  std::shared_lock one(mutex);
  {
    std::shared_lock two(mutex);  // same thread, same slot: counted twice
    CHECK_FALSE(mutex.try_lock());
  }
  CHECK_FALSE(mutex.try_lock());
  std::atomic<bool> written{false};
  std::thread writer([&] {
    std::unique_lock lock(mutex);
    written.store(true);
  });
  // The writer cannot finish while a reader holds the lock; once it has raised its flag, a
  // new reader on another thread backs off until it is done.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(written.load());
  one.unlock();
  writer.join();
  CHECK(written.load());
  CHECK(mutex.try_lock());
  std::atomic<bool> read{false};
  std::thread reader([&] {
    std::shared_lock lock(mutex);
    read.store(true);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  CHECK_FALSE(read.load());
  mutex.unlock();
  reader.join();
  CHECK(read.load());
  CHECK(mutex.try_lock_shared());
  mutex.unlock_shared();
}
