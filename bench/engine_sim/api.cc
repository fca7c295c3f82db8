#include "bench/engine_sim/api.h"

#include <simdjson.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <random>

#include "bench/engine_sim/api_internal.h"
#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/faults.h"
#include "bench/engine_sim/json_writer.h"
#include "bench/engine_sim/metrics.h"
#include "bench/engine_sim/request.h"
#include "bench/engine_sim/response.h"
#include "base/strings.h"

namespace pdgate::sim {

namespace api_internal {
namespace {

uint64_t Random64() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng();
}

}  // namespace

int64_t UnixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string RandomUuid() {
  const uint64_t a = Random64(), b = Random64();
  char buffer[40];
  std::snprintf(buffer, sizeof(buffer), "%08x-%04x-4%03x-%04x-%012llx",
                static_cast<unsigned>(a >> 32), static_cast<unsigned>(a >> 16) & 0xffff,
                static_cast<unsigned>(a) & 0xfff,
                (static_cast<unsigned>(b >> 48) & 0x3fff) | 0x8000,
                static_cast<unsigned long long>(b) & 0xffffffffffffULL);
  return buffer;
}

std::string RandomHex8() {
  char buffer[12];
  std::snprintf(buffer, sizeof(buffer), "%08x", static_cast<unsigned>(Random64()));
  return buffer;
}

}  // namespace api_internal

using api_internal::kJson;
using api_internal::RandomUuid;
using api_internal::UnixNow;

namespace {

namespace net = boost::asio;

std::string_view PathOf(std::string_view target) { return target.substr(0, target.find('?')); }

}  // namespace

SimApi::SimApi(net::io_context& ioc, const Options& options, Engine& engine, Metrics& metrics,
               Faults& faults)
    : ioc_(ioc),
      options_(options),
      engine_(engine),
      metrics_(metrics),
      faults_(faults),
      started_at_(UnixNow()) {}

void SimApi::ReplyError(Responder& responder, int status, std::string_view message) {
  metrics_.rejected++;
  responder.Reply(status, std::string(kJson), ErrorBody(status, message, options_.flat_errors));
}

std::string SimApi::ModelsBody() const {
  std::vector<std::string> names = options_.served_model_names;
  if (names.empty()) names.push_back(options_.model);
  std::string out = R"({"object":"list","data":[)";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += R"({"id":)";
    AppendJsonString(out, names[i]);
    StrAppend(out, R"(,"object":"model","created":)", started_at_, R"(,"owned_by":")",
              options_.engine == EngineKind::kSglang ? "sglang" : "vllm", R"(","root":)");
    AppendJsonString(out, options_.model);
    StrAppend(out, R"(,"parent":null,"max_model_len":)", options_.max_model_len,
              R"(,"permission":[{"id":"modelperm-)", std::string_view(RandomUuid()).substr(0, 8),
              R"(","object":"model_permission","created":)", started_at_,
              R"(,"allow_create_engine":false,"allow_sampling":true,"allow_logprobs":true,)"
              R"("allow_search_indices":false,"allow_view":true,"allow_fine_tuning":false,)"
              R"("organization":"*","group":null,"is_blocking":false}]})");
  }
  // LoRA adapters as vLLM lists them: parent = the base model, no max_model_len, no permissions.
  for (const Options::Lora& lora : options_.lora_modules) {
    out += R"(,{"id":)";
    AppendJsonString(out, lora.name);
    StrAppend(out, R"(,"object":"model","created":)", started_at_, R"(,"owned_by":"vllm","root":)");
    AppendJsonString(out, lora.path);
    out += R"(,"parent":)";
    AppendJsonString(out, options_.primary_model());
    out += R"(,"max_model_len":null,"permission":[]})";
  }
  out += "]}";
  return out;
}

bool SimApi::ResolveModel(const std::string& requested, std::string& lora) const {
  const auto& names = options_.served_model_names;
  if (names.empty() ? requested == options_.model
                    : std::find(names.begin(), names.end(), requested) != names.end()) {
    return true;
  }
  for (const Options::Lora& adapter : options_.lora_modules) {
    if (adapter.name == requested) {
      lora = adapter.name;
      return true;
    }
  }
  return false;
}

