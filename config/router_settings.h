#pragma once
// pdgate's own settings (kind RouterConfiguration, apiVersion pdgate.io/v1alpha1), holding
// Kthena's routerConfiguration shape (`scheduler`, `auth`) beside listeners, limits and timeouts.
// Every field has a default, so a configuration of only ModelServers, ModelRoutes and Pods runs.
// docs/CONFIGURATION.md lists each field.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace pdgate::config {

using std::chrono::milliseconds;
using std::chrono::seconds;

struct ListenSettings {
  std::string address = "0.0.0.0";
  uint16_t port = 8080;
  std::string admin_address = "0.0.0.0";
  uint16_t admin_port = 9090;
  // /debug/* on the admin port answers loopback peers only unless this is true.
  bool debug_endpoints_remote = false;
};

struct LimitSettings {
  size_t max_request_body_bytes = 16u << 20;    // 413 above, also for chunked bodies
  size_t max_request_header_bytes = 64u << 10;  // 431 above
  size_t max_upstream_header_bytes = 64u << 10;
  size_t max_prefill_response_bytes = 4u << 20;  // the prefill's JSON is read whole
  size_t max_connections = 20000;                // accepted client connections
  size_t upstream_pool_size = 256;  // idle keep-alive connections per endpoint, per thread
};

struct TimeoutSettings {
  milliseconds request_header = seconds(10);   // from accept/keep-alive to the end of headers
  milliseconds request_body = seconds(60);     // reading the body, re-armed per read
  milliseconds keep_alive_idle = seconds(60);  // idle client connection between requests
  milliseconds upstream_connect = seconds(3);
  // Applies to a leg when its ModelServer has no trafficPolicy.timeout.
  milliseconds upstream_default = seconds(60);
  // Idle pooled upstream connections are closed before the engine would close them
  // (uvicorn, vLLM's server, keeps idle connections 5 s).
  milliseconds upstream_pool_idle = seconds(4);
  milliseconds stream_idle = seconds(300);  // between two decode chunks, re-armed per read
  milliseconds drain = seconds(300);        // SIGTERM: wait this long for in-flight requests
  milliseconds drain_delay = seconds(5);    // SIGTERM: /readyz is 503 this long before closing
};

struct ScorePluginSetting {
  std::string name;
  int weight = 1;
};

struct PrefixCacheArgs {
  int block_size_to_hash = 64;  // bytes of rendered prompt per hashed block
  int max_blocks_to_match = 128;
  int max_hash_cache_size = 50000;  // entries per endpoint
  int top_k_matches = 5;
};

// How a PD pair is chosen. kJoint (pdgate's default) scores prefill and decode members with the
// signals that matter for each role and picks the best sum across groups; kDecodeFirst is
// Kthena's: the top decode pods by every plugin, then the best prefill of each one's group.
enum class PairSelection { kJoint, kDecodeFirst };

// Serving a PD request on a decode endpoint alone (it prefills locally). Off by default.
struct DeciderSettings {
  bool enabled = false;
  int max_uncached_prompt_tokens = 256;      // at or below: decode-only
  bool decode_only_without_prefill = false;  // when no prefill can serve but a decode can
  int bytes_per_token = 4;                   // the prompt-length estimate without a tokenizer
};

// Passive outlier detection (consecutive connect failures, timeouts and 5xx answers).
struct OutlierDetectionSettings {
  int consecutive_failures = 3;  // 0: off
  milliseconds base_ejection = seconds(5);
  milliseconds max_ejection = seconds(300);
  int max_ejection_percent = 50;  // of a server's endpoints of one role, at once
};

// Active health probes; off by default (engines' /health answers while the engine is wedged on
// some versions, and passive detection sees real traffic).
struct HealthProbeSettings {
  bool enabled = false;
  std::string path = "/health";
  milliseconds interval = seconds(5);
  milliseconds timeout = seconds(2);
  int healthy_threshold = 2;
  int unhealthy_threshold = 3;
};

// Scraping each endpoint's /metrics (and /v1/models for lora-affinity).
struct ScrapeSettings {
  bool enabled = true;
  milliseconds interval = seconds(1);
  milliseconds timeout = milliseconds(800);
  int concurrency = 32;
};

// Kthena's scheduler section with the defaults of its Helm chart.
struct SchedulerSettings {
  int max_waiting_requests = 10;         // least-request
  double ttft_tpot_weight_factor = 0.5;  // least-latency
  PrefixCacheArgs prefix_cache;
  std::vector<std::string> filters = {"least-request"};
  std::vector<ScorePluginSetting> scores = {
      {"least-request", 1}, {"gpu-usage", 1}, {"least-latency", 1}, {"prefix-cache", 1}};
  // pdgate's additions (RouterConfiguration only).
  PairSelection pair_selection = PairSelection::kJoint;
  DeciderSettings decider;
};

struct AccessLogSettings {
  bool enabled = true;
  bool json = true;               // false: one text line per request
  std::string output = "stdout";  // "stdout", "stderr" or a file path (appended to)
};

struct RouterSettings {
  ListenSettings listen;
  int threads = 0;  // 0: one io thread per core
  LimitSettings limits;
  TimeoutSettings timeouts;
  SchedulerSettings scheduler;
  OutlierDetectionSettings outlier_detection;
  HealthProbeSettings health_probe;
  ScrapeSettings scrape;
  AccessLogSettings access_log;
  std::string source;  // where these settings came from, for summaries; empty: defaults
};

}  // namespace pdgate::config
