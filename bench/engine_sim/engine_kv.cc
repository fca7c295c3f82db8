// The PD KV handoff of Engine::Impl (engine_impl.h). vLLM: a prefill for a remote decode holds
// its prompt's blocks and publishes kv_transfer_params; the decode pulls them (ServeKvPull), or
// they expire. SGLang: a prefill and its decode meet at a bootstrap room.
#include <algorithm>
#include <boost/asio/steady_timer.hpp>
#include <memory>

#include "bench/engine_sim/engine_impl.h"
#include "bench/engine_sim/json_writer.h"
#include "bench/engine_sim/metrics.h"
#include "base/strings.h"

namespace pdgate::sim {
namespace {

namespace net = boost::asio;

}  // namespace

void Engine::Impl::ServeKvPull(PullRequest request, PullReplyFn reply) {
  auto fail = [&](int status, std::string message) {
    metrics_.pulls_served_failed++;
    reply(PullReply{status, ErrorBody(status, message)});
  };
  if (request.remote_engine_id != config_.engine_id) {
    return fail(404, StrCat("unknown remote_engine_id ", request.remote_engine_id));
  }
  auto it = held_.find(request.remote_request_id);
  if (it == held_.end()) {
    if (pulled_.contains(request.remote_request_id)) {
      return fail(409, StrCat("KV of ", request.remote_request_id, " was already pulled"));
    }
    if (expired_.contains(request.remote_request_id)) {
      return fail(410, StrCat("KV of ", request.remote_request_id, " expired"));
    }
    return fail(404, StrCat("no KV held for ", request.remote_request_id));
  }
  if (request.remote_block_ids != it->second.published) {
    return fail(400,
                StrCat("remote_block_ids do not match the blocks of ", request.remote_request_id));
  }
  Held held = std::move(it->second);
  held_.erase(it);
  held.timer->cancel();
  Remember(pulled_, pulled_order_, request.remote_request_id);
  auto timer = std::make_shared<net::steady_timer>(strand_);
  timer->expires_after(ToDuration(config_.cost.TransferSeconds(held.prompt_tokens)));
  timer->async_wait([self = shared_from_this(), timer, held = std::move(held),
                     reply = std::move(reply)](boost::system::error_code) {
    self->ReleaseHeld(held);
    self->metrics_.pulls_served_ok++;
    reply(PullReply{200, StrCat(R"({"num_tokens":)", held.prompt_tokens, "}")});
    self->Schedule();
  });
}

void Engine::Impl::ServeRoomWait(uint64_t room_id, double timeout_s, PullReplyFn reply) {
  Room& room = rooms_[room_id];
  if (room.waiter) room.waiter(PullReply{409, ErrorBody(409, "another decode took this room")});
  room.waiter = std::move(reply);
  if (room.ready) return StartRoomTransfer(room_id);
  room.waiter_timer = std::make_shared<net::steady_timer>(strand_);
  room.waiter_timer->expires_after(ToDuration(timeout_s));
  room.waiter_timer->async_wait([self = shared_from_this(), room_id,
                                 timer = room.waiter_timer](boost::system::error_code ec) {
    if (ec) return;
    auto it = self->rooms_.find(room_id);
    if (it == self->rooms_.end() || it->second.waiter_timer != timer || !it->second.waiter) {
      return;
    }
    PullReplyFn waiter = std::move(it->second.waiter);
    it->second.waiter = nullptr;
    if (it->second.seq_id == 0) self->rooms_.erase(it);
    self->metrics_.pulls_served_failed++;
    waiter(PullReply{
        404, ErrorBody(404, StrCat("bootstrap room ", room_id, " was not prefilled in time"))});
  });
}

void Engine::Impl::Remember(std::unordered_set<std::string>& set, std::deque<std::string>& order,
                            const std::string& id) {
  set.insert(id);
  order.push_back(id);
  if (order.size() > 100000) {
    set.erase(order.front());
    order.pop_front();
  }
}

// vLLM NixlConnector request_finished(): keep the prompt's blocks for the remote decode and
// publish where to fetch them.
void Engine::Impl::Hold(Seq& seq, SeqEvent& event) {
  const int prompt = static_cast<int>(seq.spec.prompt.size());
  Held held;
  held.blocks = std::move(seq.alloc.blocks);
  seq.allocated = false;
  held.prompt_tokens = prompt;
  const size_t prompt_blocks =
      std::min(held.blocks.size(), static_cast<size_t>(kv_.BlocksFor(prompt)));
  held.published.assign(held.blocks.begin(), held.blocks.begin() + prompt_blocks);
  std::string& params = event.kv_transfer_params;
  params = R"({"do_remote_prefill":true,"do_remote_decode":false,"remote_block_ids":[[)";
  for (size_t i = 0; i < held.published.size(); ++i) {
    StrAppend(params, i ? "," : "", held.published[i]);
  }
  params += R"(]],"remote_engine_id":)";
  AppendJsonString(params, config_.engine_id);
  params += R"(,"remote_request_id":)";
  AppendJsonString(params, seq.spec.request_id);
  params += R"(,"remote_host":)";
  AppendJsonString(params, config_.kv_host);
  StrAppend(params, R"(,"remote_port":)", config_.kv_port, R"(,"tp_size":)", config_.tp_size, "}");
  metrics_.kv_held_blocks += static_cast<int64_t>(held.blocks.size());
  metrics_.kv_held_requests++;
  held.timer = std::make_shared<net::steady_timer>(strand_);
  held.timer->expires_after(ToDuration(config_.kv_hold_timeout_s));
  held.timer->async_wait([self = shared_from_this(), id = seq.spec.request_id,
                          timer = held.timer](boost::system::error_code ec) {
    if (ec) return;
    auto it = self->held_.find(id);
    if (it == self->held_.end() || it->second.timer != timer) return;
    Held expired = std::move(it->second);
    self->held_.erase(it);
    self->ReleaseHeld(expired);
    self->metrics_.kv_expired++;
    Remember(self->expired_, self->expired_order_, id);
    self->Schedule();
  });
  // A client may reuse a request id: the older hold is released rather than leaked.
  if (auto previous = held_.find(seq.spec.request_id); previous != held_.end()) {
    previous->second.timer->cancel();
    ReleaseHeld(previous->second);
    held_.erase(previous);
  }
  pulled_.erase(seq.spec.request_id);
  expired_.erase(seq.spec.request_id);
  held_[seq.spec.request_id] = std::move(held);
}

void Engine::Impl::ReleaseHeld(const Held& held) {
  kv_.Free(held.blocks);
  metrics_.kv_held_blocks -= static_cast<int64_t>(held.blocks.size());
  metrics_.kv_held_requests--;
  UpdateGauges();
}

void Engine::Impl::StartRoomTransfer(uint64_t room_id) {
  Room& room = rooms_.at(room_id);
  auto it = seqs_.find(room.seq_id);
  if (it == seqs_.end()) return;
  Seq& seq = *it->second;
  if (seq.hold_timer) seq.hold_timer->cancel();
  if (room.waiter_timer) room.waiter_timer->cancel();
  PullReplyFn waiter = std::move(room.waiter);
  rooms_.erase(room_id);
  auto timer = std::make_shared<net::steady_timer>(strand_);
  const int prompt = static_cast<int>(seq.spec.prompt.size());
  timer->expires_after(ToDuration(config_.cost.TransferSeconds(prompt)));
  timer->async_wait([self = shared_from_this(), timer, id = seq.id, prompt,
                     waiter = std::move(waiter)](boost::system::error_code) {
    self->metrics_.pulls_served_ok++;
    waiter(PullReply{200, StrCat(R"({"num_tokens":)", prompt, "}")});
    auto found = self->seqs_.find(id);
    if (found == self->seqs_.end()) return;  // aborted during the transfer
    Seq& s = *found->second;
    self->metrics_.CountFinished(s.spec.plan.finish);
    SeqEvent event = BaseEvent(s, SeqEvent::Kind::kFinished);
    event.finish = s.spec.plan.finish;
    self->kv_.Free(s.alloc.blocks);
    s.allocated = false;
    Emit(s, event);
    self->seqs_.erase(found);
    self->UpdateGauges();
    self->Schedule();
  });
}

}  // namespace pdgate::sim
