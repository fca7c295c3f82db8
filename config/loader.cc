#include "config/loader.h"

#include <fstream>
#include <map>
#include <sstream>

#include "config/fairness_settings.h"
#include "config/object_parsers.h"
#include "config/shared_state_settings.h"
#include "base/strings.h"

namespace pdgate::config {
namespace {

constexpr std::string_view kKthenaGroup = "networking.serving.volcano.sh/v1alpha1";
constexpr std::string_view kPdgateGroup = "pdgate.io/v1alpha1";
constexpr size_t kMaxListDepth = 2;

// Where each object was defined, for messages about objects that clash.
struct Origin {
  std::string prefix;    // "file: document N (Kind ns/name)"
  std::string location;  // "file: document N"
};

// yaml-cpp 0.7 never returns from a document with a flow entry (`,`) outside any flow collection
// (a stray `,` line, or `[a], b`): its parser loops, allocating nodes until memory runs out. Its
// own scanner, which does return, finds such a token first. (Found by fuzzing.)
bool HasStrayFlowEntry(const std::string& text) {
  std::istringstream in(text);
  std::ostringstream tokens;
  YAML::Parser(in).PrintTokens(tokens);
  std::istringstream lines(tokens.str());
  int depth = 0;
  // Tokens without a value print as "NAME: " on a line of their own.
  for (std::string line; std::getline(lines, line);) {
    if (line == "FLOW_SEQ_START: " || line == "FLOW_MAP_START: ") ++depth;
    if (line == "FLOW_SEQ_END: " || line == "FLOW_MAP_END: ") --depth;
    if (line == "FLOW_ENTRY: " && depth <= 0) return true;
  }
  return false;
}

}  // namespace

struct ConfigLoader::State {
  Diagnostics diagnostics;
  Config config;
  std::map<std::string, Origin> seen;  // "Kind ns/name" → first definition
  std::vector<Origin> route_origins;   // parallel to config.model_routes
  std::optional<std::string> settings_origin;

  void AddDocument(const YAML::Node& node, ObjectScope& scope, size_t depth);
  bool Remember(std::string_view kind, const ObjectMeta& meta, ObjectScope& scope);
  void AddSettings(MapReader& doc, ObjectScope& scope, bool kthena_config_map);
  void CheckReferences();
};

bool ConfigLoader::State::Remember(std::string_view kind, const ObjectMeta& meta,
                                   ObjectScope& scope) {
  std::string key = StrCat(kind, " ", meta.Key());
  auto [it, inserted] = seen.emplace(key, Origin{scope.prefix(), scope.location()});
  if (!inserted) {
    scope.Error("metadata.name",
                StrCat("duplicate ", kind, "; first defined in ", it->second.location));
  }
  return inserted;
}

void ConfigLoader::State::AddSettings(MapReader& doc, ObjectScope& scope, bool kthena_config_map) {
  if (settings_origin) {
    scope.Error("", StrCat("router settings are already defined in ", *settings_origin));
    return;
  }
  settings_origin = scope.location();
  config.settings.source = scope.location();
  if (!kthena_config_map) {
    ParseRouterConfiguration(doc, config.settings);
    return;
  }
  // Kthena mounts the ConfigMap key `routerConfiguration` as its configuration file.
  MapReader data(doc.Child("data"), "data", scope);
  std::optional<std::string> text = data.String("routerConfiguration");
  data.Ignore({"binaryData"});
  YAML::Node embedded;
  try {
    embedded = YAML::Load(text.value_or(""));
  } catch (const YAML::Exception& e) {
    scope.Error("data.routerConfiguration", StrCat("invalid YAML: ", e.what()));
    return;
  }
  MapReader root(embedded, "data.routerConfiguration", scope);
  ParseKthenaRouterConfiguration(root, config.settings);
  root.Finish();
}

void ConfigLoader::State::AddDocument(const YAML::Node& node, ObjectScope& scope, size_t depth) {
  MapReader doc(node, "", scope);
  if (!doc.present()) return;
  std::optional<std::string> api_version = doc.String("apiVersion", Presence::kRequired);
  std::optional<std::string> kind = doc.String("kind", Presence::kRequired);
  if (!api_version || !kind) return;

  auto expect_group = [&](std::string_view group) {
    if (*api_version == group) return true;
    scope.Error("apiVersion",
                StrCat(*kind, " must have apiVersion ", group, ", not ", *api_version));
    return false;
  };

  if (*kind == "ModelServer") {
    if (!expect_group(kKthenaGroup)) return;
    if (auto server = ParseModelServer(doc); server && Remember(*kind, server->meta, scope)) {
      config.model_servers.push_back(std::move(*server));
    }
  } else if (*kind == "ModelRoute") {
    if (!expect_group(kKthenaGroup)) return;
    if (auto route = ParseModelRoute(doc); route && Remember(*kind, route->meta, scope)) {
      config.model_routes.push_back(std::move(*route));
      route_origins.push_back({scope.prefix(), scope.location()});
    }
  } else if (*kind == "Pod") {
    if (!expect_group("v1")) return;
    if (auto pod = ParsePod(doc); pod && Remember(*kind, pod->meta, scope)) {
      config.pods.push_back(std::move(*pod));
    }
  } else if (*kind == "List" || *kind == "PodList") {
    if (!expect_group("v1")) return;
    YAML::Node items = doc.Child("items");
    doc.Ignore({"metadata"});
    if (depth >= kMaxListDepth) {
      scope.Error("items", "lists nested too deeply");
      return;
    }
    if (!IsSequenceOrAbsent(items, "items", scope)) return;
    for (size_t i = 0; items.IsDefined() && i < items.size(); ++i) {
      ObjectScope item_scope(diagnostics, StrCat(scope.location(), " items[", i, "]"));
      YAML::Node item = items[i];
      // `kubectl get pods -o yaml` omits apiVersion/kind on PodList items.
      if (*kind == "PodList" && item.IsMap() && !item["kind"]) {
        item = YAML::Clone(item);
        item["apiVersion"] = "v1";
        item["kind"] = "Pod";
      }
      AddDocument(item, item_scope, depth + 1);
    }
    return;  // the List itself has nothing else to check
  } else if (*kind == "RouterConfiguration") {
    if (!expect_group(kPdgateGroup)) return;
    AddSettings(doc, scope, /*kthena_config_map=*/false);
  } else if (*kind == "ConfigMap" && *api_version == "v1" && node["data"] && node["data"].IsMap() &&
             node["data"]["routerConfiguration"]) {
    doc.Ignore({"metadata"});
    AddSettings(doc, scope, /*kthena_config_map=*/true);
  } else {
    scope.Warning("kind", StrCat(*api_version, " ", *kind, " is not used by pdgate; skipped"));
    return;
  }
  doc.Finish();
}

void ConfigLoader::State::CheckReferences() {
  for (size_t r = 0; r < config.model_routes.size(); ++r) {
    const ModelRoute& route = config.model_routes[r];
    ObjectScope scope(diagnostics, route_origins[r].location);
    scope.SetObject("ModelRoute", route.meta.Key());
    for (size_t i = 0; i < route.rules.size(); ++i) {
      for (size_t t = 0; t < route.rules[i].targets.size(); ++t) {
        const std::string& server = route.rules[i].targets[t].model_server_name;
        if (config.FindModelServer(route.meta.namespace_, server) == nullptr) {
          // Not an error: with live discovery the server may arrive later. The target is skipped.
          scope.Warning(StrCat("spec.rules[", i, "].targetModels[", t, "].modelServerName"),
                        StrCat("no ModelServer ", route.meta.namespace_, "/", server,
                               "; this target is unusable until it exists"));
        }
      }
    }
  }
}

ConfigLoader::ConfigLoader() : state_(std::make_unique<State>()) {}
ConfigLoader::~ConfigLoader() = default;

void ConfigLoader::AddFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    state_->diagnostics.AddError(StrCat(path, ": cannot read file"));
    return;
  }
  std::ostringstream text;
  text << in.rdbuf();
  AddYaml(path, text.str());
}

