#pragma once
// Engine::Impl, the engine model behind Engine (engine.h, which describes it), on its strand.
// Internal: shared by engine.cc (admission, batching, steps) and engine_kv.cc (the PD KV
// handoff: vLLM holds and pulls, SGLang bootstrap rooms).
#include <algorithm>
#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/kv_cache.h"
#include "bench/engine_sim/kv_transport.h"

namespace pdgate::sim {

class Engine::Impl : public std::enable_shared_from_this<Impl> {
 public:
  Impl(boost::asio::io_context& ioc, EngineConfig config, Metrics& metrics, KvTransport& transport);

  template <typename F>
  void Post(F&& f) {
    boost::asio::post(strand_, std::forward<F>(f));
  }

  void Add(uint64_t id, SeqSpec spec);
  void Abort(uint64_t id);
  void AbortByRidPrefix(const std::string& prefix);
  void ServeKvPull(PullRequest request, PullReplyFn reply);                   // engine_kv.cc
  void ServeRoomWait(uint64_t room_id, double timeout_s, PullReplyFn reply);  // engine_kv.cc
  void SetCost(const CostModel& cost) { config_.cost = cost; }
  void ResetPrefixCache() {
    kv_.ResetPrefixCache();
    PublishKvEvents();
  }

 private:
  using Clock = std::chrono::steady_clock;
  using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

  enum class State { kWaiting, kFetching, kReady, kPrefill, kDecode, kHeld };

  struct Seq {
    uint64_t id = 0;
    SeqSpec spec;
    std::vector<uint64_t> hashes;
    KvCache::Allocation alloc;
    bool allocated = false;
    State state = State::kWaiting;
    int prefill_tokens = 0;
    int generated = 0;
    int cached_tokens = 0;
    Clock::time_point arrival;
    Clock::time_point last_token;
    std::shared_ptr<boost::asio::steady_timer> hold_timer;  // SGLang prefill waiting for its decode
  };

  // KV a vLLM prefill keeps for its remote decode.
  struct Held {
    std::vector<int> blocks;
    std::vector<int64_t> published;  // the remote_block_ids handed out
    int prompt_tokens = 0;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  // An SGLang bootstrap room on the prefill: its prefill sequence and/or the decode waiting for it.
  struct Room {
    uint64_t seq_id = 0;
    bool ready = false;
    PullReplyFn waiter;
    std::shared_ptr<boost::asio::steady_timer> waiter_timer;
  };

  static std::chrono::nanoseconds ToDuration(double seconds) {
    return std::chrono::nanoseconds(static_cast<int64_t>(std::max(seconds, 0.0) * 1e9));
  }

  // engine.cc: sequences through the waiting queue, the running batch and the steps.
  static SeqEvent BaseEvent(const Seq& seq, SeqEvent::Kind kind);
  static void Emit(const Seq& seq, const SeqEvent& event);
  void Remove(Seq& seq);
  void Fail(Seq& seq, int status, std::string message);
  void UpdateGauges();
  void Admit();
  void StartTransfer(Seq& seq);
  void OnTransferDone(uint64_t id, const TransferResult& result);
  // Schedule() = ScheduleStep() then PublishKvEvents() (engine_kv_events.cc): every path that
  // may admit (evictions) or end a step (stores) goes through it, so a step's events leave in one
  // batch, the commits of the step that ended with the evictions of the next one's admissions.
  void Schedule();
  void ScheduleStep();
  void PublishKvEvents();
  void FinishStep(const std::vector<std::pair<uint64_t, int>>& batch);
  void Complete(Seq& seq, Clock::time_point now);

  // engine_kv.cc: KV kept for, and handed to, a remote decode.
  static void Remember(std::unordered_set<std::string>& set, std::deque<std::string>& order,
                       const std::string& id);
  void Hold(Seq& seq, SeqEvent& event);
  void ReleaseHeld(const Held& held);
  void StartRoomTransfer(uint64_t room_id);

  Strand strand_;
  boost::asio::steady_timer step_timer_;
  EngineConfig config_;
  Metrics& metrics_;
  KvTransport& transport_;
  KvCache kv_;
  std::unordered_map<uint64_t, std::unique_ptr<Seq>> seqs_;
  std::deque<uint64_t> waiting_;
  std::vector<uint64_t> running_;
  int fetching_ = 0;
  bool stepping_ = false;
  // The simulated GPU timeline: a step that follows another starts when the previous one was due,
  // not when its handler ran, so the sim's own CPU time (emitting, writing) under load does not
  // stretch every step (a test expecting 20 ms steps saw 22 ms on a busy CI machine).
  Clock::time_point step_due_{};
  Clock::time_point chained_start_{};
  std::unordered_map<std::string, Held> held_;
  std::unordered_set<std::string> pulled_;
  std::deque<std::string> pulled_order_;
  std::unordered_set<std::string> expired_;
  std::deque<std::string> expired_order_;
  std::unordered_map<uint64_t, Room> rooms_;

  friend class Engine;
  std::atomic<uint64_t> next_id_{1};
};

}  // namespace pdgate::sim
