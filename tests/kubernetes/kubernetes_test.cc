// Live discovery end to end: pdgate against the fake API server, engine simulators as pods.
// Every change must reach routing within 1 s, and no request may fail on the way.
#include <catch2/catch.hpp>
#include <fstream>
#include <thread>

#include "tests/kubernetes/kube_harness.h"
#include "tests/support/build_kind.h"

namespace pdgate::testing {
namespace {

using namespace std::chrono_literals;

// The issue's bound from an API change to routing (stretched under ASan: build_kind.h).
constexpr auto kReflected = 1000ms * kDeadlineScale;

std::string Endpoints(KubeHarness& h) {
  auto response = HttpRequest("127.0.0.1", h.admin_port(), "GET", "/debug/endpoints");
  return response.ok() ? response->body : "";
}
bool Serving(KubeHarness& h, const std::string& pod) {
  return Endpoints(h).find("{\"pod\":\"dev/" + pod + "\",\"address\"") != std::string::npos;
}

// Eventually(condition, kReflected); when it does not hold, the test's report shows the end of
// pdgate's log (what it listed, watched and built), as a flaky CI run leaves nothing else.
void ReportRouterLog(KubeHarness& h) {
  const std::string log = h.router().Stdout() + h.router().Stderr();
  // A sanitizer's report first (its head says what and where), then the log's end.
  const size_t report = log.find("ERROR: AddressSanitizer");
  if (report != std::string::npos) UNSCOPED_INFO("pdgate's sanitizer report:\n" << log.substr(report, 12000));
  UNSCOPED_INFO("pdgate's log (end):\n" << log.substr(log.size() > 6000 ? log.size() - 6000 : 0));
}
bool Reflected(KubeHarness& h, const std::function<bool()>& condition) {
  if (Eventually(condition, kReflected)) return true;
  ReportRouterLog(h);
  return false;
}

// Sends requests until `condition` holds (at most `timeout`); counts the ones that failed.
bool ServeUntil(KubeHarness& h, const std::function<bool()>& condition,
                std::chrono::milliseconds timeout, int& failures,
                const std::string& model = kKubeModel) {
  const bool held = Eventually(
      [&] {
        if (h.Complete(model) != 200) ++failures;
        return condition();
      },
      timeout);
  if (!held) ReportRouterLog(h);
  return held;
}

// `n` requests, all of which must succeed; true when sim `idle` served none of them.
bool NoneReach(KubeHarness& h, size_t idle, int n) {
  const double before = h.Served(idle);
  for (int i = 0; i < n; ++i) {
    if (h.Complete() != 200) return false;
  }
  return h.Served(idle) == before;
}

void StartServing(KubeHarness& h) {
  h.StartApiServer();
  REQUIRE(h.Apply(h.ServerJson("srv", "a")) == 200);
  REQUIRE(h.Apply(h.RouteJson("route", kKubeModel, "srv")) == 200);
  REQUIRE(h.Apply(h.PodJson("pod-0", 0, "a", true)) == 200);
  h.StartRouter();
  REQUIRE(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 10s));
  REQUIRE(h.Complete() == 200);
}

}  // namespace

TEST_CASE("pods appear, become ready, go unready, terminate and are deleted", "[kubernetes]") {
  KubeHarness h(2);
  h.StartApiServer();
  REQUIRE(h.Apply(h.ServerJson("srv", "a")) == 200);
  REQUIRE(h.Apply(h.RouteJson("route", kKubeModel, "srv")) == 200);
  h.StartRouter();
  REQUIRE(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 10s));
  CHECK(h.Complete() == 503);  // a ModelServer without pods

  // A pod that is not Ready yet is known but gets no traffic.
  REQUIRE(h.Apply(h.PodJson("pod-0", 0, "a", false)) == 200);
  REQUIRE(
      Reflected(h, [&] { return Endpoints(h).find("not Ready") != std::string::npos; }));
  CHECK(h.Complete() == 503);

  REQUIRE(h.Apply(h.PodJson("pod-0", 0, "a", true)) == 200);
  REQUIRE(Reflected(h, [&] { return h.Complete() == 200; }));

  int failures = 0;
  SECTION("a second pod becomes ready, then unready") {
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true)) == 200);
    REQUIRE(ServeUntil(
        h, [&] { return h.Served(1) > 0; }, kReflected, failures));
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", false)) == 200);
    REQUIRE(ServeUntil(
        h, [&] { return !Serving(h, "pod-1"); }, kReflected, failures));
    CHECK(NoneReach(h, 1, 20));
  }
  SECTION("a second pod is deleted") {
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true)) == 200);
    REQUIRE(ServeUntil(
        h, [&] { return h.Served(1) > 0; }, kReflected, failures));
    REQUIRE(h.Delete("Pod", "pod-1") == 200);
    REQUIRE(ServeUntil(
        h, [&] { return !Serving(h, "pod-1"); }, kReflected, failures));
    CHECK(NoneReach(h, 1, 20));
  }
  SECTION("a second pod starts terminating (deletionTimestamp)") {
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true)) == 200);
    REQUIRE(ServeUntil(
        h, [&] { return h.Served(1) > 0; }, kReflected, failures));
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true, /*terminating=*/true)) == 200);
    REQUIRE(ServeUntil(
        h, [&] { return !Serving(h, "pod-1"); }, kReflected, failures));
    CHECK(Endpoints(h).find("terminating") != std::string::npos);
    CHECK(NoneReach(h, 1, 20));
  }
  CHECK(failures == 0);
}

