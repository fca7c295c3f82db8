#include "base/slotted_shared_mutex.h"

namespace pdgate::base {
namespace {

// Waits while `value` holds `current`. The lock is held for about a microsecond (a lookup, a
// write): spin through that first, then sleep on the futex.
void SpinThenWait(const std::atomic<uint32_t>& value, uint32_t current) {
  for (int i = 0; i < 256 && value.load(std::memory_order_seq_cst) == current; ++i) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
  }
  value.wait(current, std::memory_order_seq_cst);
}

}  // namespace

size_t SlottedSharedMutex::NextThread() {
  static std::atomic<size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void SlottedSharedMutex::WaitForWriter(Slot& slot) {
  for (;;) {
    Leave(slot);
    SpinThenWait(writer_, 1);
    slot.readers.fetch_add(1, std::memory_order_seq_cst);
    if (writer_.load(std::memory_order_seq_cst) == 0) return;
  }
}

void SlottedSharedMutex::lock() {
  writers_.lock();
  writer_.store(1, std::memory_order_seq_cst);
  for (Slot& slot : slots_) {
    for (uint32_t readers; (readers = slot.readers.load(std::memory_order_seq_cst)) != 0;) {
      SpinThenWait(slot.readers, readers);
    }
  }
}

bool SlottedSharedMutex::try_lock() {
  if (!writers_.try_lock()) return false;
  writer_.store(1, std::memory_order_seq_cst);
  for (Slot& slot : slots_) {
    if (slot.readers.load(std::memory_order_seq_cst) != 0) {
      unlock();
      return false;
    }
  }
  return true;
}

void SlottedSharedMutex::unlock() {
  writer_.store(0, std::memory_order_release);
  writer_.notify_all();
  writers_.unlock();
}

}  // namespace pdgate::base
