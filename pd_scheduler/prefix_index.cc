#include "pd_scheduler/prefix_index.h"

#include <xxhash.h>

#include <algorithm>
#include <mutex>
#include <shared_mutex>
#include <thread>

#include "pd_scheduler/prefix_index_state.h"

namespace pdgate::pd_scheduler {

using prefix_index_internal::HandedRecord;

namespace {

// Records waiting for the writer at most; past it, a thread waits for its turn (the writer is
// slower than the threads handing records over).
constexpr size_t kMaxHandedRecords = 1024;
// Rounds of handed records a thread writes before it goes back to its own work; what is left
// waits for the next record or lookup.
constexpr int kHandedRounds = 4;
// Records written per hold of the write lock: readers wait for a few records at a time, not
// for a whole queue (a writer preempted while it holds the lock still holds them up, for less).
constexpr size_t kRecordsPerHold = 16;

}  // namespace

std::vector<uint64_t> HashPromptBlocks(std::string_view model, std::string_view prompt,
                                       size_t block_bytes, size_t max_blocks) {
  std::vector<uint64_t> hashes;
  if (block_bytes == 0) return hashes;
  const size_t blocks = std::min(prompt.size() / block_bytes, max_blocks);
  hashes.reserve(blocks);
  uint64_t previous = XXH3_64bits(model.data(), model.size());
  for (size_t i = 0; i < blocks; ++i) {
    previous = XXH3_64bits_withSeed(prompt.data() + i * block_bytes, block_bytes, previous);
    hashes.push_back(previous);
  }
  return hashes;
}

PrefixIndex::PrefixIndex(size_t max_entries_per_endpoint)
    : capacity_(std::max<size_t>(1, max_entries_per_endpoint)), state_(std::make_unique<State>()) {}

PrefixIndex::~PrefixIndex() = default;

void PrefixIndex::Match(std::span<const uint64_t> hashes, size_t top_k,
                        std::vector<PrefixMatch>& out) const {
  if (hashes.empty()) {
    out.clear();
    return;
  }
  {
    std::shared_lock lock(mutex_);
    state_->MatchHeld(hashes, top_k, out);
  }
  WriteHandedRecords();
}

void PrefixIndex::Lookup(std::span<const uint32_t> slots, std::span<const uint64_t> hashes,
                         size_t top_k, std::vector<int64_t>& room,
                         std::vector<PrefixMatch>& matches) const {
  room.assign(slots.size(), -1);
  {
    std::shared_lock lock(mutex_);
    state_->RoomOf(slots, capacity_, room);
    state_->MatchHeld(hashes, top_k, matches);
  }
  WriteHandedRecords();
}

void PrefixIndex::Record(std::span<const uint64_t> hashes, uint32_t slot) {
  if (hashes.empty()) return;
  State& s = *state_;
  {
    // Under a shared prompt the endpoint holds every block already, or all but the last few:
    // what it holds is marked under the shared lock, only the rest is written. (A block evicted
    // in between leaves a gap in the chain until a record of it fills the gap again.)
    std::shared_lock shared(mutex_);
    hashes = hashes.subspan(s.MarkHeld(hashes, slot));
  }
  if (hashes.empty()) return;
  if (!s.writing.exchange(true, std::memory_order_seq_cst)) {
    WriteInTurn(hashes, slot);
  } else {
    bool handed = false;
    {
      std::lock_guard lock(s.queue_mutex);
      if (s.queue.size() < kMaxHandedRecords) {
        s.queue.push_back(HandedRecord{slot, {hashes.begin(), hashes.end()}});
        handed = true;
      }
    }
    if (handed) {
      // Counted after it is queued: a writer reads the count after it gives its turn back, so
      // either it sees this record or this thread gets the turn below.
      s.handed.fetch_add(1, std::memory_order_seq_cst);
    } else {
      while (s.writing.exchange(true, std::memory_order_seq_cst)) std::this_thread::yield();
      WriteInTurn(hashes, slot);
    }
  }
  WriteHandedRecords();
}

void PrefixIndex::WriteInTurn(std::span<const uint64_t> hashes, uint32_t slot) const {
  State& s = *state_;
  thread_local std::vector<HandedRecord> handed;
  handed.clear();
  // A record queued and not yet counted is left: its thread takes the turn after counting it,
  // or finds it taken, and then the writer that gives it back sees the count.
  if (s.handed.load(std::memory_order_seq_cst) != 0) {
    std::lock_guard lock(s.queue_mutex);
    handed.swap(s.queue);
  }
  // The turn goes back however this ends (an insert that cannot allocate throws).
  struct GiveTurnBack {
    std::atomic<bool>& writing;
    ~GiveTurnBack() { writing.store(false, std::memory_order_seq_cst); }
  } give_back{s.writing};
  if (!handed.empty()) {
    s.handed.fetch_sub(int64_t(handed.size()), std::memory_order_seq_cst);
    s.handed_total.fetch_add(handed.size(), std::memory_order_relaxed);
  }
  bool own = !hashes.empty();
  for (size_t next = 0; own || next < handed.size();) {
    std::unique_lock lock(mutex_);
    size_t written = 0;
    if (own) {
      s.Insert(hashes, slot, capacity_);
      own = false;
      ++written;
    }
    for (; next < handed.size() && written < kRecordsPerHold; ++next, ++written) {
      s.Insert(handed[next].hashes, handed[next].slot, capacity_);
    }
  }
  handed.clear();  // frees the records' hashes now rather than at this thread's next write
}

void PrefixIndex::WriteHandedRecords() const {
  State& s = *state_;
  for (int round = 0; round < kHandedRounds; ++round) {
    if (s.handed.load(std::memory_order_seq_cst) == 0) return;
    if (s.writing.exchange(true, std::memory_order_seq_cst)) return;  // its writer sees them
    WriteInTurn({}, 0);
  }
}

void PrefixIndex::SetCapacity(uint32_t slot, size_t entries) {
  {
    // Called for every endpoint on every scrape: the same size takes no write lock.
    std::shared_lock shared(mutex_);
    auto it = state_->capacity.find(slot);
    if (entries == 0 ? it == state_->capacity.end()
                     : it != state_->capacity.end() && it->second == entries) {
      return;
    }
  }
  std::unique_lock lock(mutex_);
  State& s = *state_;
  if (entries == 0) {
    s.capacity.erase(slot);
    return;
  }
  if (s.removed.contains(slot)) return;  // a size scraped before the prune, set after it
  s.capacity[slot] = entries;
  auto it = s.lru.find(slot);
  if (it == s.lru.end()) return;
  size_t second_chances = it->second.size();  // unbounded: a shrink makes all the room it must
  s.Trim(slot, it->second, s.LimitOf(slot, capacity_), second_chances);
}

void PrefixIndex::Room(std::span<const uint32_t> slots, std::vector<int64_t>& out) const {
  out.assign(slots.size(), -1);
  std::shared_lock lock(mutex_);
  state_->RoomOf(slots, capacity_, out);
}

void PrefixIndex::RemoveEndpoint(uint32_t slot) {
  std::unique_lock lock(mutex_);
  state_->Remove(slot);
}

EndpointBlocks PrefixIndex::Blocks(uint32_t slot) const {
  WriteHandedRecords();  // writes what waits unless another thread is writing it
  std::shared_lock lock(mutex_);
  const State& s = *state_;
  EndpointBlocks blocks;
  if (auto it = s.lru.find(slot); it != s.lru.end()) blocks.held = it->second.size();
  if (auto it = s.capacity.find(slot); it != s.capacity.end())
    blocks.capacity = int64_t(it->second);
  return blocks;
}

PrefixIndexStats PrefixIndex::stats() const {
  WriteHandedRecords();
  std::shared_lock lock(mutex_);
  PrefixIndexStats stats;
  stats.entries = state_->entries;
  stats.evictions = state_->evictions;
  stats.handed_records = state_->handed_total.load(std::memory_order_relaxed);
  for (const State::LookupCounts& counts : state_->counts) {
    stats.lookups += counts.lookups.load(std::memory_order_relaxed);
    stats.looked_up_blocks += counts.looked_up_blocks.load(std::memory_order_relaxed);
    stats.matched_blocks += counts.matched_blocks.load(std::memory_order_relaxed);
  }
  return stats;
}

}  // namespace pdgate::pd_scheduler
