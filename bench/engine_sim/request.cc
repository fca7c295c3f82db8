#include "bench/engine_sim/request.h"

#include <simdjson.h>

#include "base/strings.h"

namespace pdgate::sim {
namespace {

namespace od = simdjson::ondemand;

ParseError Bad(std::string message) { return ParseError{400, std::move(message)}; }

bool IsNull(od::value& value) {
  od::json_type type;
  return !value.type().get(type) && type == od::json_type::null;
}

std::optional<ParseError> ReadInt(od::value& value, std::string_view name,
                                  std::optional<int64_t>& out) {
  if (IsNull(value)) return std::nullopt;
  int64_t v = 0;
  if (value.get_int64().get(v)) return Bad(StrCat("`", name, "` must be an integer"));
  out = v;
  return std::nullopt;
}

std::optional<ParseError> ReadBool(od::value& value, std::string_view name, bool& out) {
  if (IsNull(value)) return std::nullopt;
  if (value.get_bool().get(out)) return Bad(StrCat("`", name, "` must be a boolean"));
  return std::nullopt;
}

std::optional<ParseError> ReadString(od::value& value, std::string_view name,
                                     std::optional<std::string>& out) {
  if (IsNull(value)) return std::nullopt;
  std::string_view v;
  if (value.get_string().get(v)) return Bad(StrCat("`", name, "` must be a string"));
  out = std::string(v);
  return std::nullopt;
}

// Text content: a string, or a list of {"type":"text","text":...} parts.
std::optional<ParseError> ReadContent(od::value& value, std::string& out) {
  if (IsNull(value)) return std::nullopt;
  od::json_type type;
  if (value.type().get(type)) return Bad("invalid message content");
  if (type == od::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text)) return Bad("invalid message content");
    out.append(text);
    return std::nullopt;
  }
  od::array parts;
  if (value.get_array().get(parts)) return Bad("message content must be a string or a list");
  for (auto part_result : parts) {
    od::object part;
    if (part_result.get_object().get(part)) return Bad("invalid content part");
    for (auto field : part) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return Bad("invalid content part");
      if (key == "text") {
        std::string_view text;
        if (field.value().get_string().get(text)) return Bad("content part text must be a string");
        out.append(text);
      }
    }
  }
  return std::nullopt;
}

std::optional<ParseError> ReadMessages(od::value& value, std::vector<ChatMessage>& out) {
  od::array messages;
  if (value.get_array().get(messages)) return Bad("`messages` must be a list");
  for (auto message_result : messages) {
    od::object message;
    if (message_result.get_object().get(message)) return Bad("each message must be an object");
    ChatMessage parsed;
    for (auto field : message) {
      std::string_view key;
      if (field.unescaped_key().get(key)) return Bad("invalid message");
      od::value v;
      if (field.value().get(v)) return Bad("invalid message");
      if (key == "role") {
        std::string_view role;
        if (v.get_string().get(role)) return Bad("message `role` must be a string");
        parsed.role = std::string(role);
      } else if (key == "content") {
        if (auto error = ReadContent(v, parsed.content)) return error;
      }
    }
    if (parsed.role.empty()) return Bad("each message needs a `role`");
    out.push_back(std::move(parsed));
  }
  return std::nullopt;
}

// prompt: a string, a list with one string, a list of token ids, or a list with one such list.
std::optional<ParseError> ReadPrompt(od::value& value, std::vector<TokenId>& out) {
  od::json_type type;
  if (value.type().get(type)) return Bad("invalid `prompt`");
  if (type == od::json_type::string) {
    std::string_view text;
    if (value.get_string().get(text)) return Bad("invalid `prompt`");
    out = Tokenize(text);
    return std::nullopt;
  }
  od::array items;
  if (value.get_array().get(items)) return Bad("`prompt` must be a string or a list");
  int count = 0;
  for (auto item_result : items) {
    od::value item;
    if (item_result.get(item) || item.type().get(type)) return Bad("invalid `prompt`");
    if (type == od::json_type::number) {
      uint64_t id = 0;
      if (item.get_uint64().get(id)) return Bad("token ids must be non-negative integers");
      out.push_back(static_cast<TokenId>(id));
      continue;
    }
    if (++count > 1) {
      return ParseError{501, "batched prompts are not supported by the simulator"};
    }
    if (auto error = ReadPrompt(item, out)) return error;
  }
  return std::nullopt;
}

