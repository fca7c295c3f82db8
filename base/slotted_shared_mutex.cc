#include "base/slotted_shared_mutex.h"

namespace pdgate::base {
namespace {

// Readers hold the lock for a lookup (about a microsecond): spin briefly, then give the core
// away; a writer waits on readers the same way.
void Pause() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

size_t SlottedSharedMutex::NextThread() {
  static std::atomic<size_t> next{0};
  return next.fetch_add(1, std::memory_order_relaxed);
}

void SlottedSharedMutex::WaitForWriter(Slot& slot) {
  for (;;) {
    Leave(slot);
    // A write takes about as long as a read: spin through it before sleeping in the kernel.
    for (int i = 0; i < 256 && writer_.load(std::memory_order_relaxed) != 0; ++i) Pause();
    writer_.wait(1, std::memory_order_relaxed);
    slot.readers.fetch_add(1, std::memory_order_seq_cst);
    if (writer_.load(std::memory_order_seq_cst) == 0) return;
  }
}

void SlottedSharedMutex::lock() {
  writers_.lock();
  writer_.store(1, std::memory_order_seq_cst);
  for (Slot& slot : slots_) {
    for (int i = 0; i < 256 && slot.readers.load(std::memory_order_seq_cst) != 0; ++i) Pause();
    for (uint32_t readers; (readers = slot.readers.load(std::memory_order_seq_cst)) != 0;) {
      slot.readers.wait(readers, std::memory_order_seq_cst);
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
