// The route table: request model → route → rule → weighted target → ModelServer → upstream model.
#include "config/route_table.h"

#include <catch2/catch.hpp>
#include <map>
#include <random>

#include "tests/config/config_test_util.h"

using namespace pdgate;
using namespace pdgate::testing;

namespace {

std::string ServerDoc(const std::string& name, const std::string& model_line) {
  return "apiVersion: networking.serving.volcano.sh/v1alpha1\nkind: ModelServer\nmetadata: "
         "{name: " +
         name + ", namespace: dev}\nspec:\n  inferenceEngine: vLLM\n" + model_line +
         "  workloadSelector: {matchLabels: {app: " + name +
         "}}\n  workloadPort: {port: 8000}\n---\n";
}

std::string RouteDoc(const std::string& name, const std::string& spec) {
  return "apiVersion: networking.serving.volcano.sh/v1alpha1\nkind: ModelRoute\nmetadata: {name: " +
         name + ", namespace: dev}\nspec:\n" + spec + "---\n";
}

struct Table {
  std::shared_ptr<const config::Config> config;
  std::unique_ptr<config::RouteTable> table;
};

Table Build(const std::string& yaml) {
  config::LoadResult result = LoadYaml(yaml);
  INFO(StrJoin(result.errors, "\n"));
  REQUIRE(result.errors.empty());
  return {result.config, std::make_unique<config::RouteTable>(result.config)};
}

struct Request {
  Request(std::string m, std::string p = "/v1/chat/completions",
          std::map<std::string, std::string> h = {}, uint64_t r = 0)
      : model(std::move(m)), path(std::move(p)), headers(std::move(h)), random(r) {}
  std::string model;
  std::string path;
  std::map<std::string, std::string> headers;  // lower-case names
  uint64_t random;
};

absl::StatusOr<config::RouteDecision> Resolve(const config::RouteTable& table, const Request& r) {
  auto header = [&](std::string_view name) -> std::string_view {
    auto it = r.headers.find(std::string(name));
    return it == r.headers.end() ? std::string_view() : std::string_view(it->second);
  };
  return table.Resolve({r.model, r.path, header, r.random});
}

std::string ServerOf(const config::RouteTable& table, const Request& r) {
  auto decision = Resolve(table, r);
  if (!decision.ok()) return "error: " + std::string(decision.status().message());
  return decision->server->meta.name;
}

const std::string kServers = ServerDoc("a", "  model: upstream-a\n") + ServerDoc("b", "") +
                             ServerDoc("c", "  model: upstream-c\n");

}  // namespace

