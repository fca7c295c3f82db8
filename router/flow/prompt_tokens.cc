#include "router/flow/prompt_tokens.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include "config/strings.h"
#include "router/openai/json_text.h"
#include "router/openai/prompt_tokens.h"

namespace pdgate::router {
namespace {

using Tokens = std::shared_ptr<const std::vector<uint32_t>>;

// A /tokenize answer is the prompt's ids as JSON: a few bytes each.
constexpr size_t kMaxTokenizeAnswerBytes = size_t{64} << 20;
constexpr size_t kMaxTokenizeIds = size_t{4} << 20;

// Ids cached per io thread, whatever the entry count allows: 16 MiB.
constexpr size_t kMaxCachedIds = size_t{4} << 20;

// An available serving endpoint that computes prompts (prefill or aggregated), picked at random
// so tokenization spreads; any endpoint when none is.
const discovery::Endpoint* TokenizerEndpoint(RequestContext& context) {
  const auto& endpoints = context.endpoints.endpoints;
  if (endpoints.empty()) return nullptr;
  const auto now = Clock::now();
  const size_t start = size_t(context.worker.rng() % endpoints.size());
  const discovery::Endpoint* fallback = nullptr;
  for (size_t k = 0; k < endpoints.size(); ++k) {
    const discovery::Endpoint& endpoint = endpoints[(start + k) % endpoints.size()];
    if (!endpoint.live->Available(now)) {
      if (fallback == nullptr) fallback = &endpoint;
      continue;
    }
    if (endpoint.role != discovery::EndpointRole::kDecode) return &endpoint;
    if (fallback == nullptr || !fallback->live->Available(now)) fallback = &endpoint;
  }
  return fallback;
}

net::awaitable<Tokens> Tokenize(RequestContext& context, std::string body) {
  const discovery::Endpoint* endpoint = TokenizerEndpoint(context);
  if (endpoint == nullptr) co_return nullptr;
  std::optional<LegTarget> target = LegTargetOf(*endpoint);
  if (!target) co_return nullptr;
  const config::KvCacheAwareArgs& args = context.settings.scheduler.kv_cache_aware;
  const uint16_t port = context.server.engine == config::InferenceEngine::kSglang
                            ? args.sglang_tokenizer_port
                            : args.vllm_tokenizer_port;
  if (port != 0) {
    target->address.port(port);
    target->key = target->address.address().is_v6()
                      ? StrCat("[", endpoint->address, "]:", port)
                      : StrCat(endpoint->address, ":", port);
  }
  UpstreamLeg leg(context.worker.upstream(), std::move(*target), context.watch);
  LegRequest request = MakeLegRequest(context, *endpoint, std::move(body), "/tokenize");
  std::optional<http::response_parser<http::string_body>> parser;
  const Clock::time_point deadline = Clock::now() + args.tokenize_timeout;
  const LegOutcome outcome = co_await leg.Exchange(request, parser, deadline, /*whole_body=*/true,
                                                   kMaxTokenizeAnswerBytes);
  if (!outcome.ok()) {
    spdlog::debug("/tokenize on {}: {}", leg.target().key, outcome.detail);
    co_return nullptr;
  }
  auto& response = parser->get();
  if (response.result_int() != 200) {
    spdlog::debug("/tokenize on {}: status {}", leg.target().key, response.result_int());
    co_return nullptr;
  }
  const bool reusable = response.keep_alive();
  absl::StatusOr<std::vector<uint32_t>> ids = ParseTokenizeAnswer(response.body(), kMaxTokenizeIds);
  if (reusable) leg.Release();
  if (!ids.ok() || ids->empty()) co_return nullptr;
  co_return std::make_shared<const std::vector<uint32_t>>(std::move(*ids));
}

}  // namespace

net::awaitable<Tokens> PromptTokens(RequestContext& context, bool chat) {
  const OpenAIRequest& request = *context.leg.request;
  const Clock::time_point started = Clock::now();
  if (!chat) {
    if (std::optional<std::vector<uint32_t>> ids = PromptTokenIds(request.prompt_json)) {
      context.observer.PromptTokens(PromptTokensSource::kRequest, {});
      co_return std::make_shared<const std::vector<uint32_t>>(std::move(*ids));
    }
  }
  // The model as the engine is asked for it (a route may rewrite it).
  const std::string client_model = context.leg.model_json.empty() ? JsonString(request.model) : "";
  const std::string_view model_json =
      context.leg.model_json.empty() ? std::string_view(client_model) : context.leg.model_json;
  // What the engine is asked is what the answer depends on: its hash is the cache key.
  std::string body = TokenizeBody(request, context.leg.body, model_json, chat);
  const uint64_t key = XXH3_64bits(body.data(), body.size());
  if (Tokens cached = context.worker.tokenize_cache.Find(key)) {
    context.observer.PromptTokens(PromptTokensSource::kCache, {});
    co_return cached;
  }
  Tokens tokens = co_await Tokenize(context, std::move(body));
  if (tokens == nullptr) {
    if (context.watch->client_gone) co_return nullptr;  // not the engine's failure
    context.observer.PromptTokens(PromptTokensSource::kUnavailable, Clock::now() - started);
    co_return nullptr;
  }
  context.worker.tokenize_cache.Insert(
      key, tokens, size_t(context.settings.scheduler.kv_cache_aware.tokenize_cache_entries),
      kMaxCachedIds);
  context.observer.PromptTokens(PromptTokensSource::kTokenize, Clock::now() - started);
  co_return tokens;
}

}  // namespace pdgate::router