// vLLM's /tokenize: the prompt's token ids as the engine sees them (routers that index KV events
// by token ids ask it, e.g. Kthena). Not a generation: no request or token counters move.
void SimApi::ServeTokenize(IncomingRequest request, Responder& responder) {
  auto error = [&](int status, std::string_view message) {
    responder.Reply(status, std::string(kJson), ErrorBody(status, message, options_.flat_errors));
  };
  if (!ready_.load()) return error(503, "The engine is starting.");
  TokenizeRequest parsed;
  if (auto bad = ParseTokenizeRequest(request.body, parsed))
    return error(bad->status, bad->message);
  std::string lora;
  if (parsed.model && !ResolveModel(*parsed.model, lora)) {
    return error(404, StrCat("The model `", *parsed.model, "` does not exist."));
  }
  std::string body = StrCat(R"({"count":)", parsed.tokens.size(), R"(,"max_model_len":)",
                            options_.max_model_len, R"(,"tokens":[)");
  for (size_t i = 0; i < parsed.tokens.size(); ++i) {
    StrAppend(body, i ? "," : "", parsed.tokens[i]);
  }
  body += "]}";
  responder.Reply(200, std::string(kJson), std::move(body));
}

void SimApi::Handle(IncomingRequest request, std::shared_ptr<Responder> responder) {
  const std::string_view path = PathOf(request.target);
  const bool get = request.method == "GET";
  const bool post = request.method == "POST";
  // vLLM's --api-key middleware: only paths under /v1, and a bare-string error body.
  if (!options_.api_key.empty() && path.starts_with("/v1") &&
      request.authorization != "Bearer " + options_.api_key) {
    return responder->Reply(401, std::string(kJson), R"({"error":"Unauthorized"})");
  }
  if (path == "/v1/chat/completions" || path == "/v1/completions") {
    if (!post)
      return responder->Reply(405, std::string(kJson), R"({"detail":"Method Not Allowed"})");
    return Generate(std::move(request), std::move(responder), path == "/v1/chat/completions");
  }
  if (path == "/tokenize") {
    if (!post)
      return responder->Reply(405, std::string(kJson), R"({"detail":"Method Not Allowed"})");
    return ServeTokenize(std::move(request), *responder);
  }
  if (path == "/health" && get) {
    return responder->Reply(ready_.load() ? 200 : 503, "", "");
  }
  if (path == "/v1/models" && get) {
    if (!ready_.load()) return ReplyError(*responder, 503, "The engine is starting.");
    return responder->Reply(200, std::string(kJson), ModelsBody());
  }
  if (path == "/metrics" && get) {
    const MetricsFlavor flavor = options_.engine == EngineKind::kSglang ? MetricsFlavor::kSglang
                                 : options_.legacy_metrics              ? MetricsFlavor::kVllmLegacy
                                                                        : MetricsFlavor::kVllm;
    return responder->Reply(200, "text/plain; version=0.0.4; charset=utf-8",
                            metrics_.RenderPrometheus(flavor, options_.primary_model(),
                                                      options_.engine_config.block_size));
  }
  if (path == "/admin/stats" && get) {
    return responder->Reply(200, std::string(kJson), metrics_.RenderJson());
  }
  if (path == "/admin/faults") {
    if (post) {
      std::string error = faults_.Update(std::move(request.body));
      if (!error.empty()) return ReplyError(*responder, 400, error);
      const FaultConfig config = faults_.config();
      CostModel cost = engine_.config().cost;
      cost.prefill_multiplier = config.prefill_multiplier;
      cost.decode_multiplier = config.decode_multiplier;
      engine_.SetCost(cost);
    }
    return responder->Reply(200, std::string(kJson), faults_.ToJson());
  }
  if (path == "/admin/ready" && post) {  // flips readiness: {"ready": bool}
    set_ready(request.body.find("false") == std::string::npos);
    return responder->Reply(200, std::string(kJson),
                            ready_.load() ? R"({"ready":true})" : R"({"ready":false})");
  }
  // Small endpoints routers and scripts call: vLLM's /ping, /version, /reset_prefix_cache;
  // SGLang's /health_generate, /get_model_info, /get_server_info, /flush_cache.
  const bool sglang = options_.engine == EngineKind::kSglang;
  if ((path == "/reset_prefix_cache" && post && !sglang) || (path == "/flush_cache" && sglang)) {
    engine_.ResetPrefixCache();
    return responder->Reply(200, "", "");
  }
  if (path == "/ping" && !sglang) return responder->Reply(ready_.load() ? 200 : 503, "", "");
  if (path == "/version" && get && !sglang) {
    return responder->Reply(200, std::string(kJson), R"({"version":"0.11.0+pdgate-sim"})");
  }
  if (path == "/health_generate" && get && sglang) {
    return responder->Reply(ready_.load() ? 200 : 503, "", "");
  }
  if (path == "/get_model_info" && get && sglang) {
    std::string body = R"({"model_path":)";
    AppendJsonString(body, options_.model);
    body += R"(,"tokenizer_path":)";
    AppendJsonString(body, options_.model);
    body += R"(,"is_generation":true})";
    return responder->Reply(200, std::string(kJson), std::move(body));
  }
  if (path == "/get_server_info" && get && sglang) {
    const char* mode = options_.role == Role::kPrefill  ? R"("prefill")"
                       : options_.role == Role::kDecode ? R"("decode")"
                                                        : "null";
    std::string body = R"({"model_path":)";
    AppendJsonString(body, options_.model);
    StrAppend(body, R"(,"disaggregation_mode":)", std::string_view(mode),
              R"(,"disaggregation_bootstrap_port":)", options_.bootstrap_port,
              R"(,"max_running_requests":)", options_.engine_config.max_num_seqs,
              R"(,"page_size":)", options_.engine_config.block_size, "}");
    return responder->Reply(200, std::string(kJson), std::move(body));
  }
  if (path == "/abort_request" && post && options_.engine == EngineKind::kSglang) {
    std::string body = std::move(request.body);
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
    simdjson::ondemand::parser parser;
    simdjson::ondemand::document doc;
    std::string_view rid;
    if (parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
            .get(doc) ||
        doc["rid"].get_string().get(rid)) {
      return ReplyError(*responder, 400, "`rid` is required");
    }
    engine_.AbortByRidPrefix(std::string(rid));
    return responder->Reply(200, "", "");
  }
  responder->Reply(404, std::string(kJson), R"({"detail":"Not Found"})");
}