TEST_CASE("header matches: exact, prefix and regex, absent headers are the empty string") {
  Table t = Build(kServers + RouteDoc("r", R"(  modelName: m
  rules:
    - name: premium
      modelMatch:
        headers:
          User-Type: {exact: premium}
      targetModels: [{modelServerName: a}]
    - name: team
      modelMatch:
        headers:
          x-team: {prefix: ml-}
      targetModels: [{modelServerName: b}]
    - name: canary
      modelMatch:
        headers:
          x-canary: {regex: "^(yes|true)$"}
      targetModels: [{modelServerName: c}]
    - name: no-tenant
      modelMatch:
        headers:
          x-tenant: {exact: ""}
      targetModels: [{modelServerName: b}]
)"));
  CHECK(ServerOf(*t.table, {"m", "/v1/completions", {{"user-type", "premium"}}}) == "a");
  CHECK(ServerOf(*t.table,
                 {"m", "/v1/completions", {{"user-type", "premium2"}, {"x-tenant", "t"}}}) ==
        "error: No route for model `m` matches this request.");
  CHECK(ServerOf(*t.table, {"m", "/", {{"x-team", "ml-infra"}, {"x-tenant", "t"}}}) == "b");
  CHECK(ServerOf(*t.table,
                 {"m", "/", {{"x-team", "ml"}, {"x-canary", "true"}, {"x-tenant", "t"}}}) == "c");
  CHECK(ServerOf(*t.table, {"m", "/", {{"x-canary", "yes!"}, {"x-tenant", "t"}}}) ==
        "error: No route for model `m` matches this request.");
  // No x-tenant header at all: matches exact "" (Kthena treats an absent header as empty).
  CHECK(ServerOf(*t.table, {"m", "/", {}}) == "b");
}

TEST_CASE("uri and body.model matches, and rule order") {
  Table t = Build(kServers + RouteDoc("r", R"(  modelName: m
  rules:
    - name: completions-only
      modelMatch:
        uri: {exact: /v1/completions}
      targetModels: [{modelServerName: a}]
    - name: v1-prefix
      modelMatch:
        uri: {prefix: /v1/}
        body: {model: m}
      targetModels: [{modelServerName: b}]
    - name: catch-all
      targetModels: [{modelServerName: c}]
)"));
  CHECK(ServerOf(*t.table, {"m", "/v1/completions"}) == "a");
  CHECK(ServerOf(*t.table, {"m", "/v1/chat/completions"}) == "b");
  CHECK(ServerOf(*t.table, {"m", "/v2/chat"}) == "c");
  auto decision = Resolve(*t.table, {"m", "/v1/chat/completions"});
  REQUIRE(decision.ok());
  CHECK(decision->rule_index == 1);
}

TEST_CASE("regex matching is unanchored, as Go's regexp.MatchString in Kthena") {
  Table t = Build(kServers + RouteDoc("r", R"(  modelName: m
  rules:
    - modelMatch:
        uri: {regex: "chat"}
      targetModels: [{modelServerName: a}]
    - targetModels: [{modelServerName: b}]
)"));
  CHECK(ServerOf(*t.table, {"m", "/v1/chat/completions"}) == "a");
  CHECK(ServerOf(*t.table, {"m", "/v1/completions"}) == "b");
}

TEST_CASE("weighted targets: 100k picks within 1% of 70/30") {
  Table t = Build(kServers + RouteDoc("r", R"(  modelName: m
  rules:
    - targetModels:
        - modelServerName: a
          weight: 70
        - modelServerName: b
          weight: 30
)"));
  std::mt19937_64 rng(42);
  std::map<std::string, int> picks;
  constexpr int kPicks = 100000;
  for (int i = 0; i < kPicks; ++i) {
    Request r{"m"};
    r.random = rng();
    ++picks[ServerOf(*t.table, r)];
  }
  CHECK(picks.size() == 2);
  CHECK(std::abs(picks["a"] / double(kPicks) - 0.70) < 0.01);
  CHECK(std::abs(picks["b"] / double(kPicks) - 0.30) < 0.01);
}

TEST_CASE("PickWeighted walks the cumulative weights") {
  std::vector<uint32_t> weights = {1, 0, 3};
  CHECK(config::PickWeighted(weights, 4, 0) == 0);
  CHECK(config::PickWeighted(weights, 4, 1) == 2);
  CHECK(config::PickWeighted(weights, 4, 3) == 2);
  CHECK(config::PickWeighted(weights, 4, 4) == 0);
}

TEST_CASE("the model is rewritten to spec.model, kept when the server has none, kept for LoRA") {
  Table t = Build(kServers + RouteDoc("base", R"(  modelName: public-name
  loraAdapters: [sql-lora]
  rules:
    - targetModels: [{modelServerName: a}]
)") + RouteDoc("plain", R"(  modelName: as-is
  rules:
    - targetModels: [{modelServerName: b}]
)"));
  auto base = Resolve(*t.table, {"public-name"});
  REQUIRE(base.ok());
  CHECK(base->upstream_model == "upstream-a");
  CHECK_FALSE(base->lora);
  // The decision may view the request's model: keep the request alive while it is used.
  Request lora_request("sql-lora");
  auto lora = Resolve(*t.table, lora_request);
  REQUIRE(lora.ok());
  CHECK(lora->upstream_model == "sql-lora");
  CHECK(lora->lora);
  Request plain_request("as-is");
  auto plain = Resolve(*t.table, plain_request);
  REQUIRE(plain.ok());
  CHECK(plain->upstream_model == "as-is");
}

TEST_CASE("a LoRA-only route (no modelName) serves its adapters") {
  Table t = Build(kServers + RouteDoc("lora", R"(  loraAdapters: [math, code]
  rules:
    - targetModels: [{modelServerName: c}]
)"));
  Request request("code");
  auto decision = Resolve(*t.table, request);
  REQUIRE(decision.ok());
  CHECK(decision->server->meta.name == "c");
  CHECK(decision->upstream_model == "code");
  CHECK(t.table->model_names() == std::vector<std::string>{"math", "code"});
}

TEST_CASE("several routes for one name: the first defined wins, the next serves what it cannot") {
  Table t = Build(kServers + RouteDoc("first", R"(  modelName: m
  rules:
    - modelMatch:
        headers:
          x-tier: {exact: gold}
      targetModels: [{modelServerName: a}]
)") + RouteDoc("second", R"(  modelName: m
  rules:
    - targetModels: [{modelServerName: b}]
)"));
  CHECK(ServerOf(*t.table, {"m", "/", {{"x-tier", "gold"}}}) == "a");
  CHECK(ServerOf(*t.table, {"m", "/", {{"x-tier", "silver"}}}) == "b");
  CHECK(t.table->model_names() == std::vector<std::string>{"m"});
}

TEST_CASE("base-model routes are looked up before LoRA routes") {
  Table t = Build(kServers + RouteDoc("lora", R"(  loraAdapters: [m]
  rules:
    - targetModels: [{modelServerName: a}]
)") + RouteDoc("base", R"(  modelName: m
  rules:
    - targetModels: [{modelServerName: b}]
)"));
  auto decision = Resolve(*t.table, {"m"});
  REQUIRE(decision.ok());
  CHECK(decision->server->meta.name == "b");
  CHECK_FALSE(decision->lora);
}

TEST_CASE("a target without a ModelServer gets no traffic, a rule with none falls through") {
  config::LoadResult result = LoadYaml(kServers + RouteDoc("r", R"(  modelName: m
  rules:
    - targetModels:
        - modelServerName: missing
          weight: 50
        - modelServerName: a
          weight: 50
)") + RouteDoc("only-missing", R"(  modelName: n
  rules:
    - targetModels: [{modelServerName: missing}]
)"));
  REQUIRE(result.errors.empty());
  config::RouteTable table(result.config);
  for (uint64_t random = 0; random < 100; ++random) {
    CHECK(ServerOf(table, {"m", "/", {}, random}) == "a");
  }
  CHECK(ServerOf(table, {"n"}) == "error: No route for model `n` matches this request.");
}

TEST_CASE("an unknown model is NotFound with the OpenAI wording") {
  Table t = Build(kServers);
  auto decision = Resolve(*t.table, {"gpt-5"});
  CHECK(absl::IsNotFound(decision.status()));
  CHECK(decision.status().message() == "The model `gpt-5` does not exist.");
}
