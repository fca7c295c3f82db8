// SimApi's completions path: admitting a chat or completions request (fault injection, model
// and length checks, the PD leg) and turning the engine's events into the response, streamed or
// not. The other endpoints are in api.cc.
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <mutex>

#include "bench/engine_sim/api.h"
#include "bench/engine_sim/api_internal.h"
#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/faults.h"
#include "bench/engine_sim/json_writer.h"
#include "bench/engine_sim/metrics.h"
#include "bench/engine_sim/pd_leg.h"
#include "bench/engine_sim/request.h"
#include "bench/engine_sim/response.h"
#include "base/strings.h"

namespace pdgate::sim {

using api_internal::kJson;
using api_internal::RandomHex8;
using api_internal::RandomUuid;
using api_internal::UnixNow;

namespace {

namespace net = boost::asio;

// One request's output: turns engine events into the response, on the engine strand (and on the
// stall timer, hence the mutex).
class Generation : public std::enable_shared_from_this<Generation> {
 public:
  Generation(net::io_context& ioc, std::shared_ptr<Responder> out, ResponseContext ctx, bool stream,
             FaultDecision fault, bool flat_errors, Engine& engine)
      : ioc_(ioc),
        out_(std::move(out)),
        ctx_(std::move(ctx)),
        stream_(stream),
        fault_(fault),
        flat_errors_(flat_errors),
        engine_(engine) {}

  void set_seq(uint64_t id) { seq_ = id; }
  // One line per finished request on stderr (--log-requests): what this pod served.
  void set_log(std::string leg) { log_leg_ = std::move(leg); }

  void OnEvent(const SeqEvent& event) {
    std::lock_guard lock(mu_);
    if (dropped_) return;
    const UsageNumbers usage{event.prompt_tokens, event.generated, event.cached_tokens};
    if (event.kind == SeqEvent::Kind::kFinished && !log_leg_.empty()) {
      std::fprintf(
          stderr, "request %s leg=%s stream=%d prompt=%d cached=%d generated=%d finish=%s%s%s\n",
          ctx_.id.c_str(), log_leg_.c_str(), stream_ ? 1 : 0, event.prompt_tokens,
          event.cached_tokens, event.generated, std::string(FinishReasonName(event.finish)).c_str(),
          event.error_message.empty() ? "" : " error=", event.error_message.c_str());
    }
    if (event.kind == SeqEvent::Kind::kTokens) {
      if (!stream_) return;
      std::string bytes;
      if (ctx_.api == Api::kChat && !role_sent_) bytes = RoleEvent(ctx_, usage);
      role_sent_ = true;
      bytes += TokenEvents(ctx_, sent_, event.generated, usage);
      const bool crossing = sent_ < fault_.mid_stream_after_tokens &&
                            event.generated >= fault_.mid_stream_after_tokens;
      sent_ = event.generated;
      Emit(std::move(bytes));
      if (crossing && fault_.drop_mid_stream) {
        dropped_ = true;
        out_->Drop();
        engine_.Abort(seq_);
      } else if (crossing && fault_.stall_mid_stream_s > 0) {
        StartStall();
      }
      return;
    }
    if (!stream_) {
      if (event.finish == FinishReason::kError) {
        out_->Reply(event.error_status, std::string(kJson),
                    ErrorBody(event.error_status, event.error_message, flat_errors_));
      } else {
        out_->Reply(
            200, std::string(kJson),
            CompletionBody(ctx_, event.generated, event.finish, usage, event.kv_transfer_params));
      }
      return;
    }
    std::string bytes;
    if (event.finish == FinishReason::kError) {
      bytes = ErrorEvent(event.error_status, event.error_message);
    } else {
      if (event.finish == FinishReason::kAbort) bytes = FinishEvent(ctx_, event.finish, usage);
      if (ctx_.include_usage) bytes += UsageEvent(ctx_, usage);
    }
    bytes += kDoneEvent;
    Emit(std::move(bytes));
    if (stalled_) {
      end_deferred_ = true;
    } else {
      out_->EndStream();
    }
  }

 private:
  void Emit(std::string bytes) {
    if (stalled_) {
      deferred_ += bytes;
    } else {
      out_->Send(std::move(bytes));
    }
  }

  void StartStall() {
    stalled_ = true;
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    timer->expires_after(
        std::chrono::nanoseconds(static_cast<int64_t>(fault_.stall_mid_stream_s * 1e9)));
    timer->async_wait([self = shared_from_this(), timer](boost::system::error_code) {
      std::lock_guard lock(self->mu_);
      self->stalled_ = false;
      if (!self->deferred_.empty()) self->out_->Send(std::move(self->deferred_));
      self->deferred_.clear();
      if (self->end_deferred_) self->out_->EndStream();
    });
  }

