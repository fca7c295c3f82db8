#pragma once
// One request against every bucket that applies to it: its route's (Kthena's rateLimit) and its
// principal's (RouterConfiguration rateLimits). Admission checks them all, reserves what it
// takes (a request, the input estimate), and gives the reservations back if any bucket says no,
// so a refused request costs nothing. Settlement charges the real usage to each bucket.
// Plain data on the request's stack; the buckets are atomics shared by the io threads.
#include <array>
#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "router/limits/gcra.h"

namespace pdgate::limits {

using HeaderList = std::vector<std::pair<std::string_view, std::string>>;

enum class Resource : uint8_t { kRequests, kInputTokens, kOutputTokens };
std::string_view ToString(Resource resource);  // "requests", "input", "output"

enum class Verdict { kAllowed, kExceeded, kLargerThanBucket };

struct Bucket {
  std::atomic<int64_t>* tat = nullptr;
  GcraParams params;
  Resource resource = Resource::kRequests;
  std::string_view owner;  // "route dev/r", "limit per-user": for messages
  std::string_view unit;   // "minute"
  int counter = -1;        // -1: a route's bucket; else the principal limit's index
};

struct LimitOutcome {
  Verdict verdict = Verdict::kAllowed;
  int64_t retry_after_us = 0;
  const Bucket* refused = nullptr;  // the bucket that said no; valid while its check lives
  bool allowed() const { return verdict == Verdict::kAllowed; }
};

class LimitCheck {
 public:
  void Add(const Bucket& bucket) { buckets_.push_back({bucket, {}, 0}); }
  // A bucket decided elsewhere (in Redis): it takes part in headers and messages only. `tat`
  // stays null.
  void AddDecided(const Bucket& bucket, const GcraDecision& state) {
    buckets_.push_back({bucket, state, 0});
  }
  bool empty() const { return buckets_.empty(); }

  LimitOutcome Admit(int64_t input_tokens, int64_t now_us);
  // After the answer: usage from the engine (-1: unknown); `served` false gives the
  // reservations back.
  void Settle(int64_t prompt_tokens, int64_t completion_tokens, bool served, int64_t now_us);

  // OpenAI's x-ratelimit-{limit,remaining,reset}-{requests,tokens} (tokens: input), and
  // -output-tokens: for each resource the bucket with the least left.
  void AppendHeaders(HeaderList& headers) const;
  std::string RefusalMessage(const LimitOutcome& outcome, std::string_view model,
                             int64_t input_tokens) const;

  size_t size() const { return buckets_.size(); }
  const Bucket& bucket(size_t i) const { return buckets_[i].bucket; }
  const GcraDecision& state(size_t i) const { return buckets_[i].state; }

 private:
  struct Entry {
    Bucket bucket;
    GcraDecision state;    // after admission (or the peek of a refused one)
    double reserved = 0;  // what admission took
  };
  std::vector<Entry> buckets_;
  int64_t input_estimate_ = 0;
};

int64_t RetryAfterSeconds(const LimitOutcome& outcome);
// Go's duration style, as OpenAI's reset headers: "644ms", "1.2s", "6m0s", "1h2m3s".
std::string FormatReset(int64_t microseconds);

}  // namespace pdgate::limits
