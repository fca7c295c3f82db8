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

  void Insert(uint64_t key, Tokens tokens, size_t capacity) {
    if (capacity == 0) return;
    auto [it, inserted] = entries_.try_emplace(key);
    if (inserted) {
      order_.push_front(key);
      it->second.position = order_.begin();
    } else {
      order_.splice(order_.begin(), order_, it->second.position);
    }
    it->second.tokens = std::move(tokens);
    while (entries_.size() > capacity) {
      entries_.erase(order_.back());
      order_.pop_back();
    }
  }

  size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    Tokens tokens;
    std::list<uint64_t>::iterator position;
  };
  absl::flat_hash_map<uint64_t, Entry> entries_;
  std::list<uint64_t> order_;  // most recent first
};

}  // namespace pdgate::router
