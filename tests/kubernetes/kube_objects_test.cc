#include "discovery/kube_objects.h"

#include <catch2/catch.hpp>

#include "config/loader.h"

namespace pdgate::discovery {
namespace {

constexpr const char* kPodEvent =
    R"({"type":"MODIFIED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":"p","namespace":"dev",)"
    R"("resourceVersion":"42","creationTimestamp":"2025-01-01T00:00:00Z","labels":{"app":"x"},)"
    R"("annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{huge}","note":"a \"quoted\" value"},)"
    R"("managedFields":[{"manager":"kubelet"}],"uid":"u"},"spec":{"containers":[]},)"
    R"("status":{"phase":"Running","podIP":"10.0.0.7","hostIP":"10.1.1.1",)"
    R"("conditions":[{"type":"Ready","status":"True","lastProbeTime":null}]}}})";

}  // namespace

TEST_CASE("a pod watch event is read and trimmed to what the loader needs", "[kubernetes]") {
  auto event = ParseWatchEvent(KubeResource::kPods, kPodEvent);
  REQUIRE(event.ok());
  CHECK(event->type == WatchEventType::kModified);
  CHECK(event->object.Key() == "dev/p");
  CHECK(event->object.resource_version == "42");
  CHECK(event->object.creation_timestamp == "2025-01-01T00:00:00Z");
  const std::string& json = event->object.json;
  CHECK(json.find("managedFields") == std::string::npos);
  CHECK(json.find("hostIP") == std::string::npos);
  CHECK(json.find("spec") == std::string::npos);
  CHECK(json.find("last-applied") == std::string::npos);
  // The trimmed JSON is a document the configuration loader accepts without warnings.
  config::ConfigLoader loader;
  loader.AddYaml("api-server", json);
  config::LoadResult result = loader.Finish();
  REQUIRE(result.errors.empty());
  CHECK(result.warnings.empty());
  REQUIRE(result.config->pods.size() == 1);
  const config::Pod& pod = result.config->pods[0];
  CHECK(pod.Serving());
  CHECK(pod.pod_ip == "10.0.0.7");
  CHECK(pod.meta.annotations.at("note") == "a \"quoted\" value");
}

TEST_CASE("watch events: bookmarks, deletions, errors and garbage", "[kubernetes]") {
  auto bookmark = ParseWatchEvent(
      KubeResource::kModelServers,
      R"({"type":"BOOKMARK","object":{"kind":"ModelServer","metadata":{"resourceVersion":"77"}}})");
  REQUIRE(bookmark.ok());
  CHECK(bookmark->type == WatchEventType::kBookmark);
  CHECK(bookmark->object.resource_version == "77");

  auto gone = ParseWatchEvent(
      KubeResource::kPods,
      R"({"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","status":"Failure",)"
      R"j("reason":"Expired","message":"too old resource version: 1 (5)","code":410}})j");
  REQUIRE(gone.ok());
  CHECK(gone->type == WatchEventType::kError);
  CHECK(gone->error_code == 410);
  CHECK(gone->error_message == "too old resource version: 1 (5)");

  auto deleted = ParseWatchEvent(
      KubeResource::kModelRoutes,
      R"({"type":"DELETED","object":{"kind":"ModelRoute","metadata":{"name":"r","namespace":"ns","resourceVersion":"9"},"spec":{"modelName":"m"}}})");
  REQUIRE(deleted.ok());
  CHECK(deleted->type == WatchEventType::kDeleted);
  CHECK(deleted->object.Key() == "ns/r");
  CHECK(deleted->object.json.find(R"("spec":{"modelName":"m"})") != std::string::npos);
  CHECK(deleted->object.json.find(R"("kind":"ModelRoute")") != std::string::npos);

  CHECK_FALSE(ParseWatchEvent(KubeResource::kPods, "{not json").ok());
  CHECK_FALSE(ParseWatchEvent(KubeResource::kPods, R"({"type":"ADDED"})").ok());
  CHECK_FALSE(ParseWatchEvent(KubeResource::kPods, R"({"type":"SOMETHING","object":{}})").ok());
  CHECK_FALSE(
      ParseWatchEvent(KubeResource::kPods, R"({"type":"ADDED","object":{"metadata":{}}})").ok());
}

TEST_CASE("a list gives its resourceVersion, continue token and items with their kind",
          "[kubernetes]") {
  auto list = ParseKubeList(
      KubeResource::kPods,
      R"({"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100","continue":"abc"},)"
      R"("items":[{"metadata":{"name":"a","namespace":"x"},"status":{"phase":"Pending"}},)"
      R"({"metadata":{"name":"b"}}]})");
  REQUIRE(list.ok());
  CHECK(list->resource_version == "100");
  CHECK(list->continue_token == "abc");
  REQUIRE(list->items.size() == 2);
  CHECK(list->items[0].json.find(R"("apiVersion":"v1","kind":"Pod")") != std::string::npos);
  CHECK(list->items[1].Key() == "default/b");

  auto empty = ParseKubeList(
      KubeResource::kModelServers,
      R"({"kind":"ModelServerList","metadata":{"resourceVersion":"3"},"items":null})");
  REQUIRE(empty.ok());
  CHECK(empty->items.empty());
  CHECK_FALSE(ParseKubeList(KubeResource::kPods, R"({"items":[]})").ok());
  CHECK(StatusCodeOf(R"({"kind":"Status","code":410})") == 410);
  CHECK(StatusCodeOf(R"({"kind":"PodList"})") == 0);
}

TEST_CASE("watch lines are split across reads", "[kubernetes]") {
  LineSplitter splitter;
  std::string line;
  splitter.Append("{\"a\":");
  CHECK_FALSE(splitter.Next(line));
  splitter.Append("1}\n\n{\"b\":2}\r\n{\"c\"");
  REQUIRE(splitter.Next(line));
  CHECK(line == "{\"a\":1}");
  REQUIRE(splitter.Next(line));
  CHECK(line == "{\"b\":2}");
  CHECK_FALSE(splitter.Next(line));
  CHECK(splitter.pending() == 4);
  splitter.Append(":3}\n");
  REQUIRE(splitter.Next(line));
  CHECK(line == "{\"c\":3}");
}

}  // namespace pdgate::discovery
