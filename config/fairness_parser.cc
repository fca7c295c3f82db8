// The `fairness` section of a RouterConfiguration spec, and Kthena's fairness environment
// variables (its router is configured that way; a deployment that sets them keeps its
// behaviour under pdgate).
#include <absl/strings/numbers.h>
#include <absl/time/time.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "config/fairness_settings.h"
#include "config/object_parsers.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

constexpr std::chrono::seconds kMinWindow(1);
constexpr std::chrono::hours kMaxWindow(24);
constexpr size_t kMaxPriorityClasses = 16;

bool ValidWeight(double weight) { return std::isfinite(weight) && weight >= 0; }

void ReadWeight(MapReader& reader, std::string_view key, double& out) {
  if (auto value = reader.Double(key)) {
    if (!ValidWeight(*value)) {
      reader.scope().Error(reader.PathOf(key), "must be a finite number ≥ 0");
    } else {
      out = *value;
    }
  }
}

std::optional<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  absl::Duration duration;
  if (!absl::ParseDuration(std::string(text), &duration) ||
      duration == absl::InfiniteDuration() || duration <= absl::ZeroDuration()) {
    return std::nullopt;
  }
  return absl::ToChronoNanoseconds(duration);
}

// Go's strconv.ParseBool.
std::optional<bool> ParseGoBool(std::string_view text) {
  for (std::string_view yes : {"1", "t", "T", "TRUE", "true", "True"}) {
    if (text == yes) return true;
  }
  for (std::string_view no : {"0", "f", "F", "FALSE", "false", "False"}) {
    if (text == no) return false;
  }
  return std::nullopt;
}

}  // namespace

void ParseFairnessSettings(MapReader& spec, FairnessSettings& f) {
  MapReader reader(spec.Child("fairness"), spec.PathOf("fairness"), spec.scope());
  ObjectScope& scope = spec.scope();
  if (auto enabled = reader.Bool("enabled")) f.enabled = *enabled;
  if (auto n = reader.Int("maxConcurrent", 0, 1000000)) f.max_concurrent = int(*n);
  if (auto n = reader.Int("maxConcurrentPerEndpoint", 1, 100000)) {
    f.max_concurrent_per_endpoint = int(*n);
  }
  if (auto share = reader.Double("maxShare")) {
    if (!(*share > 0 && *share <= 1)) {
      scope.Error(reader.PathOf("maxShare"), "must be greater than 0 and at most 1");
    } else {
      f.max_share = *share;
    }
  }
  if (auto n = reader.Int("maxQueued", 1, 10000000)) f.max_queued = int(*n);
  if (auto timeout = reader.Duration("queueTimeout")) {
    if (timeout->count() <= 0) {
      scope.Error(reader.PathOf("queueTimeout"), "must be greater than 0");
    } else {
      f.queue_timeout = std::chrono::duration_cast<milliseconds>(*timeout);
    }
  }
  if (auto window = reader.Duration("window")) {
    if (*window < kMinWindow || *window > kMaxWindow) {
      scope.Error(reader.PathOf("window"), "must be between 1s and 24h");
    } else {
      f.window = std::chrono::duration_cast<milliseconds>(*window);
    }
  }
  ReadWeight(reader, "inputTokenWeight", f.input_token_weight);
  ReadWeight(reader, "outputTokenWeight", f.output_token_weight);
  ReadWeight(reader, "tokenWeight", f.token_weight);
  ReadWeight(reader, "requestWeight", f.request_weight);
  if (auto classes = reader.StringList("priorityClasses")) {
    std::set<std::string> seen;
    bool valid = !classes->empty() && classes->size() <= kMaxPriorityClasses;
    for (const std::string& name : *classes) valid = valid && !name.empty() && seen.insert(name).second;
    if (!valid) {
      scope.Error(reader.PathOf("priorityClasses"),
                  StrCat("must be 1 to ", kMaxPriorityClasses,
                         " distinct non-empty names, highest priority first"));
    } else {
      f.priority_classes = std::move(*classes);
    }
  }
  if (auto name = reader.String("defaultPriorityClass")) f.default_priority_class = *name;
  if (std::find(f.priority_classes.begin(), f.priority_classes.end(),
                f.default_priority_class) == f.priority_classes.end()) {
    scope.Error(reader.PathOf("defaultPriorityClass"),
                StrCat("\"", f.default_priority_class, "\" is not one of priorityClasses"));
  }
  ReadLimitKey(reader, f.key);
  reader.Finish();
}

