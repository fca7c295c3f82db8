#include <catch2/catch.hpp>

#include <map>
#include <string>

#include "config/loader.h"

namespace pdgate::config {
namespace {

LoadResult Load(std::string_view spec, std::map<std::string, std::string> env = {}) {
  ConfigLoader loader;
  loader.AddYaml("r.yaml",
                 "apiVersion: pdgate.io/v1alpha1\nkind: RouterConfiguration\nmetadata: {name: r}\n"
                 "spec:\n" + std::string(spec));
  SettingsOverrides overrides;
  overrides.getenv = [env = std::move(env)](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  return loader.Finish(overrides);
}

TEST_CASE("sharedState: off by default, on with a Redis address", "[config]") {
  LoadResult off = Load("  threads: 1\n");
  REQUIRE(off.config);
  CHECK_FALSE(off.config->settings.shared_state.enabled());

  LoadResult on = Load(
      "  sharedState: {redis: {address: \"redis.infra:6380\"}, syncInterval: 100ms, "
      "replicaId: r-1}\n");
  REQUIRE(on.errors.empty());
  const SharedStateSettings& s = on.config->settings.shared_state;
  CHECK(s.enabled());
  CHECK(s.redis_host == "redis.infra");
  CHECK(s.redis_port == 6380);
  CHECK(s.sync_interval == std::chrono::milliseconds(100));
  CHECK(s.replica_id == "r-1");

  LoadResult bad = Load("  sharedState: {redis: {address: \":x\"}, syncInterval: 1ms}\n");
  CHECK_FALSE(bad.config);
  REQUIRE(bad.errors.size() == 2);
  CHECK(bad.errors[0].find("sharedState.redis.address") != std::string::npos);
  CHECK(bad.errors[1].find("sharedState.syncInterval") != std::string::npos);
}

TEST_CASE("sharedState: Kthena's REDIS_HOST turns it on unless the file sets an address",
          "[config]") {
  LoadResult env = Load("  threads: 1\n", {{"REDIS_HOST", "redis"}, {"REDIS_PASSWORD", "pw"}});
  REQUIRE(env.config);
  CHECK(env.config->settings.shared_state.redis_host == "redis");
  CHECK(env.config->settings.shared_state.redis_port == 6379);
  CHECK(env.config->settings.shared_state.password == "pw");

  LoadResult file = Load("  sharedState: {redis: {address: \"mine:7000\"}}\n",
                         {{"REDIS_HOST", "redis"}, {"REDIS_PORT", "6390"}});
  REQUIRE(file.config);
  CHECK(file.config->settings.shared_state.redis_host == "mine");
  CHECK(file.config->settings.shared_state.redis_port == 7000);

  LoadResult bad = Load("", {{"REDIS_HOST", "redis"}, {"REDIS_PORT", "http"}});
  CHECK_FALSE(bad.config);
}

}  // namespace
}  // namespace pdgate::config
