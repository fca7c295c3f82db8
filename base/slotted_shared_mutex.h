#pragma once
// A reader-writer lock for data that every io thread reads per request and that is written
// rarely. A reader counts itself on a cache line of its thread's own (threads are spread over
// kSlots lines) and only reads the writer's flag, so readers on different threads write no line
// in common: std::shared_mutex's reader count is one line that every reader writes, which moves
// between cores on every lock and unlock. A writer pays instead: it raises its flag and waits
// until every slot is empty, reading all kSlots lines. Writers go first: once a writer has
// raised its flag, new readers wait for it. Both sides spin briefly, then sleep on a futex
// (std::atomic::wait): a thread holding the lock may have lost its core.
//
// Meets the standard SharedMutex requirements (std::shared_lock, std::unique_lock); not
// recursive, and a reader must not take the lock for writing.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <mutex>

namespace pdgate::base {

class SlottedSharedMutex {
 public:
  static constexpr size_t kSlots = 16;

  SlottedSharedMutex() = default;
  SlottedSharedMutex(const SlottedSharedMutex&) = delete;
  SlottedSharedMutex& operator=(const SlottedSharedMutex&) = delete;

  void lock_shared() {
    Slot& slot = slots_[ThreadSlot()];
    // Dekker's order: count ourselves, then look for a writer; the writer raises its flag, then
    // looks at the counts. Sequentially consistent on both sides, so one of the two sees the other.
    slot.readers.fetch_add(1, std::memory_order_seq_cst);
    if (writer_.load(std::memory_order_seq_cst) == 0) [[likely]]
      return;
    WaitForWriter(slot);
  }
  bool try_lock_shared() {
    Slot& slot = slots_[ThreadSlot()];
    slot.readers.fetch_add(1, std::memory_order_seq_cst);
    if (writer_.load(std::memory_order_seq_cst) == 0) return true;
    Leave(slot);
    return false;
  }
  void unlock_shared() { Leave(slots_[ThreadSlot()]); }

  void lock();
  bool try_lock();
  void unlock();

  // The slot of the calling thread (threads are numbered as they first take a lock).
  static size_t ThreadSlot() {
    thread_local const size_t slot = NextThread() % kSlots;
    return slot;
  }

 private:
  struct alignas(64) Slot {
    std::atomic<uint32_t> readers{0};
  };

  static size_t NextThread();
  // The last reader of a slot wakes a writer that may be asleep on it (one that did not get the
  // core back from a reader preempted while it held the lock).
  void Leave(Slot& slot) {
    if (slot.readers.fetch_sub(1, std::memory_order_seq_cst) == 1 &&
        writer_.load(std::memory_order_seq_cst) != 0) [[unlikely]] {
      slot.readers.notify_all();
    }
  }
  void WaitForWriter(Slot& slot);

  std::array<Slot, kSlots> slots_;
  alignas(64) std::atomic<uint32_t> writer_{0};  // read by every reader, written by writers only
  std::mutex writers_;                           // one writer at a time
};

}  // namespace pdgate::base
