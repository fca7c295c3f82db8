#include "discovery/kv_block_index.h"

#include <absl/container/flat_hash_map.h>
#include <absl/container/inlined_vector.h>
#include <xxhash.h>

#include <algorithm>
#include <bit>
#include <deque>
#include <mutex>

namespace pdgate::discovery {

// Token ids are hashed as they lie in memory: little-endian uint32, the encoding the key names.
static_assert(std::endian::native == std::endian::little);

namespace {

uint64_t RootKey(std::string_view model) { return XXH3_64bits(model.data(), model.size()); }

uint64_t ChainKey(const uint32_t* tokens, uint32_t block_size, uint64_t previous) {
  return XXH3_64bits_withSeed(tokens, size_t{block_size} * sizeof(uint32_t), previous);
}

bool Indexed(const KvEvent& event) {
  const bool gpu = event.medium.empty() || event.medium == "GPU";
  const bool full = event.cache_spec_kind.empty() || event.cache_spec_kind == "full_attention";
  return gpu && full;
}

}  // namespace

std::vector<uint64_t> KvBlockKeys(std::string_view model, std::span<const uint32_t> tokens,
                                  uint32_t block_size, size_t max_blocks) {
  std::vector<uint64_t> keys;
  if (block_size == 0) return keys;
  const size_t blocks = std::min(tokens.size() / block_size, max_blocks);
  keys.reserve(blocks);
  uint64_t previous = RootKey(model);
  for (size_t i = 0; i < blocks; ++i) {
    previous = ChainKey(tokens.data() + i * block_size, block_size, previous);
    keys.push_back(previous);
  }
  return keys;
}

struct KvBlockIndex::State {
  // Its own cache line: a reader's lock is written by that reader (and the writer) only.
  struct alignas(64) ReaderSlot {
    std::mutex mutex;
  };
  struct Entry {
    uint64_t own = 0;
    uint64_t stamp = 0;  // which store of this engine hash `order` refers to
  };
  struct Holder {
    uint32_t endpoint = 0;
    uint32_t rank = 0;
    absl::flat_hash_map<uint64_t, Entry> blocks;  // engine hash → own key
  };
  struct Stored {
    uint32_t holder;
    uint64_t engine;
    uint64_t stamp;
  };
  // Holders of an own key, each with how many of its engine hashes map to it.
  using HolderCounts = absl::InlinedVector<std::pair<uint32_t, uint32_t>, 2>;

  size_t max_blocks;
  std::unique_ptr<ReaderSlot[]> readers;
  size_t reader_count = 0;
  absl::flat_hash_map<uint64_t, uint32_t> holder_ids;  // endpoint, rank, group → index
  std::vector<Holder> holders;
  absl::flat_hash_map<uint64_t, HolderCounts> held_by;  // own key → holders
  std::deque<Stored> order;                             // oldest store first (lazily pruned)
  uint64_t next_stamp = 1;
  KvIndexStats stats;

  // Ranks and KV groups are each an engine's own cache (a hybrid model can have several
  // full-attention groups publishing the same engine hashes).
  uint32_t HolderFor(uint32_t endpoint, uint32_t rank, uint32_t group) {
    const uint64_t id = uint64_t{endpoint} << 32 | uint64_t{rank & 0xffff} << 16 | (group & 0xffff);
    auto [it, added] = holder_ids.try_emplace(id, uint32_t(holders.size()));
    if (added) holders.push_back({endpoint, rank, {}});
    return it->second;
  }

  void Unhold(uint64_t own, uint32_t holder) {
    auto it = held_by.find(own);
    if (it == held_by.end()) return;
    HolderCounts& counts = it->second;
    for (size_t i = 0; i < counts.size(); ++i) {
      if (counts[i].first != holder) continue;
      if (--counts[i].second == 0) counts.erase(counts.begin() + std::ptrdiff_t(i));
      break;
    }
    if (counts.empty()) held_by.erase(it);
  }