  net::io_context& ioc_;
  std::mutex mu_;
  std::shared_ptr<Responder> out_;
  ResponseContext ctx_;
  bool stream_;
  FaultDecision fault_;
  bool flat_errors_;
  Engine& engine_;
  uint64_t seq_ = 0;
  int sent_ = 0;
  bool role_sent_ = false;
  bool dropped_ = false;
  bool stalled_ = false;
  bool end_deferred_ = false;
  std::string deferred_;
  std::string log_leg_;
};

}  // namespace

void SimApi::Generate(IncomingRequest request, std::shared_ptr<Responder> responder, bool chat) {
  const FaultDecision fault = faults_.Decide();
  if (fault.exit_now) {
    std::fprintf(stderr, "pdgate-engine-sim: --exit-after reached, exiting\n");
    std::fflush(stderr);
    _exit(3);
  }
  if (!ready_.load()) return ReplyError(*responder, 503, "The engine is starting.");
  if (fault.fail_status != 0) {
    metrics_.faults_injected++;
    return ReplyError(*responder, fault.fail_status,
                      StrCat("injected failure (", fault.fail_status, ")"));
  }
  if (fault.stall_first_byte_s > 0) {
    metrics_.faults_injected++;
    auto timer = std::make_shared<net::steady_timer>(ioc_);
    timer->expires_after(
        std::chrono::nanoseconds(static_cast<int64_t>(fault.stall_first_byte_s * 1e9)));
    timer->async_wait([this, timer, request = std::move(request), responder = std::move(responder),
                       chat, fault](boost::system::error_code) mutable {
      Admit(std::move(request), std::move(responder), chat, fault);
    });
    return;
  }
  Admit(std::move(request), std::move(responder), chat, fault);
}

void SimApi::Admit(IncomingRequest request, std::shared_ptr<Responder> responder, bool chat,
                   const FaultDecision& fault) {
  OpenAiRequest parsed;
  if (auto error =
          ParseOpenAiRequest(chat ? Api::kChat : Api::kCompletions, request.body, parsed)) {
    return ReplyError(*responder, error->status, error->message);
  }
  std::string model = options_.primary_model();
  std::string lora;
  if (parsed.model) {
    if (!ResolveModel(*parsed.model, lora))
      return ReplyError(*responder, 404, StrCat("The model `", *parsed.model, "` does not exist."));
    model = *parsed.model;
  }
  const int prompt_tokens = static_cast<int>(parsed.prompt.size());
  if (!parsed.max_tokens) parsed.max_tokens = std::max(1, options_.max_model_len - prompt_tokens);
  if (prompt_tokens + *parsed.max_tokens > options_.max_model_len) {
    return ReplyError(*responder, 400,
                      StrCat("This model's maximum context length is ", options_.max_model_len,
                             " tokens. However, you requested ", prompt_tokens + *parsed.max_tokens,
                             " tokens (", prompt_tokens, " in the messages, ", *parsed.max_tokens,
                             " in the completion). Please reduce the length of the messages or "
                             "completion."));
  }

  SeqSpec spec;
  const std::string base = !request.request_id_header.empty() ? request.request_id_header
                           : !parsed.request_id.empty()       ? parsed.request_id
                                                              : RandomUuid();
  ResponseContext ctx;
  ctx.api = parsed.api;
  ctx.id = StrCat(chat ? "chatcmpl-" : "cmpl-", base);
  ctx.created = UnixNow();
  ctx.model = model;
  ctx.include_usage = parsed.include_usage;
  ctx.continuous_usage_stats = parsed.continuous_usage_stats;
  ctx.key = MakeGenerationKey(parsed.prompt, parsed.seed);
  int max_tokens = static_cast<int>(*parsed.max_tokens);

  if (auto error = ChoosePdLeg(parsed, options_.engine, options_.role, options_.bootstrap_port,
                               max_tokens, spec)) {
    return ReplyError(*responder, error->status, error->message);
  }
  if (spec.pd == PdMode::kVllmPrefill || spec.pd == PdMode::kSglangPrefill) {
    metrics_.requests_prefill++;
  } else if (spec.pd == PdMode::kVllmDecode || spec.pd == PdMode::kSglangDecode) {
    metrics_.requests_decode++;
  } else {
    metrics_.requests_plain++;
  }

  ctx.plan =
      PlanOutput(ctx.key, max_tokens, static_cast<int>(parsed.min_tokens), parsed.ignore_eos);
  // vLLM PR #27987: the engine-internal id is the API id plus "-" and 8 random hex digits.
  spec.request_id = StrCat(ctx.id, "-", RandomHex8());
  spec.rid = parsed.rid.empty() ? ctx.id : parsed.rid;
  spec.lora = std::move(lora);
  spec.prompt = std::move(parsed.prompt);
  spec.plan = ctx.plan;

  if (parsed.stream) responder->StartStream();
  auto generation = std::make_shared<Generation>(ioc_, responder, std::move(ctx), parsed.stream,
                                                 fault, options_.flat_errors, engine_);
  if (options_.log_requests) {
    generation->set_log(
        spec.pd == PdMode::kVllmPrefill || spec.pd == PdMode::kSglangPrefill ? "prefill"
        : spec.pd == PdMode::kVllmDecode || spec.pd == PdMode::kSglangDecode ? "decode"
                                                                             : "whole");
  }
  spec.sink = [generation](const SeqEvent& event) { generation->OnEvent(event); };
  const uint64_t id = engine_.Submit(std::move(spec));
  generation->set_seq(id);
  responder->OnClientGone([engine = &engine_, id] { engine->Abort(id); });
}

}  // namespace pdgate::sim