void SimApi::HandleSide(IncomingRequest request, std::shared_ptr<Responder> responder) {
  const std::string_view path = PathOf(request.target);
  std::string body = std::move(request.body);
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (request.method != "POST" ||
      parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
          .get(doc) ||
      doc.get_object().get(object)) {
    return responder->Reply(404, std::string(kJson), R"({"detail":"Not Found"})");
  }
  auto reply = [responder](PullReply r) {
    responder->Reply(r.status, std::string(kJson), std::move(r.body));
  };
  if (path == "/kv/pull") {
    PullRequest pull;
    bool ok = true;
    for (auto field : object) {
      std::string_view key, value;
      if (field.unescaped_key().get(key)) {
        ok = false;
        break;
      }
      if (key == "remote_engine_id" || key == "remote_request_id") {
        if (field.value().get_string().get(value)) {
          ok = false;
          break;
        }
        (key == "remote_engine_id" ? pull.remote_engine_id : pull.remote_request_id) =
            std::string(value);
      } else if (key == "remote_block_ids") {
        simdjson::ondemand::array ids;
        if (field.value().get_array().get(ids)) {
          ok = false;
          break;
        }
        for (auto id : ids) {
          int64_t v = 0;
          if (id.get_int64().get(v)) {
            ok = false;
            break;
          }
          pull.remote_block_ids.push_back(v);
        }
      }
    }
    if (!ok) return responder->Reply(400, std::string(kJson), ErrorBody(400, "bad pull request"));
    return engine_.ServeKvPull(std::move(pull), std::move(reply));
  }
  if (path == "/bootstrap/wait") {
    uint64_t room = 0;
    int64_t timeout_ms = 0;
    bool have_room = false;
    for (auto field : object) {
      std::string_view key;
      if (field.unescaped_key().get(key)) break;
      if (key == "room") {
        have_room = !field.value().get_uint64().get(room);
      } else if (key == "timeout_ms") {
        if (field.value().get_int64().get(timeout_ms)) timeout_ms = 0;
      }
    }
    if (!have_room)
      return responder->Reply(400, std::string(kJson), ErrorBody(400, "`room` is required"));
    return engine_.ServeRoomWait(room, double(timeout_ms) / 1000.0, std::move(reply));
  }
  responder->Reply(404, std::string(kJson), R"({"detail":"Not Found"})");
}

}  // namespace pdgate::sim
