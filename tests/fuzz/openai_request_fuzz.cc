// The client's request body: parsed, then spliced into every leg body every connector builds.
// Properties: nothing crashes; every leg body pdgate builds from an accepted request is itself
// accepted, routes as the same model, carries the client's prompt bytes unchanged and never a
// client-supplied engine-control field. The same bytes read as a prefill's answer give
// kv_transfer_params that read back identical.
#include <cstdint>
#include <string>
#include <string_view>

#include "router/openai/json_text.h"
#include "router/openai/leg_body.h"
#include "router/openai/openai_request.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using pdgate::config::KvConnector;
using namespace pdgate::router;

// Parses `body` the way the session does: from a buffer with simdjson's padding behind it.
absl::StatusOr<OpenAIRequest> Parse(std::string& storage, std::string_view body) {
  storage.assign(body);
  const size_t size = storage.size();
  storage.resize(size + kJsonPadding);
  return ParseOpenAIRequest(std::string_view(storage.data(), size), storage.size());
}

bool HasKey(const OpenAIRequest& request, Key key) {
  for (const Member& m : request.members) {
    if (m.key == key) return true;
  }
  return false;
}

void CheckLeg(const std::string& leg_body, const OpenAIRequest& client, std::string_view model,
              bool prefill, KvConnector connector) {
  std::string storage;
  absl::StatusOr<OpenAIRequest> leg = Parse(storage, leg_body);
  FUZZ_CHECK(leg.ok());
  FUZZ_CHECK(leg->model == model);
  FUZZ_CHECK(leg->prompt_json == client.prompt_json);
  FUZZ_CHECK(leg->user == client.user);
  if (prefill) {
    FUZZ_CHECK(!leg->stream);
    FUZZ_CHECK(!leg->has_stream_options);
    FUZZ_CHECK(leg->max_tokens.has_value() && *leg->max_tokens == 1);
  } else {
    FUZZ_CHECK(leg->stream == client.stream);
  }
  // Engine-control fields are the router's: present only where pdgate puts its own.
  const bool kv_params =
      prefill && (connector == KvConnector::kNixl || connector == KvConnector::kMooncake);
  FUZZ_CHECK(HasKey(*leg, Key::kKvTransferParams) == kv_params);
  const bool bootstrap = connector == KvConnector::kSglang;
  FUZZ_CHECK(HasKey(*leg, Key::kBootstrapHost) == bootstrap);
  FUZZ_CHECK(HasKey(*leg, Key::kRid) == bootstrap);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  {
    // The same bytes as a prefill's answer: kv_transfer_params come out as one JSON object that
    // reads back identical (the decode leg gets exactly these bytes).
    std::string answer(reinterpret_cast<const char*>(data), size);
    const std::string params = ExtractKvTransferParams(answer);
    if (!params.empty()) {
      std::string again = R"({"kv_transfer_params":)" + params + "}";
      FUZZ_CHECK(params.front() == '{' && ExtractKvTransferParams(again) == params);
    }
  }
  std::string storage;
  absl::StatusOr<OpenAIRequest> request =
      Parse(storage, std::string_view(reinterpret_cast<const char*>(data), size));
  if (!request.ok()) return 0;
  std::string_view body(storage.data(), size);
  const bool inject_usage = request->stream && !request->include_usage;
  for (bool rewrite : {false, true}) {
    LegContext leg{body, &*request, rewrite ? JsonString("served-\"model\"") : std::string()};
    const std::string model = rewrite ? "served-\"model\"" : request->model;
    for (KvConnector connector :
         {KvConnector::kHttp, KvConnector::kLmcache, KvConnector::kNixl, KvConnector::kMooncake}) {
      CheckLeg(BuildPrefillBody(leg, connector), *request, model, true, connector);
    }
    const SglangBootstrap bootstrap{"10.0.0.7", 8998, 42, "pdgate-rid-1"};
    CheckLeg(BuildPrefillBody(leg, KvConnector::kSglang, &bootstrap), *request, model, true,
             KvConnector::kSglang);
    CheckLeg(BuildDecodeBody(leg, "", inject_usage, &bootstrap), *request, model, false,
             KvConnector::kSglang);
    CheckLeg(BuildDecodeBody(leg, "", inject_usage), *request, model, false, KvConnector::kHttp);
    std::string storage2;
    absl::StatusOr<OpenAIRequest> decode =
        Parse(storage2, BuildDecodeBody(leg, R"({"remote_block_ids":[1]})", inject_usage));
    FUZZ_CHECK(decode.ok() && HasKey(*decode, Key::kKvTransferParams));
    if (inject_usage) FUZZ_CHECK(decode->include_usage);
  }
  return 0;
}
