#include "bench/engine_sim/engine.h"

#include <xxhash.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <chrono>
#include <deque>
#include <set>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "bench/engine_sim/engine_impl.h"
#include "bench/engine_sim/kv_cache.h"
#include "bench/engine_sim/kv_transport.h"
#include "bench/engine_sim/metrics.h"
#include "base/strings.h"

namespace pdgate::sim {
namespace {

namespace net = boost::asio;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start, Clock::time_point now) {
  return std::chrono::duration<double>(now - start).count();
}

}  // namespace

Engine::Impl::Impl(net::io_context& ioc, EngineConfig config, Metrics& metrics,
                   KvTransport& transport)
    : strand_(net::make_strand(ioc)),
      step_timer_(strand_),
      config_(std::move(config)),
      metrics_(metrics),
      transport_(transport),
      kv_(config_.kv_blocks, config_.block_size, config_.prefix_caching) {
  metrics_.kv_total_blocks = kv_.num_blocks();
  kv_.set_record_events(config_.kv_events != nullptr);
}

void Engine::Impl::Add(uint64_t id, SeqSpec spec) {
  auto seq = std::make_unique<Seq>();
  seq->id = id;
  seq->spec = std::move(spec);
  seq->arrival = Clock::now();
  const uint64_t lora_seed =
      seq->spec.lora.empty() ? 0 : XXH3_64bits(seq->spec.lora.data(), seq->spec.lora.size());
  seq->hashes = KvCache::BlockHashes(seq->spec.prompt, config_.block_size, lora_seed);
  const int total = static_cast<int>(seq->spec.prompt.size()) + seq->spec.plan.tokens;
  Seq& ref = *seq;
  seqs_.emplace(id, std::move(seq));
  if (kv_.BlocksFor(total) > kv_.num_blocks()) {
    Fail(ref, 400,
         StrCat("The request needs ", kv_.BlocksFor(total), " KV blocks but the cache has only ",
                kv_.num_blocks(), "."));
    return;
  }
  if (ref.spec.pd == PdMode::kSglangPrefill) {
    Room& room = rooms_[ref.spec.bootstrap->room];
    room.seq_id = id;
  }
  waiting_.push_back(id);
  UpdateGauges();
  Schedule();
}

void Engine::Impl::Abort(uint64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return;
  Seq& seq = *it->second;
  SeqEvent event = BaseEvent(seq, SeqEvent::Kind::kFinished);
  event.finish = FinishReason::kAbort;
  metrics_.CountFinished(FinishReason::kAbort);
  if (seq.spec.pd == PdMode::kVllmDecode && seq.state == State::kWaiting) {
    // vLLM: a decode aborted before it pulled still notifies the prefill (an empty read) so
    // the prefill frees its blocks instead of holding them until the timeout.
    transport_.Pull(*seq.spec.remote, [](TransferResult) {});
  }
  Remove(seq);
  Emit(seq, event);
  seqs_.erase(it);
  UpdateGauges();
  Schedule();
}

void Engine::Impl::AbortByRidPrefix(const std::string& prefix) {
  std::vector<uint64_t> ids;
  for (const auto& [id, seq] : seqs_) {
    const std::string& rid = seq->spec.rid;
    if (!rid.empty() && rid.starts_with(prefix)) ids.push_back(id);
  }
  for (uint64_t id : ids) Abort(id);
}

SeqEvent Engine::Impl::BaseEvent(const Seq& seq, SeqEvent::Kind kind) {
  SeqEvent event;
  event.kind = kind;
  event.generated = seq.generated;
  event.prompt_tokens = static_cast<int>(seq.spec.prompt.size());
  event.cached_tokens = seq.cached_tokens;
  return event;
}

void Engine::Impl::Emit(const Seq& seq, const SeqEvent& event) {
  if (seq.spec.sink) seq.spec.sink(event);
}

