// Chaos, bounded and local: pdgate under steady load while its engines are killed (SIGKILL, as a
// crashed pod) and started again in a loop, one at a time so a healthy pair always exists, and
// the Redis of its global rate limit is killed and restarted. What must hold throughout:
// - no request fails unless an engine died under it (a request that starts with a dead engine
//   in the configuration must be routed to, or retried on, the healthy pair);
// - readiness answers 200 all along (engines dying is not pdgate being unready);
// - no file descriptor or memory growth between the start and the end of the run.
// A second case does the same to the Kubernetes API server: watches dropped, history compacted
// (410 Gone), the server restarted, while a pod's readiness flips.
// PDGATE_CHAOS_SECONDS sets the duration (15 s by default; docs/RELIABILITY.md uses 60).
#include <atomic>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/kubernetes/kube_harness.h"
#include "tests/router/limits/redis_server.h"
#include "tests/router/pd_cluster.h"
#include "tests/support/net.h"

using namespace pdgate::testing;
using pdgate::limits::testing::RedisServer;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

std::chrono::seconds ChaosDuration() {
  const char* text = std::getenv("PDGATE_CHAOS_SECONDS");
  const int seconds = text != nullptr ? std::atoi(text) : 15;
  return std::chrono::seconds(seconds > 0 ? seconds : 15);
}

// Resident set in KiB, from /proc/<pid>/status.
long RssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (status >> key) {
    if (key == "VmRSS:") {
      long kib = 0;
      status >> kib;
      return kib;
    }
  }
  return -1;
}

// /readyz polled as a kubelet does, until stopped; counts the probes and the failed ones.
class ReadinessProber {
 public:
  explicit ReadinessProber(uint16_t admin_port)
      : thread_([this, admin_port] {
          while (!stop_) {
            auto response = HttpRequest("127.0.0.1", admin_port, "GET", "/readyz");
            ++probes;
            if (!response.ok() || response->status != 200) ++unready;
            std::this_thread::sleep_for(std::chrono::milliseconds(50));  // probe period
          }
        }) {}
  ~ReadinessProber() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::atomic<int> probes{0}, unready{0};

 private:
  std::atomic<bool> stop_{false};
  std::thread thread_;  // last: starts once the counters exist
};

// What pdgate holds: open file descriptors and resident memory.
struct Usage {
  size_t fds = 0;
  long rss_kib = 0;
};
Usage UsageOf(pid_t pid) { return {OpenFds(pid), RssKib(pid)}; }

struct Outcome {
  Clock::time_point start;
  Clock::time_point end;
  int status = 0;
  bool complete = false;  // a stream reached [DONE]; a whole response had its usage
  std::string answer;     // of a failure: the status line's code and the body's start
};

std::string Chat(bool stream, int n) {
  return R"({"model":"deepseek-ai/DeepSeekV2","messages":[{"role":"user","content":"chaos )" +
         std::to_string(n) + R"("}],"max_tokens":8,"ignore_eos":true,"stream":)" +
         (stream ? "true" : "false") + "}";
}

}  // namespace