TEST_CASE("ModelServers and ModelRoutes are created, changed and deleted", "[kubernetes]") {
  KubeHarness h(2);
  h.StartApiServer();
  REQUIRE(h.Apply(h.PodJson("pod-a", 0, "a", true)) == 200);
  REQUIRE(h.Apply(h.PodJson("pod-b", 1, "b", true)) == 200);
  h.StartRouter();
  REQUIRE(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 10s));
  CHECK(h.Complete("m1") == 404);

  // Created: the pods' namespace gets watched once it has a ModelServer.
  REQUIRE(h.Apply(h.ServerJson("srv", "a")) == 200);
  REQUIRE(h.Apply(h.RouteJson("route", "m1", "srv")) == 200);
  REQUIRE(Reflected(h, [&] { return h.Complete("m1") == 200; }));
  CHECK(h.Served(0) > 0);

  int failures = 0;
  // The ModelServer selects other pods: traffic moves.
  REQUIRE(h.Apply(h.ServerJson("srv", "b")) == 200);
  REQUIRE(ServeUntil(
      h, [&] { return !Serving(h, "pod-a") && Serving(h, "pod-b"); }, kReflected, failures, "m1"));
  const double a_before = h.Served(0);
  for (int i = 0; i < 10; ++i) CHECK(h.Complete("m1") == 200);
  CHECK(h.Served(0) == a_before);
  CHECK(failures == 0);

  // The route's model name changes.
  REQUIRE(h.Apply(h.RouteJson("route", "m2", "srv")) == 200);
  REQUIRE(
      Reflected(h, [&] { return h.Complete("m2") == 200 && h.Complete("m1") == 404; }));

  // The ModelServer goes: its route has no target any more.
  REQUIRE(h.Delete("ModelServer", "srv") == 200);
  REQUIRE(Reflected(h, [&] { return h.Complete("m2") != 200; }));

  // The route goes.
  REQUIRE(h.Delete("ModelRoute", "route") == 200);
  REQUIRE(Reflected(h, [&] { return h.Complete("m2") == 404; }));

  // And both come back.
  REQUIRE(h.Apply(h.ServerJson("srv", "a")) == 200);
  REQUIRE(h.Apply(h.RouteJson("route", "m3", "srv")) == 200);
  REQUIRE(Reflected(h, [&] { return h.Complete("m3") == 200; }));
}

TEST_CASE("410 Gone forces a relist that loses no update", "[kubernetes]") {
  KubeHarness h(2);
  StartServing(h);
  const double lists = h.ApiState("/counts/list/pods");
  int failures = 0;

  SECTION("as an ERROR event in the watch stream") {
    // A change the watch never delivers: only a list can find it.
    REQUIRE(h.Apply(h.PodJson("pod-1", 0 + 1, "a", true), /*silent=*/true) == 200);
    REQUIRE(h.Control("expire", "{}") == 200);
    REQUIRE(ServeUntil(
        h, [&] { return h.Served(1) > 0; }, kReflected, failures));
  }
  SECTION("as the watch request's HTTP status") {
    REQUIRE(h.Delete("Pod", "pod-0", /*silent=*/true) == 200);
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true), /*silent=*/true) == 200);
    REQUIRE(h.Control("expire", R"({"mode":"status"})") == 200);
    REQUIRE(Reflected(h, [&] { return Serving(h, "pod-1") && !Serving(h, "pod-0"); }));
    CHECK(NoneReach(h, 0, 10));
  }
  CHECK(h.ApiState("/counts/list/pods") > lists);
  CHECK(failures == 0);
}

TEST_CASE("dropped watch connections are opened again from the last resourceVersion",
          "[kubernetes]") {
  KubeHarness h(2);
  StartServing(h);
  const double lists = h.ApiState("/counts/list/pods");
  const double watches = h.ApiState("/counts/watch/pods");
  for (int round = 0; round < 3; ++round) {
    REQUIRE(h.Control("drop-watches", "{}") == 200);
    REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", round % 2 == 0)) == 200);
    const bool ready = round % 2 == 0;
    int failures = 0;
    REQUIRE(ServeUntil(
        h, [&] { return Serving(h, "pod-1") == ready; }, kReflected, failures));
    CHECK(failures == 0);
  }
  CHECK(h.ApiState("/counts/watch/pods") > watches);
  CHECK(h.ApiState("/counts/list/pods") == lists);  // resumed, not relisted
}