  void Hold(uint64_t own, uint32_t holder) {
    HolderCounts& counts = held_by[own];
    for (auto& [id, count] : counts) {
      if (id == holder) {
        ++count;
        return;
      }
    }
    counts.emplace_back(holder, 1);
  }

  bool Remove(uint32_t holder, uint64_t engine) {
    auto& blocks = holders[holder].blocks;
    auto it = blocks.find(engine);
    if (it == blocks.end()) return false;
    Unhold(it->second.own, holder);
    blocks.erase(it);
    --stats.entries;
    return true;
  }

  void Store(uint32_t holder, uint64_t engine, uint64_t own) {
    Remove(holder, engine);  // a hash stored again replaces what it named
    const uint64_t stamp = next_stamp++;
    holders[holder].blocks[engine] = {own, stamp};
    Hold(own, holder);
    ++stats.entries;
    ++stats.stored;
    order.push_back({holder, engine, stamp});
    while (stats.entries > max_blocks && !order.empty()) {
      const Stored oldest = order.front();
      order.pop_front();
      auto& blocks = holders[oldest.holder].blocks;
      auto it = blocks.find(oldest.engine);
      if (it == blocks.end() || it->second.stamp != oldest.stamp) continue;  // gone already
      Remove(oldest.holder, oldest.engine);
      ++stats.evicted;
    }
    // Removals leave their entries in `order`: drop them once they outnumber the live ones.
    if (order.size() > 2 * stats.entries + 1024) {
      std::erase_if(order, [this](const Stored& s) {
        auto& blocks = holders[s.holder].blocks;
        auto it = blocks.find(s.engine);
        return it == blocks.end() || it->second.stamp != s.stamp;
      });
    }
  }

  void ClearHolder(uint32_t holder) {
    auto& blocks = holders[holder].blocks;
    for (const auto& [engine, entry] : blocks) Unhold(entry.own, holder);
    stats.entries -= blocks.size();
    blocks.clear();
  }

  void ApplyStored(uint32_t holder, std::string_view model, const KvEvent& event) {
    const uint32_t size = event.block_size;
    if (size == 0 || event.token_ids.size() != event.block_hashes.size() * size) {
      stats.skipped += event.block_hashes.size();
      return;
    }
    uint64_t previous = 0;
    if (event.parent_block_hash) {
      auto& blocks = holders[holder].blocks;
      auto parent = blocks.find(*event.parent_block_hash);
      if (parent == blocks.end()) {
        stats.orphaned += event.block_hashes.size();
        return;
      }
      previous = parent->second.own;
    } else {
      previous = RootKey(event.lora_name.empty() ? model : std::string_view(event.lora_name));
    }
    for (size_t j = 0; j < event.block_hashes.size(); ++j) {
      previous = ChainKey(event.token_ids.data() + j * size, size, previous);
      Store(holder, event.block_hashes[j], previous);
    }
  }
};

// Every reader slot, in order: the writer excludes all readers, readers never each other.
class KvBlockIndex::WriteLock {
 public:
  explicit WriteLock(State& state) : state_(state) {
    for (size_t i = 0; i < state_.reader_count; ++i) state_.readers[i].mutex.lock();
  }
  ~WriteLock() {
    for (size_t i = 0; i < state_.reader_count; ++i) state_.readers[i].mutex.unlock();
  }
  WriteLock(const WriteLock&) = delete;
  WriteLock& operator=(const WriteLock&) = delete;