TEST_CASE(
    "chaos: engines and Redis killed and restarted under load; no request fails that a healthy "
    "pair could serve, readiness holds, no fd or memory growth") {
  const std::chrono::seconds duration = ChaosDuration();
  auto redis = RedisServer::Start();
  REQUIRE(redis.ok());
  ClusterSpec spec;
  spec.pods = {
      {"g0", "prefill", {}}, {"g0", "decode", {}}, {"g1", "prefill", {}}, {"g1", "decode", {}}};
  spec.route_extra =
      "  rateLimit:\n    outputTokensPerUnit: 1000000000\n    unit: hour\n"
      "    global: {redis: {address: \"" +
      redis->address() + "\"}}\n";
  spec.extra_settings = "  rateLimitRedis: {onError: allow, timeout: 200ms}\n";
  Cluster cluster(spec);
  const pid_t router = cluster.router().pid();

  std::atomic<bool> stop{false};
  std::mutex mu;
  std::vector<Outcome> outcomes;
  std::vector<Clock::time_point> kills;  // when an engine died (requests then in flight may fail)
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int n = 0; !stop; ++n) {
        const bool stream = (n + c) % 2 == 0;
        Outcome outcome;
        outcome.start = Clock::now();
        auto response = cluster.Post("/v1/chat/completions", Chat(stream, n), {}, 10s);
        outcome.end = Clock::now();
        if (response.ok()) {
          outcome.status = response->status;
          outcome.complete = stream ? response->body.find("data: [DONE]") != std::string::npos
                                    : response->body.find("\"usage\"") != std::string::npos;
          if (outcome.status != 200 || !outcome.complete) {
            outcome.answer = std::to_string(outcome.status) + " " + response->body.substr(0, 300);
          }
        } else {
          outcome.answer = std::string(response.status().message());
        }
        std::lock_guard lock(mu);
        outcomes.push_back(outcome);
      }
    });
  }
  ReadinessProber readiness(cluster.admin_port());

  // Warm: pools and buffers at their working size before the baseline is taken.
  std::this_thread::sleep_for(1s);  // load period, not a readiness wait
  const Usage before = UsageOf(router);

  const auto deadline = Clock::now() + duration;
  int kills_done = 0, redis_restarts = 0;
  for (size_t round = 0; Clock::now() < deadline; ++round) {
    const size_t pod = round % 4;  // every role of every group in turn, one at a time
    {
      std::lock_guard lock(mu);
      kills.push_back(Clock::now());
    }
    cluster.KillPod(pod);
    ++kills_done;
    std::this_thread::sleep_for(300ms);  // chaos pacing: the pod stays down a while
    cluster.StartPod(pod);               // waits until it accepts connections
    if (round % 4 == 3) {
      redis->Kill();
      std::this_thread::sleep_for(300ms);  // chaos pacing
      REQUIRE(redis->Restart().ok());
      ++redis_restarts;
    }
    std::this_thread::sleep_for(300ms);  // chaos pacing
  }

  // Every engine up again; a last stretch of load on a whole cluster, then the end state.
  std::this_thread::sleep_for(1s);  // load period
  stop = true;
  for (std::thread& client : clients) client.join();
  readiness.Stop();
  const Usage after = UsageOf(router);

  size_t failed = 0, excused = 0;
  std::vector<std::string> examples;  // of unexcused failures, for the report
  for (const Outcome& outcome : outcomes) {
    if (outcome.status == 200 && outcome.complete) continue;
    bool engine_died_under_it = false;
    for (Clock::time_point kill : kills) {
      engine_died_under_it |= kill >= outcome.start && kill <= outcome.end;
    }
    if (engine_died_under_it) {
      ++excused;
      continue;
    }
    ++failed;
    if (examples.size() < 5) {
      const auto at =
          std::chrono::duration_cast<std::chrono::milliseconds>(outcome.start - kills.front());
      examples.push_back(std::to_string(at.count()) +
                         " ms after the first kill: " + outcome.answer.substr(0, 200));
    }
  }
  for (const std::string& example : examples) std::printf("chaos: failed: %s\n", example.c_str());
  INFO("requests " << outcomes.size() << ", failed " << failed << ", excused (engine killed in "
                   << "flight) " << excused << ", engine kills " << kills_done
                   << ", Redis restarts " << redis_restarts << ", readiness probes "
                   << readiness.probes << " (not ready " << readiness.unready << "), fds "
                   << before.fds << " -> " << after.fds << ", RSS KiB " << before.rss_kib << " -> "
                   << after.rss_kib);
  std::printf(
      "chaos: %zu requests, %zu failed, %zu excused, %d kills, %d Redis restarts, %d "
      "probes (%d not ready), fds %zu -> %zu, RSS %ld -> %ld KiB\n",
      outcomes.size(), failed, excused, kills_done, redis_restarts, readiness.probes.load(),
      readiness.unready.load(), before.fds, after.fds, before.rss_kib, after.rss_kib);
  CHECK(outcomes.size() > 100);
  CHECK(kills_done >= 4);
  CHECK(redis_restarts >= 1);
  CHECK(failed == 0);
  CHECK(readiness.probes > 10);
  CHECK(readiness.unready == 0);
  // Pools may hold a few more idle connections at the end; a leak per request would be hundreds.
  CHECK(after.fds <= before.fds + 16);
  CHECK(after.rss_kib <= before.rss_kib + 32 * 1024);
}