// Takes `seq` out of the queues and frees its blocks (the caller erases it).
void Engine::Impl::Remove(Seq& seq) {
  if (seq.state == State::kWaiting || seq.state == State::kReady) {
    std::erase(waiting_, seq.id);
  } else if (seq.state == State::kPrefill || seq.state == State::kDecode) {
    std::erase(running_, seq.id);
  } else if (seq.state == State::kFetching) {
    --fetching_;
  }
  if (seq.spec.pd == PdMode::kSglangPrefill) {
    auto room = rooms_.find(seq.spec.bootstrap->room);
    if (room != rooms_.end() && room->second.seq_id == seq.id) {
      room->second.seq_id = 0;
      room->second.ready = false;
      if (!room->second.waiter) rooms_.erase(room);
    }
  }
  if (seq.hold_timer) seq.hold_timer->cancel();
  if (seq.allocated) {
    kv_.Free(seq.alloc.blocks);
    seq.allocated = false;
  }
}

void Engine::Impl::Fail(Seq& seq, int status, std::string message) {
  SeqEvent event = BaseEvent(seq, SeqEvent::Kind::kFinished);
  event.finish = FinishReason::kError;
  event.error_status = status;
  event.error_message = std::move(message);
  metrics_.CountFinished(FinishReason::kError);
  Remove(seq);
  Emit(seq, event);
  seqs_.erase(seq.id);
  UpdateGauges();
}

void Engine::Impl::UpdateGauges() {
  metrics_.running = static_cast<int64_t>(running_.size());
  metrics_.waiting = static_cast<int64_t>(waiting_.size()) + fetching_;
  metrics_.kv_used_blocks = kv_.used_blocks();
  if (config_.track_loras) {
    std::set<std::string> running, waiting;
    for (uint64_t id : running_) {
      if (const auto& lora = seqs_.at(id)->spec.lora; !lora.empty()) running.insert(lora);
    }
    for (uint64_t id : waiting_) {
      if (const auto& lora = seqs_.at(id)->spec.lora; !lora.empty()) waiting.insert(lora);
    }
    metrics_.SetLoras(StrJoin({running.begin(), running.end()}, ","),
                      StrJoin({waiting.begin(), waiting.end()}, ","));
  }
}

void Engine::Impl::Admit() {
  while (!waiting_.empty() && running_.size() < static_cast<size_t>(config_.max_num_seqs)) {
    Seq& seq = *seqs_.at(waiting_.front());
    const int prompt = static_cast<int>(seq.spec.prompt.size());
    if (seq.state == State::kReady) {  // KV arrived (or recompute decided): already allocated
      waiting_.pop_front();
      seq.state = State::kPrefill;
      running_.push_back(seq.id);
      continue;
    }
    auto allocation = kv_.Allocate(seq.hashes, prompt, prompt + seq.spec.plan.tokens);
    if (!allocation) break;  // FCFS: the head waits for blocks
    waiting_.pop_front();
    seq.alloc = std::move(*allocation);
    seq.allocated = true;
    seq.cached_tokens = seq.alloc.cached_tokens;
    metrics_.prefix_queries += static_cast<uint64_t>(prompt);
    metrics_.prefix_hits += static_cast<uint64_t>(seq.cached_tokens);
    seq.prefill_tokens = std::max(1, prompt - seq.cached_tokens);
    if (seq.spec.pd == PdMode::kVllmDecode || seq.spec.pd == PdMode::kSglangDecode) {
      seq.state = State::kFetching;
      ++fetching_;
      StartTransfer(seq);
      continue;
    }
    seq.state = State::kPrefill;
    running_.push_back(seq.id);
  }
}

void Engine::Impl::StartTransfer(Seq& seq) {
  auto done = [self = shared_from_this(), id = seq.id](TransferResult result) {
    self->Post([self, id, result = std::move(result)] { self->OnTransferDone(id, result); });
  };
  if (seq.spec.pd == PdMode::kVllmDecode) {
    transport_.Pull(*seq.spec.remote, std::move(done));
  } else {
    transport_.WaitRoom(*seq.spec.bootstrap, config_.waiting_timeout_s, std::move(done));
  }
}