std::optional<ParseError> ReadStreamOptions(od::value& value, OpenAiRequest& out) {
  if (IsNull(value)) return std::nullopt;
  od::object options;
  if (value.get_object().get(options)) return Bad("`stream_options` must be an object");
  out.has_stream_options = true;
  out.include_usage = true;  // vLLM's StreamOptions default
  for (auto field : options) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v))
      return Bad("invalid stream_options");
    if (key == "include_usage") {
      if (auto error = ReadBool(v, "include_usage", out.include_usage)) return error;
    } else if (key == "continuous_usage_stats") {
      if (auto error = ReadBool(v, "continuous_usage_stats", out.continuous_usage_stats))
        return error;
    }
  }
  return std::nullopt;
}

std::optional<ParseError> ReadBlockIds(od::value& value, std::vector<int64_t>& out) {
  od::array ids;
  if (value.get_array().get(ids)) return Bad("`remote_block_ids` must be a list");
  for (auto id_result : ids) {
    od::value id;
    od::json_type type;
    if (id_result.get(id) || id.type().get(type)) return Bad("invalid remote_block_ids");
    if (type == od::json_type::array) {
      if (auto error = ReadBlockIds(id, out)) return error;
      continue;
    }
    int64_t v = 0;
    if (id.get_int64().get(v)) return Bad("remote_block_ids must hold integers");
    out.push_back(v);
  }
  return std::nullopt;
}

std::optional<ParseError> ReadKvTransferParams(od::value& value, OpenAiRequest& out) {
  if (IsNull(value)) return std::nullopt;
  od::object object;
  if (value.get_object().get(object)) return Bad("`kv_transfer_params` must be an object");
  KvTransferParams params;
  for (auto field : object) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v))
      return Bad("invalid kv_transfer_params");
    std::optional<ParseError> error;
    if (key == "do_remote_decode") {
      error = ReadBool(v, key, params.do_remote_decode);
    } else if (key == "do_remote_prefill") {
      error = ReadBool(v, key, params.do_remote_prefill);
    } else if (key == "remote_engine_id") {
      error = ReadString(v, key, params.remote_engine_id);
    } else if (key == "remote_request_id") {
      error = ReadString(v, key, params.remote_request_id);
    } else if (key == "remote_host") {
      error = ReadString(v, key, params.remote_host);
    } else if (key == "remote_port") {
      error = ReadInt(v, key, params.remote_port);
    } else if (key == "tp_size") {
      error = ReadInt(v, key, params.tp_size);
    } else if (key == "remote_block_ids" && !IsNull(v)) {
      params.remote_block_ids.emplace();
      error = ReadBlockIds(v, *params.remote_block_ids);
    }
    if (error) return error;
  }
  out.kv_transfer_params = std::move(params);
  return std::nullopt;
}

// The top-level object of `body` (padded here if needed), with `doc` kept alive by the caller.
std::optional<ParseError> Iterate(std::string& body, od::document& doc, od::object& object) {
  if (body.capacity() - body.size() < simdjson::SIMDJSON_PADDING) {
    body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  }
  thread_local od::parser parser;
  if (parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
          .get(doc)) {
    return Bad("request body is not valid JSON");
  }
  if (doc.get_object().get(object)) return Bad("request body must be a JSON object");
  return std::nullopt;
}

}  // namespace

