#pragma once
// One io thread's cache of prompt token ids from /tokenize (kvcache-aware scoring): the same
// prompt, say a shared system prompt sent again, costs the engine round trip once per thread.
// Keyed by a 64-bit hash of (model, API, prompt bytes); a collision costs one poorer pick, never
// a wrong answer (the ids only score endpoints). Least recently used entries go first.
#include <absl/container/flat_hash_map.h>

#include <cstdint>
#include <list>
#include <memory>
#include <vector>

namespace pdgate::router {

class TokenizeCache {
 public:
  using Tokens = std::shared_ptr<const std::vector<uint32_t>>;

  Tokens Find(uint64_t key) {
    auto it = entries_.find(key);
    if (it == entries_.end()) return nullptr;
    order_.splice(order_.begin(), order_, it->second.position);
    return it->second.tokens;
  }

  // Keeps at most `max_entries` entries holding at most `max_ids` ids in all; a prompt larger
  // than that is not kept.
  void Insert(uint64_t key, Tokens tokens, size_t max_entries, size_t max_ids) {
    if (max_entries == 0 || tokens == nullptr || tokens->size() > max_ids) return;
    auto [it, inserted] = entries_.try_emplace(key);
    if (inserted) {
      order_.push_front(key);
      it->second.position = order_.begin();
    } else {
      order_.splice(order_.begin(), order_, it->second.position);
      ids_ -= it->second.tokens->size();
    }
    ids_ += tokens->size();
    it->second.tokens = std::move(tokens);
    while (entries_.size() > max_entries || ids_ > max_ids) {
      auto last = entries_.find(order_.back());
      ids_ -= last->second.tokens->size();
      entries_.erase(last);
      order_.pop_back();
    }
  }

  size_t size() const { return entries_.size(); }
  size_t ids() const { return ids_; }

 private:
  struct Entry {
    Tokens tokens;
    std::list<uint64_t>::iterator position;
  };
  absl::flat_hash_map<uint64_t, Entry> entries_;
  std::list<uint64_t> order_;  // most recent first
  size_t ids_ = 0;             // held by all entries
};

}  // namespace pdgate::router
