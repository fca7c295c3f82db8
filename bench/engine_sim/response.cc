#include "bench/engine_sim/response.h"

#include "bench/engine_sim/json_writer.h"
#include "base/strings.h"

namespace pdgate::sim {
namespace {

void AppendUsage(std::string& out, const UsageNumbers& usage, bool details) {
  StrAppend(out, R"({"prompt_tokens":)", usage.prompt_tokens, R"(,"total_tokens":)",
            usage.prompt_tokens + usage.completion_tokens, R"(,"completion_tokens":)",
            usage.completion_tokens);
  if (details) {
    StrAppend(out, R"(,"prompt_tokens_details":{"cached_tokens":)", usage.cached_tokens, "}");
  }
  out += '}';
}

void AppendChunkHead(std::string& out, const ResponseContext& ctx) {
  out += R"(data: {"id":)";
  AppendJsonString(out, ctx.id);
  out += ctx.api == Api::kChat ? R"(,"object":"chat.completion.chunk","created":)"
                               : R"(,"object":"text_completion","created":)";
  StrAppend(out, ctx.created, R"(,"model":)");
  AppendJsonString(out, ctx.model);
  out += R"(,"choices":[)";
}

void AppendChunkTail(std::string& out, const ResponseContext& ctx, const UsageNumbers& usage) {
  out += ']';
  if (ctx.continuous_usage_stats && ctx.include_usage) {
    out += R"(,"usage":)";
    AppendUsage(out, usage, false);
  } else if (ctx.include_usage) {
    out += R"(,"usage":null)";
  }
  out += "}\n\n";
}

void AppendChoice(std::string& out, const ResponseContext& ctx, std::string_view text, bool role,
                  const FinishReason* finish) {
  if (ctx.api == Api::kChat) {
    out += R"({"index":0,"delta":{)";
    if (role) out += R"("role":"assistant",)";
    out += R"("content":)";
    AppendJsonString(out, text);
    out += R"(},"logprobs":null,"finish_reason":)";
    if (finish) {
      StrAppend(out, "\"", FinishReasonName(*finish), R"(","stop_reason":null})");
    } else {
      out += "null}";
    }
    return;
  }
  out += R"({"index":0,"text":)";
  AppendJsonString(out, text);
  out += R"(,"logprobs":null,"finish_reason":)";
  if (finish) {
    StrAppend(out, "\"", FinishReasonName(*finish), "\"");
  } else {
    out += "null";
  }
  out += R"(,"stop_reason":null})";
}

}  // namespace

std::string GeneratedText(const ResponseContext& ctx, int count) {
  std::string text;
  for (int i = 0; i < count; ++i) text += TokenText(ctx.key, ctx.plan, i);
  return text;
}

std::string CompletionBody(const ResponseContext& ctx, int generated, FinishReason finish,
                           const UsageNumbers& usage, std::string_view kv_transfer_params) {
  std::string out;
  out.reserve(512);
  out += R"({"id":)";
  AppendJsonString(out, ctx.id);
  out += ctx.api == Api::kChat ? R"(,"object":"chat.completion","created":)"
                               : R"(,"object":"text_completion","created":)";
  StrAppend(out, ctx.created, R"(,"model":)");
  AppendJsonString(out, ctx.model);
  const std::string text = GeneratedText(ctx, generated);
  if (ctx.api == Api::kChat) {
    out += R"(,"choices":[{"index":0,"message":{"role":"assistant","content":)";
    AppendJsonString(out, text);
    out += R"(,"refusal":null,"annotations":null,"audio":null,"function_call":null,)"
           R"("tool_calls":[],"reasoning_content":null},"logprobs":null,"finish_reason":")";
  } else {
    out += R"(,"choices":[{"index":0,"text":)";
    AppendJsonString(out, text);
    out += R"(,"logprobs":null,"finish_reason":")";
  }
  StrAppend(out, FinishReasonName(finish), R"(","stop_reason":null)");
  if (ctx.api == Api::kCompletions) out += R"(,"prompt_logprobs":null)";
  out += R"(}],"service_tier":null,"system_fingerprint":null,"usage":)";
  AppendUsage(out, usage, true);
  if (ctx.api == Api::kChat) out += R"(,"prompt_logprobs":null)";
  out += R"(,"kv_transfer_params":)";
  if (kv_transfer_params.empty()) {
    out += "null";
  } else {
    out += kv_transfer_params;
  }
  out += '}';
  return out;
}

std::string RoleEvent(const ResponseContext& ctx, const UsageNumbers& usage) {
  std::string out;
  AppendChunkHead(out, ctx);
  AppendChoice(out, ctx, "", true, nullptr);
  AppendChunkTail(out, ctx, usage);
  return out;
}

std::string TokenEvents(const ResponseContext& ctx, int from, int to, UsageNumbers usage) {
  std::string out;
  for (int i = from; i < to; ++i) {
    usage.completion_tokens = i + 1;
    AppendChunkHead(out, ctx);
    const bool last = i == ctx.plan.tokens - 1;
    AppendChoice(out, ctx, TokenText(ctx.key, ctx.plan, i), false,
                 last ? &ctx.plan.finish : nullptr);
    AppendChunkTail(out, ctx, usage);
  }
  return out;
}

std::string FinishEvent(const ResponseContext& ctx, FinishReason finish,
                        const UsageNumbers& usage) {
  std::string out;
  AppendChunkHead(out, ctx);
  AppendChoice(out, ctx, "", false, &finish);
  AppendChunkTail(out, ctx, usage);
  return out;
}

std::string UsageEvent(const ResponseContext& ctx, const UsageNumbers& usage) {
  std::string out = R"(data: {"id":)";
  AppendJsonString(out, ctx.id);
  out += ctx.api == Api::kChat ? R"(,"object":"chat.completion.chunk","created":)"
                               : R"(,"object":"text_completion","created":)";
  StrAppend(out, ctx.created, R"(,"model":)");
  AppendJsonString(out, ctx.model);
  out += R"(,"choices":[],"usage":)";
  AppendUsage(out, usage, true);
  out += "}\n\n";
  return out;
}

std::string ErrorEvent(int status, std::string_view message) {
  std::string out = "data: ";
  out += ErrorBody(status, message);
  out += "\n\n";
  return out;
}

}  // namespace pdgate::sim