TEST_CASE(
    "chaos: the Kubernetes API server drops watches, compacts its history and restarts under "
    "load while a pod flips readiness; no request fails, readiness holds, the last state wins") {
  const std::chrono::seconds duration = ChaosDuration();
  KubeHarness h(2);
  h.StartApiServer();
  REQUIRE(h.Apply(h.ServerJson("srv", "a")) == 200);
  REQUIRE(h.Apply(h.RouteJson("route", kKubeModel, "srv")) == 200);
  REQUIRE(h.Apply(h.PodJson("pod-0", 0, "a", true)) == 200);
  REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", true)) == 200);
  h.StartRouter();
  REQUIRE(WaitForHttpStatus("127.0.0.1", h.admin_port(), "/readyz", 200, 10s));
  const pid_t router = h.router().pid();

  std::atomic<bool> stop{false};
  std::atomic<int> requests{0}, failed{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&] {
      while (!stop) {
        ++requests;
        if (h.Complete() != 200) ++failed;
      }
    });
  }
  ReadinessProber readiness(h.admin_port());
  std::this_thread::sleep_for(1s);  // load period, not a readiness wait
  const Usage before = UsageOf(router);

  const std::string objects = h.kubeconfig() + ".chaos-objects.json";
  const auto deadline = Clock::now() + duration;
  bool pod1_ready = true;
  int rounds = 0, restarts = 0;
  for (; Clock::now() < deadline; ++rounds) {
    pod1_ready = !pod1_ready;
    switch (rounds % 4) {
      case 0:  // a broken connection: every watch ends without its last chunk
        REQUIRE(h.Control("drop-watches", "{}") == 200);
        REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", pod1_ready)) == 200);
        break;
      case 1:  // a change the watch never delivers, then 410 as an ERROR event: only a relist
        REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", pod1_ready), /*silent=*/true) == 200);
        REQUIRE(h.Control("expire", "{}") == 200);
        break;
      case 2:  // the same with 410 as the next watch's HTTP status
        REQUIRE(h.Apply(h.PodJson("pod-1", 1, "a", pod1_ready), /*silent=*/true) == 200);
        REQUIRE(h.Control("expire", R"({"mode":"status"})") == 200);
        break;
      case 3: {  // the API server restarts, its history compacted past pdgate's version
        h.StopApiServer();
        std::this_thread::sleep_for(300ms);  // chaos pacing: the API is down a while
        std::ofstream(objects) << "[" << h.ServerJson("srv", "a") << ","
                               << h.RouteJson("route", kKubeModel, "srv") << ","
                               << h.PodJson("pod-0", 0, "a", true) << ","
                               << h.PodJson("pod-1", 1, "a", pod1_ready) << "]";
        h.StartApiServer(objects, 5000 + 1000 * rounds);
        ++restarts;
        break;
      }
    }
    std::this_thread::sleep_for(500ms);  // chaos pacing
  }
  // The last state must be what pdgate routes by. After an API restart the watch reconnects
  // with a capped backoff, hence the longer bound.
  const std::string pod1 = R"({"pod":"dev/pod-1","address")";
  const auto settle_start = Clock::now();
  const bool settled = Eventually(
      [&] {
        auto response = HttpRequest("127.0.0.1", h.admin_port(), "GET", "/debug/endpoints");
        return response.ok() && (response->body.find(pod1) != std::string::npos) == pod1_ready;
      },
      15s);
  const auto settle_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - settle_start).count();
  if (!settled) {
    // What pdgate listed and watched last, for the report.
    const std::string log = h.router().Stdout();
    std::printf("chaos (Kubernetes): pod-1 should be %s; pdgate's log (end):\n%s\n",
                pod1_ready ? "serving" : "out",
                log.substr(log.size() > 4000 ? log.size() - 4000 : 0).c_str());
  }
  stop = true;
  for (std::thread& client : clients) client.join();
  readiness.Stop();
  const Usage after = UsageOf(router);
  std::remove(objects.c_str());

  std::printf(
      "chaos (Kubernetes): %d requests, %d failed, %d rounds, %d API restarts, %d probes "
      "(%d not ready), settled in %lld ms, fds %zu -> %zu, RSS %ld -> %ld KiB\n",
      requests.load(), failed.load(), rounds, restarts, readiness.probes.load(),
      readiness.unready.load(), static_cast<long long>(settle_ms), before.fds, after.fds,
      before.rss_kib, after.rss_kib);
  CHECK(settled);
  CHECK(requests > 100);
  CHECK(rounds >= 4);
  CHECK(failed == 0);
  CHECK(readiness.probes > 10);
  CHECK(readiness.unready == 0);
  CHECK(after.fds <= before.fds + 16);
  CHECK(after.rss_kib <= before.rss_kib + 32 * 1024);
}
