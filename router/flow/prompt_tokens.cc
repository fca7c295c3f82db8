#include "router/flow/prompt_tokens.h"

#include <spdlog/spdlog.h>
#include <xxhash.h>

#include <algorithm>

#include "base/strings.h"
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

// A prefix key's first request is kept under this variant of the key until a second one shows
// which of its ids the prefix's requests share.
constexpr uint64_t kFirstOfPrefix = 0x9e3779b97f4a7c15ULL;

// The leading ids `a` and `b` share.
size_t CommonLength(const std::vector<uint32_t>& a, const std::vector<uint32_t>& b) {
  const size_t n = std::min(a.size(), b.size());
  size_t i = 0;
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

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

Task<Tokens> Tokenize(RequestContext& context, std::string body) {
  const discovery::Endpoint* endpoint = TokenizerEndpoint(context);
  if (endpoint == nullptr) co_return nullptr;
  std::optional<LegTarget> target = LegTargetOf(*endpoint);
  if (!target) co_return nullptr;
  const config::KvCacheAwareArgs& args = context.settings.scheduler.kv_cache_aware;
  const uint16_t port = context.server.engine == config::InferenceEngine::kSglang
                            ? args.sglang_tokenizer_port
                            : args.vllm_tokenizer_port;
  std::string key;  // the tokenizer's own port: a key of its own
  if (port != 0) {
    target->address.port(port);
    key = target->address.address().is_v6() ? StrCat("[", endpoint->address, "]:", port)
                                            : StrCat(endpoint->address, ":", port);
    target->key = key;
  }
  UpstreamLeg leg(context.worker.upstream(), *target, context.watch);
  LegRequest request = MakeLegRequest(context, *endpoint, std::move(body), "/tokenize");
  std::optional<EngineResponseParser> parser;
  const Clock::time_point deadline = Clock::now() + args.tokenize_timeout;
  const LegOutcome outcome = co_await leg.Exchange(request, parser, deadline, /*whole_body=*/true,
                                                   kMaxTokenizeAnswerBytes);
  if (!outcome.ok()) {
    spdlog::debug("/tokenize on {}: {}", leg.target().key, outcome.detail);
    co_return nullptr;
  }
  if (parser->status() != 200) {
    spdlog::debug("/tokenize on {}: status {}", leg.target().key, parser->status());
    co_return nullptr;
  }
  const bool reusable = parser->keep_alive();
  absl::StatusOr<std::vector<uint32_t>> ids = ParseTokenizeAnswer(parser->body(), kMaxTokenizeIds);
  if (reusable) leg.Release();
  if (!ids.ok() || ids->empty()) co_return nullptr;
  co_return std::make_shared<const std::vector<uint32_t>>(std::move(*ids));
}

}  // namespace

Task<PromptIds> PromptTokens(RequestContext& context, bool chat) {
  const OpenAIRequest& request = *context.leg.request;
  const Clock::time_point started = Clock::now();
  if (!chat) {
    if (std::optional<std::vector<uint32_t>> ids = PromptTokenIds(request.prompt_json)) {
      context.observer.PromptTokens(PromptTokensSource::kRequest, {});
      co_return PromptIds{std::make_shared<const std::vector<uint32_t>>(std::move(*ids))};
    }
  }
  // The model as the engine is asked for it (a route may rewrite it).
  const std::string client_model = context.leg.model_json.empty() ? JsonString(request.model) : "";
  const std::string_view model_json =
      context.leg.model_json.empty() ? std::string_view(client_model) : context.leg.model_json;
  // What the engine is asked is what the answer depends on: its hash is the cache key.
  std::string body = TokenizeBody(request, context.leg.body, model_json, chat);
  const uint64_t key = XXH3_64bits(body.data(), body.size());
  TokenizeCache& cache = context.worker.tokenize_cache;
  if (Tokens cached = cache.Find(key)) {
    context.observer.PromptTokens(PromptTokensSource::kCache, {});
    co_return PromptIds{std::move(cached)};
  }
  // A new question after a known system prompt and history: the ids the prefix's requests share
  // score it (its last message is its own: no engine holds it), and the scheduler estimates the
  // length of that message from its bytes.
  const std::optional<uint64_t> prefix_key =
      chat ? PromptPrefixKey(body, request.prompt_json) : std::nullopt;
  if (prefix_key) {
    if (Tokens shared = cache.Find(*prefix_key)) {
      context.observer.PromptTokens(PromptTokensSource::kPrefix, {});
      co_return PromptIds{std::move(shared), /*whole=*/false};
    }
  }
  Tokens tokens = co_await Tokenize(context, std::move(body));
  if (tokens == nullptr) {
    if (context.watch->client_gone) co_return PromptIds{};  // not the engine's failure
    context.observer.PromptTokens(PromptTokensSource::kUnavailable, Clock::now() - started);
    co_return PromptIds{};
  }
  const config::KvCacheAwareArgs& args = context.settings.scheduler.kv_cache_aware;
  const auto entries = size_t(args.tokenize_cache_entries);
  cache.Insert(key, tokens, entries, kMaxCachedIds);
  if (prefix_key) {
    // The second request of a prefix: the ids both share are the prefix's (the engine rendered
    // the same messages before the last one the same way). Fewer than a block says nothing.
    if (Tokens first = cache.Find(*prefix_key ^ kFirstOfPrefix)) {
      const size_t common = CommonLength(*first, *tokens);
      // (All of the shorter one in common: the two differ only in what tokenizes alike, such as
      // spacing, and say nothing of where the prefix ends.)
      if (common >= size_t(args.block_size_to_hash) &&
          common < std::min(first->size(), tokens->size())) {
        cache.Insert(*prefix_key,
                     std::make_shared<const std::vector<uint32_t>>(
                         tokens->begin(), tokens->begin() + ptrdiff_t(common)),
                     entries, kMaxCachedIds);
      }
    } else {
      cache.Insert(*prefix_key ^ kFirstOfPrefix, tokens, entries, kMaxCachedIds);
    }
  }
  context.observer.PromptTokens(PromptTokensSource::kTokenize, Clock::now() - started);
  co_return PromptIds{std::move(tokens)};
}

}  // namespace pdgate::router