std::optional<ParseError> ParseOpenAiRequest(Api api, std::string& body, OpenAiRequest& out) {
  out.api = api;
  od::document doc;
  od::object object;
  if (auto error = Iterate(body, doc, object)) return error;

  std::optional<int64_t> max_tokens;
  std::optional<int64_t> max_completion_tokens;
  std::optional<int64_t> min_tokens;
  std::optional<int64_t> seed;
  std::optional<int64_t> n;
  std::optional<std::string> rid;
  std::optional<std::string> request_id;
  std::optional<std::string> bootstrap_host;
  std::optional<int64_t> bootstrap_port;
  std::optional<uint64_t> bootstrap_room;
  bool has_prompt = false;
  std::vector<ChatMessage> messages;
  bool has_messages = false;
  bool add_generation_prompt = true;

  for (auto field : object) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return Bad("request body is not valid JSON");
    }
    std::optional<ParseError> error;
    if (key == "model") {
      error = ReadString(v, key, out.model);
    } else if (key == "prompt" && api == Api::kCompletions) {
      has_prompt = true;
      out.prompt.clear();
      error = ReadPrompt(v, out.prompt);
    } else if (key == "messages" && api == Api::kChat) {
      has_messages = true;
      messages.clear();
      error = ReadMessages(v, messages);
    } else if (key == "add_generation_prompt" && api == Api::kChat) {
      error = ReadBool(v, key, add_generation_prompt);
    } else if (key == "stream") {
      error = ReadBool(v, key, out.stream);
    } else if (key == "stream_options") {
      error = ReadStreamOptions(v, out);
    } else if (key == "max_tokens") {
      error = ReadInt(v, key, max_tokens);
    } else if (key == "max_completion_tokens") {
      error = ReadInt(v, key, max_completion_tokens);
    } else if (key == "min_tokens") {
      error = ReadInt(v, key, min_tokens);
    } else if (key == "ignore_eos") {
      error = ReadBool(v, key, out.ignore_eos);
    } else if (key == "seed") {
      error = ReadInt(v, key, seed);
    } else if (key == "n") {
      error = ReadInt(v, key, n);
    } else if (key == "kv_transfer_params") {
      error = ReadKvTransferParams(v, out);
    } else if (key == "rid") {
      error = ReadString(v, key, rid);
    } else if (key == "request_id") {
      error = ReadString(v, key, request_id);
    } else if (key == "bootstrap_host") {
      error = ReadString(v, key, bootstrap_host);
    } else if (key == "bootstrap_port") {
      error = ReadInt(v, key, bootstrap_port);
    } else if (key == "bootstrap_room") {
      if (!IsNull(v)) {
        uint64_t room = 0;
        if (v.get_uint64().get(room)) {
          error = Bad("`bootstrap_room` must be a non-negative integer");
        } else {
          bootstrap_room = room;
        }
      }
    }
    if (error) return error;
  }

  if (api == Api::kChat) {
    if (!has_messages) return Bad("`messages` is required");
    if (messages.empty()) return Bad("`messages` must not be empty");
    out.prompt = Tokenize(ApplyChatTemplate(messages, add_generation_prompt));
  } else if (!has_prompt) {
    return Bad("`prompt` is required");
  }
  if (out.prompt.empty()) return Bad("The prompt must not be empty.");
  if (out.has_stream_options && !out.stream) {
    return Bad("Stream options can only be defined when `stream=True`.");
  }
  if (n && *n != 1) return ParseError{501, "`n` other than 1 is not supported by the simulator"};
  out.max_tokens =
      (api == Api::kChat && max_completion_tokens) ? max_completion_tokens : max_tokens;
  if (api == Api::kCompletions && !out.max_tokens) out.max_tokens = 16;  // vLLM's default
  if (out.max_tokens && *out.max_tokens < 1)
    return Bad("max_tokens must be at least 1, got " + std::to_string(*out.max_tokens) + ".");
  out.min_tokens = min_tokens.value_or(0);
  if (out.min_tokens < 0) return Bad("min_tokens must be greater than or equal to 0");
  if (out.max_tokens && out.min_tokens > *out.max_tokens) {
    return Bad(StrCat("min_tokens must be less than or equal to max_tokens=", *out.max_tokens,
                      ", got ", out.min_tokens, "."));
  }
  out.seed = static_cast<uint64_t>(seed.value_or(0));
  out.rid = rid.value_or("");
  out.request_id = request_id.value_or("");
  if (bootstrap_host || bootstrap_port || bootstrap_room) {
    if (!bootstrap_host || !bootstrap_room) {
      return Bad("`bootstrap_host` and `bootstrap_room` must be given together");
    }
    out.bootstrap = SglangBootstrap{*bootstrap_host, bootstrap_port.value_or(0), *bootstrap_room};
  }
  return std::nullopt;
}

std::optional<ParseError> ParseTokenizeRequest(std::string& body, TokenizeRequest& out) {
  od::document doc;
  od::object object;
  if (auto error = Iterate(body, doc, object)) return error;
  std::optional<std::vector<TokenId>> prompt;
  std::optional<std::vector<ChatMessage>> messages;
  bool add_generation_prompt = true;
  for (auto field : object) {
    std::string_view key;
    od::value v;
    if (field.unescaped_key().get(key) || field.value().get(v)) {
      return Bad("request body is not valid JSON");
    }
    std::optional<ParseError> error;
    if (key == "model") {
      error = ReadString(v, key, out.model);
    } else if (key == "prompt") {
      error = ReadPrompt(v, prompt.emplace());
      if (error) error->status = 400;  // a batched prompt is invalid here, not unsupported
    } else if (key == "messages") {
      error = ReadMessages(v, messages.emplace());
    } else if (key == "add_generation_prompt") {
      error = ReadBool(v, key, add_generation_prompt);
    }
    if (error) return error;
  }
  if (prompt.has_value() == messages.has_value()) {
    return Bad("either `prompt` or `messages` is required");
  }
  if (prompt) {
    out.tokens = std::move(*prompt);
  } else {
    if (messages->empty()) return Bad("`messages` must not be empty");
    out.tokens = Tokenize(ApplyChatTemplate(*messages, add_generation_prompt));
  }
  return std::nullopt;
}

}  // namespace pdgate::sim
