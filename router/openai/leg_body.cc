#include "router/openai/leg_body.h"

#include <simdjson.h>

#include <array>
#include <optional>

#include "base/strings.h"
#include "router/openai/json_blocks.h"
#include "router/openai/json_member.h"
#include "router/openai/json_text.h"

namespace pdgate::router {
namespace {

constexpr std::string_view kNixlSkeleton =
    R"({"do_remote_decode":true,"do_remote_prefill":false,"remote_engine_id":null,)"
    R"("remote_block_ids":null,"remote_host":null,"remote_port":null})";

// Per key: drop the member, or give it a new value (appended when the client had none).
class Splicer {
 public:
  explicit Splicer(const LegContext& leg) : leg_(leg) {}

  void Drop(Key key) { action(key) = Action{true, {}, false}; }
  void Set(Key key, std::string value_json) {
    action(key) = Action{false, std::move(value_json), true};
  }
  // Replaces only when the client sent the key.
  void SetIfPresent(Key key, std::string value_json) {
    action(key) = Action{false, std::move(value_json), false};
  }

  std::string Build() const {
    std::string out;
    out.reserve(leg_.body.size() + 256);
    out.push_back('{');
    std::array<bool, kKeyCount> present{};
    bool first = true;
    auto comma = [&] {
      if (!first) out.push_back(',');
      first = false;
    };
    for (const Member& m : leg_.request->members) {
      const auto index = static_cast<size_t>(m.key);
      present[index] = true;
      const std::optional<Action>& a = actions_[index];
      if (m.key != Key::kOther && a && a->drop) continue;
      comma();
      if (m.key != Key::kOther && a) {
        out.append(leg_.body.substr(m.begin, m.value_begin - m.begin));  // the client's key bytes
        out.append(a->value);
      } else {
        out.append(leg_.body.substr(m.begin, m.end - m.begin));
      }
    }
    for (size_t i = 1; i < kKeyCount; ++i) {
      const std::optional<Action>& a = actions_[i];
      if (present[i] || !a || a->drop || !a->add_when_absent) continue;
      comma();
      AppendJsonString(out, KeyName(Key(i)));
      out.push_back(':');
      out.append(a->value);
    }
    out.push_back('}');
    return out;
  }

 private:
  static constexpr size_t kKeyCount = static_cast<size_t>(Key::kRid) + 1;
  struct Action {
    bool drop = false;
    std::string value;
    bool add_when_absent = false;
  };
  std::optional<Action>& action(Key key) { return actions_[static_cast<size_t>(key)]; }

  static std::string_view KeyName(Key key) {
    switch (key) {
      case Key::kModel:
        return "model";
      case Key::kStream:
        return "stream";
      case Key::kStreamOptions:
        return "stream_options";
      case Key::kMaxTokens:
        return "max_tokens";
      case Key::kMaxCompletionTokens:
        return "max_completion_tokens";
      case Key::kMinTokens:
        return "min_tokens";
      case Key::kMinCompletionTokens:
        return "min_completion_tokens";
      case Key::kMessages:
        return "messages";
      case Key::kPrompt:
        return "prompt";
      case Key::kUser:
        return "user";
      case Key::kKvTransferParams:
        return "kv_transfer_params";
      case Key::kBootstrapHost:
        return "bootstrap_host";
      case Key::kBootstrapPort:
        return "bootstrap_port";
      case Key::kBootstrapRoom:
        return "bootstrap_room";
      case Key::kRid:
        return "rid";
      case Key::kOther:
        break;
    }
    return "";
  }

