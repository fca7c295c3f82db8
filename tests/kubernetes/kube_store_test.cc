#include "discovery/kube_store.h"

#include <catch2/catch.hpp>

namespace pdgate::discovery {
namespace {

KubeObject Pod(const std::string& name, const std::string& ns, const std::string& ip,
               const std::string& version = "1") {
  KubeObject object;
  object.name = name;
  object.namespace_ = ns;
  object.resource_version = version;
  object.json = R"({"apiVersion":"v1","kind":"Pod","metadata":{"name":")" + name +
                R"(","namespace":")" + ns +
                R"(","labels":{"app":"a"}},"status":{"phase":"Running","podIP":")" + ip +
                R"(","conditions":[{"type":"Ready","status":"True"}]}})";
  return object;
}

KubeObject Route(const std::string& name, const std::string& created, const std::string& server) {
  KubeObject object;
  object.name = name;
  object.namespace_ = "dev";
  object.creation_timestamp = created;
  object.json =
      R"({"apiVersion":"networking.serving.volcano.sh/v1alpha1","kind":"ModelRoute","metadata":{"name":")" +
      name +
      R"(","namespace":"dev"},"spec":{"modelName":"m","rules":[{"targetModels":[{"modelServerName":")" +
      server + R"("}]}]}})";
  return object;
}

}  // namespace

TEST_CASE("an invalid object is left out and reported once, the rest builds", "[kubernetes]") {
  KubeObjectStore store;
  store.Upsert(KubeResource::kPods, Pod("good", "dev", "10.0.0.1"));
  store.Upsert(KubeResource::kPods, Pod("bad", "dev", "not-an-ip"));
  config::LoadResult first = store.Build({}, {});
  REQUIRE(first.errors.empty());
  REQUIRE(first.config->pods.size() == 1);
  CHECK(first.config->pods[0].meta.name == "good");
  CHECK(store.invalid_objects() == 1);
  bool reported = false;
  for (const std::string& warning : first.warnings) {
    reported |= warning.find("not-an-ip") != std::string::npos;
  }
  CHECK(reported);
  config::LoadResult second = store.Build({}, {});
  CHECK(second.warnings.empty());  // not repeated while nothing changed
  // Fixed in a new version: it serves.
  store.Upsert(KubeResource::kPods, Pod("bad", "dev", "10.0.0.2", "2"));
  config::LoadResult third = store.Build({}, {});
  REQUIRE(third.config);
  CHECK(third.config->pods.size() == 2);
  CHECK(store.invalid_objects() == 0);
}

TEST_CASE("a list replaces what was held in its namespace only", "[kubernetes]") {
  KubeObjectStore store;
  store.Upsert(KubeResource::kPods, Pod("a", "one", "10.0.0.1"));
  store.Upsert(KubeResource::kPods, Pod("b", "one", "10.0.0.2"));
  store.Upsert(KubeResource::kPods, Pod("c", "two", "10.0.0.3"));
  std::vector<KubeObject> fresh;
  fresh.push_back(Pod("b", "one", "10.0.0.2"));
  store.Replace(KubeResource::kPods, "one", std::move(fresh));
  CHECK(store.size(KubeResource::kPods) == 2);  // "a" was deleted while not watched
  store.EraseNamespace(KubeResource::kPods, "two");
  CHECK(store.size(KubeResource::kPods) == 1);
  store.Replace(KubeResource::kPods, "", {});
  CHECK(store.size(KubeResource::kPods) == 0);
}

TEST_CASE("routes are defined oldest first, as Kthena orders them", "[kubernetes]") {
  KubeObjectStore store;
  store.Upsert(KubeResource::kModelRoutes, Route("a-newer", "2025-02-01T00:00:00Z", "s1"));
  store.Upsert(KubeResource::kModelRoutes, Route("z-older", "2025-01-01T00:00:00Z", "s2"));
  config::LoadResult result = store.Build({}, {});
  REQUIRE(result.config);
  REQUIRE(result.config->model_routes.size() == 2);
  CHECK(result.config->model_routes[0].meta.name == "z-older");
}

}  // namespace pdgate::discovery