void Engine::Impl::OnTransferDone(uint64_t id, const TransferResult& result) {
  auto it = seqs_.find(id);
  if (it == seqs_.end() || it->second->state != State::kFetching) return;  // aborted meanwhile
  Seq& seq = *it->second;
  --fetching_;
  if (result.ok) {
    metrics_.pulls_ok++;
    seq.prefill_tokens = 1;  // the decode recomputes the last prompt token
  } else {
    metrics_.pulls_failed++;
    if (seq.spec.pd == PdMode::kSglangDecode) metrics_.bootstrap_failed++;
    if (!config_.recompute_on_load_failure || seq.spec.pd == PdMode::kSglangDecode) {
      seq.state = State::kWaiting;  // not queued: Remove() finds nothing to unlink
      Fail(seq, 500,
           StrCat("KV transfer failed for request ", seq.spec.request_id, ": ", result.error));
      Schedule();
      return;
    }
    metrics_.recomputed++;  // prefill_tokens stays: the whole uncached prompt
  }
  seq.state = State::kReady;
  waiting_.push_front(id);
  UpdateGauges();
  Schedule();
}

// One step: every decoding sequence gets a token; prefills share what is left of the token
// budget (--max-num-batched-tokens) in FCFS order, so a long prompt is prefilled in chunks
// (vLLM V1's chunked prefill) and its first token comes out of the step that completes it.
void Engine::Impl::ScheduleStep() {
  if (stepping_) return;
  const Clock::time_point chained = std::exchange(chained_start_, Clock::time_point{});
  Admit();
  UpdateGauges();
  if (running_.empty()) return;
  std::vector<std::pair<uint64_t, int>> batch;  // (sequence, prefill chunk; 0 = decode)
  batch.reserve(running_.size());
  int decode_seqs = 0;
  for (uint64_t id : running_) {
    if (seqs_.at(id)->state == State::kDecode) {
      ++decode_seqs;
      batch.emplace_back(id, 0);
    }
  }
  int budget = std::max(config_.max_num_batched_tokens - decode_seqs, 0);
  int prefill_tokens = 0;
  for (uint64_t id : running_) {
    const Seq& seq = *seqs_.at(id);
    if (seq.state != State::kPrefill || budget == 0) continue;
    const int chunk = std::min(seq.prefill_tokens, budget);
    budget -= chunk;
    prefill_tokens += chunk;
    batch.emplace_back(id, chunk);
  }
  if (batch.empty()) return;
  stepping_ = true;
  const double seconds = config_.cost.StepSeconds(prefill_tokens, decode_seqs);
  if (seconds <= 0) {
    step_due_ = Clock::now();
    Post([self = shared_from_this(), batch = std::move(batch)] { self->FinishStep(batch); });
    return;
  }
  // A late timer is made up for by at most one step, so a stalled sim does not burst afterwards.
  const auto now = Clock::now();
  const auto step = ToDuration(seconds);
  const auto start = chained == Clock::time_point{} ? now : std::max(chained, now - step);
  step_due_ = start + step;
  step_timer_.expires_at(step_due_);
  step_timer_.async_wait([self = shared_from_this(), batch = std::move(batch)](
                             boost::system::error_code) { self->FinishStep(batch); });
}

void Engine::Impl::FinishStep(const std::vector<std::pair<uint64_t, int>>& batch) {
  const auto now = Clock::now();
  for (const auto& [id, chunk] : batch) {
    auto it = seqs_.find(id);
    if (it == seqs_.end()) continue;
    Seq& seq = *it->second;
    int produced = 0;
    if (seq.state == State::kPrefill) {
      seq.prefill_tokens -= chunk;
      if (seq.prefill_tokens > 0) continue;  // more chunks to go
      kv_.Commit(seq.alloc, seq.hashes, seq.spec.prompt, seq.spec.lora);
      metrics_.prompt_tokens += seq.spec.prompt.size();
      metrics_.ttft.Observe(SecondsSince(seq.arrival, now));
      seq.state = State::kDecode;
      produced = 1;
    } else if (seq.state == State::kDecode) {
      produced = config_.cost.zero_latency() ? seq.spec.plan.tokens - seq.generated : 1;
      metrics_.itl.Observe(SecondsSince(seq.last_token, now));
    } else {
      continue;
    }
    seq.generated += produced;
    seq.last_token = now;
    metrics_.generation_tokens += static_cast<uint64_t>(produced);
    const bool done = seq.generated >= seq.spec.plan.tokens;
    // A prefill for a remote decode answers only when finished (it is never streamed).
    if (seq.spec.pd != PdMode::kVllmPrefill && seq.spec.pd != PdMode::kSglangPrefill) {
      Emit(seq, BaseEvent(seq, SeqEvent::Kind::kTokens));
    }
    if (done) Complete(seq, now);
  }
  stepping_ = false;
  chained_start_ = step_due_;
  Schedule();
}