 private:
  State& state_;
};

KvBlockIndex::KvBlockIndex(size_t max_blocks, size_t reader_slots)
    : state_(std::make_unique<State>()) {
  state_->max_blocks = std::max<size_t>(max_blocks, 1);
  state_->reader_count = std::max<size_t>(reader_slots, 1);
  state_->readers = std::make_unique<State::ReaderSlot[]>(state_->reader_count);
}

KvBlockIndex::~KvBlockIndex() = default;

void KvBlockIndex::Apply(uint32_t endpoint, std::string_view model, const KvEventBatch& batch) {
  WriteLock lock(*state_);
  State& s = *state_;
  const uint32_t rank = batch.data_parallel_rank.value_or(0);
  for (const KvEvent& event : batch.events) {
    const uint32_t holder = s.HolderFor(endpoint, rank, event.group_idx);
    switch (event.type) {
      case KvEventType::kBlockStored:
        if (Indexed(event)) {
          s.ApplyStored(holder, model, event);
        } else {
          s.stats.skipped += event.block_hashes.size();
        }
        break;
      case KvEventType::kBlockRemoved:
        if (!Indexed(event)) break;
        for (uint64_t engine : event.block_hashes) s.stats.removed += s.Remove(holder, engine);
        break;
      case KvEventType::kAllBlocksCleared:  // every group of the rank
        for (uint32_t h = 0; h < s.holders.size(); ++h) {
          if (s.holders[h].endpoint == endpoint && s.holders[h].rank == rank) s.ClearHolder(h);
        }
        break;
      case KvEventType::kUnknown:
        break;
    }
  }
}

void KvBlockIndex::ClearEndpoint(uint32_t endpoint) {
  WriteLock lock(*state_);
  State& s = *state_;
  for (uint32_t holder = 0; holder < s.holders.size(); ++holder) {
    if (s.holders[holder].endpoint == endpoint) s.ClearHolder(holder);
  }
}

void KvBlockIndex::ClearRank(uint32_t endpoint, uint32_t rank) {
  WriteLock lock(*state_);
  State& s = *state_;
  for (uint32_t holder = 0; holder < s.holders.size(); ++holder) {
    if (s.holders[holder].endpoint == endpoint && s.holders[holder].rank == rank) {
      s.ClearHolder(holder);
    }
  }
}

void KvBlockIndex::Match(size_t reader, std::span<const uint64_t> keys,
                         std::vector<KvBlockMatch>& out) const {
  out.clear();
  if (keys.empty()) return;
  State& s = *state_;
  std::lock_guard lock(s.readers[reader % s.reader_count].mutex);
  // Holders still matching after each key; each one's depth is where it dropped out.
  absl::InlinedVector<uint32_t, 16> alive;
  absl::InlinedVector<std::pair<uint32_t, uint32_t>, 16> depth;  // holder, blocks
  auto first = s.held_by.find(keys[0]);
  if (first == s.held_by.end()) return;
  for (const auto& [holder, count] : first->second) alive.push_back(holder);
  uint32_t matched = 1;
  for (; matched < keys.size() && !alive.empty(); ++matched) {
    auto next = s.held_by.find(keys[matched]);
    size_t kept = 0;
    for (uint32_t holder : alive) {
      const bool holds =
          next != s.held_by.end() &&
          std::any_of(next->second.begin(), next->second.end(),
                      [holder](const auto& entry) { return entry.first == holder; });
      if (holds) {
        alive[kept++] = holder;
      } else {
        depth.emplace_back(holder, matched);
      }
    }
    alive.resize(kept);
  }
  for (uint32_t holder : alive) depth.emplace_back(holder, matched);
  // An endpoint's ranks are one target: its best rank counts.
  for (const auto& [holder, blocks] : depth) {
    const uint32_t endpoint = s.holders[holder].endpoint;
    auto it = std::find_if(out.begin(), out.end(),
                           [endpoint](const KvBlockMatch& m) { return m.endpoint == endpoint; });
    if (it == out.end()) {
      out.push_back({endpoint, blocks});
    } else {
      it->blocks = std::max(it->blocks, blocks);
    }
  }
  std::sort(out.begin(), out.end(), [](const KvBlockMatch& a, const KvBlockMatch& b) {
    return a.blocks != b.blocks ? a.blocks > b.blocks : a.endpoint < b.endpoint;
  });
}

KvIndexStats KvBlockIndex::stats() const {
  WriteLock lock(*state_);
  return state_->stats;
}

}  // namespace pdgate::discovery