void ConfigLoader::AddYaml(std::string_view source_name, std::string_view text) {
  std::vector<YAML::Node> documents;
  try {
    const std::string copy(text);
    if (HasStrayFlowEntry(copy)) {
      state_->diagnostics.AddError(
          StrCat(source_name, ": invalid YAML: a `,` outside any [...] or {...}"));
      return;
    }
    documents = YAML::LoadAll(copy);
  } catch (const YAML::ParserException& e) {
    state_->diagnostics.AddError(StrCat(source_name, ":", e.mark.line + 1, ":", e.mark.column + 1,
                                        ": invalid YAML: ", e.msg));
    return;
  } catch (const YAML::Exception& e) {
    state_->diagnostics.AddError(StrCat(source_name, ": invalid YAML: ", e.what()));
    return;
  }
  for (size_t i = 0; i < documents.size(); ++i) {
    if (documents[i].IsNull()) continue;  // an empty document between two `---`
    ObjectScope scope(state_->diagnostics, StrCat(source_name, ": document ", i + 1));
    // The parsers check each node before they read it; this catches a check they missed, so an
    // object from a file or the API server is an error, never an exception out of a reload.
    try {
      state_->AddDocument(documents[i], scope, 0);
    } catch (const YAML::Exception& e) {
      scope.Error("", StrCat("unreadable: ", e.what()));
    }
  }
}

LoadResult ConfigLoader::Finish(const SettingsOverrides& overrides) {
  state_->CheckReferences();
  RouterSettings& settings = state_->config.settings;
  if (overrides.port) settings.listen.port = *overrides.port;
  if (overrides.admin_port) settings.listen.admin_port = *overrides.admin_port;
  if (overrides.threads) settings.threads = *overrides.threads;
  if (overrides.getenv) {
    ObjectScope environment(state_->diagnostics, "environment");
    ApplyKthenaFairnessEnv(overrides.getenv, settings.fairness, environment);
    ApplyKthenaRedisEnv(overrides.getenv, settings.shared_state, environment);
  }

  LoadResult result;
  result.errors = state_->diagnostics.errors();
  result.warnings = state_->diagnostics.warnings();
  if (result.errors.empty()) {
    result.config = std::make_shared<const Config>(std::move(state_->config));
  }
  state_ = std::make_unique<State>();
  return result;
}

LoadResult LoadConfigFiles(const std::vector<std::string>& paths,
                           const SettingsOverrides& overrides) {
  ConfigLoader loader;
  for (const std::string& path : paths) loader.AddFile(path);
  return loader.Finish(overrides);
}

}  // namespace pdgate::config