  const LegContext& leg_;
  std::array<std::optional<Action>, kKeyCount> actions_;
};

// Client-supplied engine-control fields never reach an engine: kv_transfer_params could make a
// decode pull arbitrary blocks, bootstrap_host could point an engine anywhere.
void DropRouterOwned(Splicer& s) {
  for (Key key : {Key::kKvTransferParams, Key::kBootstrapHost, Key::kBootstrapPort,
                  Key::kBootstrapRoom, Key::kRid}) {
    s.Drop(key);
  }
}

void SetModel(const LegContext& leg, Splicer& s) {
  if (!leg.model_json.empty()) s.Set(Key::kModel, leg.model_json);
}

void SetBootstrap(const SglangBootstrap& b, Splicer& s) {
  s.Set(Key::kBootstrapHost, JsonString(b.host));
  s.Set(Key::kBootstrapPort, StrCat(b.port));
  s.Set(Key::kBootstrapRoom, StrCat(b.room));
  s.Set(Key::kRid, JsonString(b.rid));
}

}  // namespace

std::string BuildPrefillBody(const LegContext& leg, config::KvConnector connector,
                             const SglangBootstrap* bootstrap) {
  Splicer s(leg);
  DropRouterOwned(s);
  SetModel(leg, s);
  s.Set(Key::kStream, "false");
  s.Drop(Key::kStreamOptions);
  s.Set(Key::kMaxTokens, "1");
  s.SetIfPresent(Key::kMaxCompletionTokens, "1");
  s.Drop(Key::kMinTokens);
  s.Drop(Key::kMinCompletionTokens);
  switch (connector) {
    case config::KvConnector::kMooncake:
      s.Set(Key::kMinTokens, "1");
      [[fallthrough]];
    case config::KvConnector::kNixl:
      s.Set(Key::kKvTransferParams, std::string(kNixlSkeleton));
      break;
    case config::KvConnector::kSglang:
      if (bootstrap != nullptr) SetBootstrap(*bootstrap, s);
      break;
    case config::KvConnector::kHttp:
    case config::KvConnector::kLmcache:
      break;
  }
  return s.Build();
}

std::string BuildDecodeBody(const LegContext& leg, std::string_view kv_transfer_params_json,
                            bool inject_usage, const SglangBootstrap* bootstrap) {
  Splicer s(leg);
  DropRouterOwned(s);
  SetModel(leg, s);
  if (!kv_transfer_params_json.empty()) {
    s.Set(Key::kKvTransferParams, std::string(kv_transfer_params_json));
  }
  if (bootstrap != nullptr) SetBootstrap(*bootstrap, s);
  if (inject_usage) {
    s.Set(Key::kStreamOptions, leg.request->continuous_usage_stats
                                   ? R"({"include_usage":true,"continuous_usage_stats":true})"
                                   : R"({"include_usage":true})");
  }
  return s.Build();
}

std::optional<std::string> DecodeBodyUnlessClients(const LegContext& leg,
                                                   std::string_view kv_transfer_params_json,
                                                   bool inject_usage) {
  bool router_owned = false;
  for (const Member& m : leg.request->members) {
    switch (m.key) {
      case Key::kKvTransferParams:
      case Key::kBootstrapHost:
      case Key::kBootstrapPort:
      case Key::kBootstrapRoom:
      case Key::kRid:
        router_owned = true;
        break;
      default:
        break;
    }
  }
  if (router_owned || !leg.model_json.empty() || !kv_transfer_params_json.empty() || inject_usage) {
    return BuildDecodeBody(leg, kv_transfer_params_json, inject_usage);
  }
  return std::nullopt;
}

std::string ExtractKvTransferParams(std::string& answer) {
  answer.reserve(answer.size() + kJsonPadding);
  // Looked up where the key is written (vLLM puts it last, after the generated text and usage):
  // a parse of the whole answer cost 4,200 instructions of a PD request's ~50,000.
  size_t begin = 0;
  size_t end = 0;
  switch (FindTopLevelObject(answer, "\"kv_transfer_params\"", begin, end)) {
    case MemberAt::kNone:
      return {};
    case MemberAt::kFound:
      return answer.substr(begin, end - begin);
    case MemberAt::kUnsure:
      break;  // null (an early stop), not an object, not plainly the root's: parsed
  }
  thread_local simdjson::ondemand::parser parser;
  simdjson::ondemand::document doc;
  simdjson::ondemand::object object;
  if (parser.iterate(answer.data(), answer.size(), answer.capacity()).get(doc) ||
      doc.get_object().get(object)) {
    return {};
  }
  // Keys compared as they are on the wire (engines write this one without escapes), not
  // unescaped one by one; the object's text taken as it stands.
  simdjson::ondemand::object params;
  std::string_view raw;
  if (object.find_field_unordered("kv_transfer_params").get_object().get(params) ||
      params.raw_json().get(raw)) {
    return {};
  }
  // simdjson's raw text of a value runs to the next token: blanks after the object are not its.
  while (!raw.empty() && json_blocks::IsBlank(raw.back())) raw.remove_suffix(1);
  return std::string(raw);
}

}  // namespace pdgate::router
