#include "discovery/kube_store.h"

#include <algorithm>

#include "base/strings.h"

namespace pdgate::discovery {
namespace {

// Messages about API objects start with this instead of a file name.
constexpr std::string_view kSourceName = "api-server";

bool InNamespace(const std::string& key, std::string_view namespace_) {
  return namespace_.empty() ||
         (key.size() > namespace_.size() && key.compare(0, namespace_.size(), namespace_) == 0 &&
          key[namespace_.size()] == '/');
}

}  // namespace

void KubeObjectStore::Replace(KubeResource resource, std::string_view namespace_,
                              std::vector<KubeObject> items) {
  Objects fresh;
  for (KubeObject& item : items) {
    std::string key = item.Key();
    Stored stored{std::move(item)};
    // An object unchanged since the last list keeps its verdict.
    Objects& old = objects(resource);
    if (auto it = old.find(key);
        it != old.end() && it->second.object.resource_version == stored.object.resource_version &&
        it->second.object.json == stored.object.json) {
      stored.validated = it->second.validated;
      stored.valid = it->second.valid;
    }
    fresh.emplace(std::move(key), std::move(stored));
  }
  Objects& all = objects(resource);
  std::erase_if(all, [&](const auto& entry) { return InNamespace(entry.first, namespace_); });
  all.merge(fresh);
}

void KubeObjectStore::Upsert(KubeResource resource, KubeObject object) {
  std::string key = object.Key();
  objects(resource).insert_or_assign(std::move(key), Stored{std::move(object)});
}

void KubeObjectStore::Erase(KubeResource resource, const KubeObject& object) {
  objects(resource).erase(object.Key());
}

void KubeObjectStore::EraseNamespace(KubeResource resource, std::string_view namespace_) {
  if (namespace_.empty()) return;
  std::erase_if(objects(resource),
                [&](const auto& entry) { return InNamespace(entry.first, namespace_); });
}

std::set<std::string> KubeObjectStore::ModelServerNamespaces() const {
  std::set<std::string> namespaces;
  for (const auto& [key, stored] : objects(KubeResource::kModelServers)) {
    namespaces.insert(stored.object.namespace_);
  }
  return namespaces;
}

size_t KubeObjectStore::size(KubeResource resource) const { return objects(resource).size(); }

size_t KubeObjectStore::invalid_objects() const {
  size_t invalid = 0;
  for (const Objects& all : objects_) {
    for (const auto& [key, stored] : all) invalid += stored.validated && !stored.valid ? 1 : 0;
  }
  return invalid;
}

config::LoadResult KubeObjectStore::Build(const std::vector<std::string>& files,
                                          const config::SettingsOverrides& overrides) {
  std::vector<std::string> rejections;
  std::vector<const Stored*> valid;
  for (Objects& all : objects_) {
    for (auto& [key, stored] : all) {
      if (!stored.validated) {
        config::ConfigLoader alone;
        alone.AddYaml(kSourceName, stored.object.json);
        config::LoadResult verdict = alone.Finish();
        stored.validated = true;
        stored.valid = verdict.errors.empty();
        for (const std::string& error : verdict.errors) {
          rejections.push_back(StrCat(error, " (object left out; the others serve)"));
        }
      }
      if (stored.valid) valid.push_back(&stored);
    }
  }
  // Kthena orders the routes of one model name oldest first; the loader lets the first defined
  // win, so define them in that order.
  std::stable_sort(valid.begin(), valid.end(), [](const Stored* a, const Stored* b) {
    return a->object.creation_timestamp < b->object.creation_timestamp;
  });

  config::ConfigLoader loader;
  for (const std::string& file : files) loader.AddFile(file);
  for (const Stored* stored : valid) loader.AddYaml(kSourceName, stored->object.json);
  config::LoadResult result = loader.Finish(overrides);

  std::set<std::string> now(result.warnings.begin(), result.warnings.end());
  std::erase_if(result.warnings, [&](const std::string& w) { return reported_.contains(w); });
  reported_ = std::move(now);
  result.warnings.insert(result.warnings.end(), rejections.begin(), rejections.end());
  return result;
}

}  // namespace pdgate::discovery