TEST_CASE("without the API server, routing stays on the last good state", "[kubernetes]") {
  KubeHarness h(2);
  StartServing(h);
  h.StopApiServer();
  const auto until = std::chrono::steady_clock::now() + 1500ms;
  int requests = 0;
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE(h.Complete() == 200);
    ++requests;
  }
  CHECK(requests > 0);
  CHECK(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 1s));

  // A new API server (its history compacted past pdgate's resourceVersion) with one more pod.
  const std::string objects = h.kubeconfig() + ".objects.json";
  std::ofstream(objects) << "[" << h.ServerJson("srv", "a") << ","
                         << h.RouteJson("route", kKubeModel, "srv") << ","
                         << h.PodJson("pod-0", 0, "a", true) << ","
                         << h.PodJson("pod-1", 1, "a", true) << "]";
  h.StartApiServer(objects, 5000);
  int failures = 0;
  // Reconnecting waits out the backoff (capped exponential, up to a few seconds here).
  REQUIRE(ServeUntil(
      h, [&] { return h.Served(1) > 0; }, 15s, failures));
  CHECK(failures == 0);
  std::remove(objects.c_str());
}

TEST_CASE("/readyz is 503 until the initial lists are in", "[kubernetes]") {
  KubeHarness h(1);
  h.StartApiServer();
  REQUIRE(h.Apply(h.ServerJson("srv", "a")) == 200);
  REQUIRE(h.Apply(h.RouteJson("route", kKubeModel, "srv")) == 200);
  REQUIRE(h.Apply(h.PodJson("pod-0", 0, "a", true)) == 200);
  REQUIRE(h.Control("stall", R"({"on":true})") == 200);
  h.StartRouter();
  auto readyz = HttpRequest("127.0.0.1", h.admin_port(), "GET", "/readyz");
  REQUIRE(readyz.ok());
  CHECK(readyz->status == 503);
  CHECK(readyz->body.find("syncing") != std::string::npos);
  REQUIRE(h.Control("stall", R"({"on":false})") == 200);
  REQUIRE(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 5s));
  // Ready means routable: the pods were in the state that flipped readiness.
  CHECK(h.Complete() == 200);
}

TEST_CASE("an invalid object from the API is left out, the others serve", "[kubernetes]") {
  KubeHarness h(2);
  StartServing(h);
  // Invalid alone: an engine Kthena's CRD refuses, and a pod with a broken IP.
  std::string bad_server = h.ServerJson("bad", "a");
  bad_server.replace(bad_server.find("\"vLLM\""), 6, "\"Triton\"");
  REQUIRE(h.Apply(bad_server) == 200);
  std::string bad_pod = h.PodJson("pod-bad", 1, "a", true);
  const std::string ip_field = "\"podIP\":\"";
  bad_pod.replace(bad_pod.find(ip_field) + ip_field.size(), 0, "x");
  REQUIRE(h.Apply(bad_pod) == 200);
  // A good change after them still arrives.
  REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true)) == 200);
  int failures = 0;
  REQUIRE(ServeUntil(
      h, [&] { return h.Served(1) > 0; }, kReflected, failures));
  CHECK(failures == 0);
  CHECK(Eventually([&] { return h.router().Stdout().find("object left out") != std::string::npos; },
                   1s));
  CHECK(h.router().Stdout().find("Triton") != std::string::npos);
}

}  // namespace pdgate::testing

namespace pdgate::testing {
namespace {

// A self-signed certificate for 127.0.0.1 (openssl's command line), as an API server's CA.
bool MakeCertificate(const std::string& cert, const std::string& key) {
  auto made = RunCommand({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                          key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1", "-addext",
                          "subjectAltName=IP:127.0.0.1"});
  return made.ok() && made->exit_code == 0;
}

}  // namespace

TEST_CASE("HTTPS: the API server's certificate is verified against the kubeconfig's CA",
          "[kubernetes]") {
  KubeHarness h(1);
  const std::string base = h.kubeconfig();
  REQUIRE(MakeCertificate(base + ".crt", base + ".key"));
  REQUIRE(MakeCertificate(base + ".other.crt", base + ".other.key"));
  const std::string objects = base + ".objects.json";
  std::ofstream(objects) << "[" << h.ServerJson("srv", "a") << ","
                         << h.RouteJson("route", kKubeModel, "srv") << ","
                         << h.PodJson("pod-0", 0, "a", true) << "]";

  SECTION("trusted") {
    h.UseTls(base + ".crt", base + ".key", base + ".crt");
    h.StartApiServer(objects);
    h.StartRouter();
    REQUIRE(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 10s));
    CHECK(h.Complete() == 200);
  }
  SECTION("signed by another CA: never synced") {
    h.UseTls(base + ".crt", base + ".key", base + ".other.crt");
    h.StartApiServer(objects);
    h.StartRouter();
    REQUIRE(Eventually(
        [&] { return h.router().Stdout().find("certificate verify failed") != std::string::npos; },
        5s));
    auto readyz = HttpRequest("127.0.0.1", h.admin_port(), "GET", "/readyz");
    REQUIRE(readyz.ok());
    CHECK(readyz->status == 503);
  }
  for (const char* suffix : {".crt", ".key", ".other.crt", ".other.key", ".objects.json"}) {
    std::remove((base + suffix).c_str());
  }
}

}  // namespace pdgate::testing