void Engine::Impl::Complete(Seq& seq, Clock::time_point now) {
  std::erase(running_, seq.id);
  const FinishReason reason = seq.spec.plan.finish;
  metrics_.e2e.Observe(SecondsSince(seq.arrival, now));
  if (seq.spec.pd == PdMode::kSglangPrefill) {
    // Stays allocated until the decode takes the KV from the room (or the bootstrap timeout).
    seq.state = State::kHeld;
    Room& room = rooms_[seq.spec.bootstrap->room];
    room.seq_id = seq.id;
    room.ready = true;
    if (room.waiter) return StartRoomTransfer(seq.spec.bootstrap->room);
    seq.hold_timer = std::make_shared<net::steady_timer>(strand_);
    seq.hold_timer->expires_after(ToDuration(config_.bootstrap_timeout_s));
    seq.hold_timer->async_wait(
        [self = shared_from_this(), id = seq.id](boost::system::error_code ec) {
          if (ec) return;
          auto it = self->seqs_.find(id);
          if (it == self->seqs_.end()) return;
          self->metrics_.bootstrap_failed++;
          self->Fail(*it->second, 500, "bootstrap timeout: no decode came for the KV of this room");
          self->Schedule();
        });
    return;
  }
  metrics_.CountFinished(reason);
  SeqEvent event = BaseEvent(seq, SeqEvent::Kind::kFinished);
  event.finish = reason;
  if (seq.spec.pd == PdMode::kVllmPrefill && reason == FinishReason::kLength) {
    Hold(seq, event);
  } else {
    kv_.Free(seq.alloc.blocks);
    seq.allocated = false;
  }
  Emit(seq, event);
  seqs_.erase(seq.id);
  UpdateGauges();
}

Engine::Engine(net::io_context& ioc, EngineConfig config, Metrics& metrics, KvTransport& transport)
    : initial_config_(config),
      impl_(std::make_shared<Impl>(ioc, std::move(config), metrics, transport)) {}

Engine::~Engine() = default;

uint64_t Engine::Submit(SeqSpec spec) {
  const uint64_t id = impl_->next_id_.fetch_add(1, std::memory_order_relaxed);
  impl_->Post(
      [impl = impl_, id, spec = std::move(spec)]() mutable { impl->Add(id, std::move(spec)); });
  return id;
}

void Engine::Abort(uint64_t id) {
  impl_->Post([impl = impl_, id] { impl->Abort(id); });
}

void Engine::AbortByRidPrefix(std::string prefix) {
  impl_->Post([impl = impl_, prefix = std::move(prefix)] { impl->AbortByRidPrefix(prefix); });
}

void Engine::ServeKvPull(PullRequest request, PullReplyFn reply) {
  impl_->Post([impl = impl_, request = std::move(request), reply = std::move(reply)]() mutable {
    impl->ServeKvPull(std::move(request), std::move(reply));
  });
}

void Engine::ServeRoomWait(uint64_t room, double timeout_s, PullReplyFn reply) {
  impl_->Post([impl = impl_, room, timeout_s, reply = std::move(reply)]() mutable {
    impl->ServeRoomWait(room, timeout_s, std::move(reply));
  });
}

void Engine::ResetPrefixCache() {
  impl_->Post([impl = impl_] { impl->ResetPrefixCache(); });
}

void Engine::SetCost(CostModel cost) {
  impl_->Post([impl = impl_, cost] { impl->SetCost(cost); });
}

}  // namespace pdgate::sim