void ApplyKthenaFairnessEnv(const std::function<const char*(const char*)>& getenv,
                            FairnessSettings& f, ObjectScope& scope) {
  auto value = [&](const char* name) -> std::optional<std::string> {
    const char* text = getenv(name);
    if (text == nullptr) return std::nullopt;
    return std::string(text);
  };
  auto invalid = [&](const char* name, const std::string& text, std::string_view expected) {
    scope.Error(name, StrCat("\"", text, "\" is not ", expected));
  };
  if (auto text = value("ENABLE_FAIRNESS_SCHEDULING")) {
    if (auto enabled = ParseGoBool(*text)) {
      f.enabled = *enabled;
    } else {
      invalid("ENABLE_FAIRNESS_SCHEDULING", *text, "true or false");
    }
  }
  if (auto text = value("FAIRNESS_WINDOW_SIZE")) {
    auto window = ParseGoDuration(*text);
    if (!window || *window < kMinWindow || *window > kMaxWindow) {
      invalid("FAIRNESS_WINDOW_SIZE", *text, "a duration between 1s and 24h");
    } else {
      f.window = std::chrono::duration_cast<milliseconds>(*window);
    }
  }
  if (auto text = value("FAIRNESS_QUEUE_TIMEOUT")) {
    auto timeout = ParseGoDuration(*text);
    if (!timeout || *timeout < std::chrono::milliseconds(1)) {
      invalid("FAIRNESS_QUEUE_TIMEOUT", *text, "a positive duration such as 60s");
    } else {
      f.queue_timeout = std::chrono::duration_cast<milliseconds>(*timeout);
    }
  }
  const std::pair<const char*, double*> weights[] = {
      {"FAIRNESS_INPUT_TOKEN_WEIGHT", &f.input_token_weight},
      {"FAIRNESS_OUTPUT_TOKEN_WEIGHT", &f.output_token_weight},
      {"FAIRNESS_PRIORITY_TOKEN_WEIGHT", &f.token_weight},
      {"FAIRNESS_PRIORITY_REQUEST_NUM_WEIGHT", &f.request_weight}};
  for (const auto& [name, out] : weights) {
    auto text = value(name);
    if (!text) continue;
    double weight = 0;
    if (!absl::SimpleAtod(*text, &weight) || !ValidWeight(weight)) {
      invalid(name, *text, "a finite number ≥ 0");
    } else {
      *out = weight;
    }
  }
  if (auto text = value("FAIRNESS_MAX_CONCURRENT")) {
    int n = 0;
    if (!absl::SimpleAtoi(*text, &n) || n < 0) {
      invalid("FAIRNESS_MAX_CONCURRENT", *text, "an integer ≥ 0");
    } else {
      f.max_concurrent = n;  // 0: Kthena paces by FAIRNESS_MAX_QPS; pdgate by endpoints
    }
  }
  if (value("FAIRNESS_MAX_QPS")) {
    scope.Warning("FAIRNESS_MAX_QPS",
                  "ignored: pdgate admits queued requests by concurrency (FAIRNESS_MAX_CONCURRENT, "
                  "or fairness.maxConcurrentPerEndpoint × serving endpoints), not at a fixed rate");
  }
  for (const char* name : {"FAIRNESS_PRIORITY_REFRESH_RETRIES", "FAIRNESS_REBUILD_THRESHOLD"}) {
    if (value(name)) {
      scope.Warning(name, "not needed: pdgate scores every waiting principal at each dequeue");
    }
  }
  if (auto text = value("ENABLE_SESSION_BOOST"); text && ParseGoBool(*text).value_or(false)) {
    scope.Warning("ENABLE_SESSION_BOOST",
                  "ignored: pdgate has no session boost queue (x-session-id keeps a conversation "
                  "on one decode endpoint instead)");
  }
}

}  // namespace pdgate::config
