#pragma once
// pdgate's own settings (kind RouterConfiguration, apiVersion pdgate.io/v1alpha1), holding
// Kthena's routerConfiguration shape (`scheduler`, `auth`) beside listeners, limits and timeouts.
// Every field has a default, so a configuration of only ModelServers, ModelRoutes and Pods runs.
// docs/CONFIGURATION.md lists each field.
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/rate_limit_unit.h"

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
  // pdgate: an engine's KV cache in tokens when its /metrics do not say (vLLM's cache_config_info,
  // SGLang's max_total_num_tokens); 0: unknown. Bounds what the index believes an endpoint holds.
  int64_t engine_cache_tokens = 0;
};

// Kthena's `kvcache-aware` scorer: the engines' own KV-cache events (vLLM/SGLang ZMQ publisher)
// say which endpoint holds which block of a request's token ids. Kthena's args, plus where the
// events come from (Kthena reads them through a runtime sidecar and Redis; pdgate subscribes).
struct KvCacheAwareArgs {
  int block_size_to_hash = 16;  // tokens per block: the engines' --block-size / --page-size
  int max_blocks_to_match = 128;
  // /tokenize is asked on this port of an endpoint; 0 (the default): the endpoint's own
  // workloadPort, where vLLM and SGLang serve it beside the OpenAI API.
  uint16_t vllm_tokenizer_port = 0;
  uint16_t sglang_tokenizer_port = 0;
  uint16_t events_port = 5557;      // each endpoint's ZMQ PUB (vLLM's default)
  uint16_t replay_port = 0;         // its ROUTER replay socket; 0: none offered
  std::string topic;                // subscription prefix; empty: every topic
  int max_indexed_blocks = 1000000;  // (endpoint, block) entries; oldest go first beyond
  milliseconds tokenize_timeout = milliseconds(500);
  int tokenize_cache_entries = 4096;  // per io thread
  // Data-parallel ranks behind each endpoint: rank r publishes on events_port + r (and
  // replay_port + r), as vLLM and SGLang offset them. With one pod per rank (external DP load
  // balancing) each pod serves only its own rank's port; the others are never answered.
  int data_parallel_size = 1;
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

// Kthena's scheduler section; the arguments default as in its Helm chart, the plugin set not.
struct SchedulerSettings {
  int max_waiting_requests = 10;         // least-request
  double ttft_tpot_weight_factor = 0.5;  // least-latency
  PrefixCacheArgs prefix_cache;
  KvCacheAwareArgs kv_cache_aware;
  std::vector<std::string> filters = {"least-request"};
  // pdgate's default set: Kthena's chart adds least-latency, whose per-interval means lag a
  // scrape behind and herd a whole interval's traffic onto whichever endpoint looked fastest
  // (measured in docs/BENCHMARKS.md, scheduler quality). Kthena's set applies as configured.
  std::vector<ScorePluginSetting> scores = {
      {"least-request", 1}, {"prefix-cache", 1}, {"gpu-usage", 1}};
  // pdgate's additions (RouterConfiguration only).
  PairSelection pair_selection = PairSelection::kJoint;
  DeciderSettings decider;

  bool kv_cache_aware_enabled() const {
    for (const ScorePluginSetting& score : scores) {
      if (score.name == "kvcache-aware" && score.weight > 0) return true;
    }
    return false;
  }
};

struct AccessLogSettings {
  bool enabled = true;
  bool json = true;               // false: one text line per request
  std::string output = "stdout";  // "stdout", "stderr" or a file path (appended to)
};

// One API key's record. The key itself is never kept: only its SHA-256 digest.
struct ApiKeySetting {
  std::string id;  // a non-secret name, for logs and summaries
  std::array<uint8_t, 32> sha256{};
  std::string user;
  std::string tenant;
  std::vector<std::string> models;  // empty: every model
  std::string priority_class;
};

// Client authentication on the API port (every /v1/* path). Kthena's routerConfiguration `auth`
// (issuer, audiences, jwksUri) turns JWT on; pdgate adds API keys and the fields below.
struct AuthSettings {
  std::string issuer;                  // `iss` must equal it when set
  std::vector<std::string> audiences;  // `aud` must name one of them when set
  std::string jwks_uri;                // http:// or https://; empty: no JWT
  std::string jwks_ca_file;            // PEM bundle for https; empty: the system's CAs
  milliseconds jwks_refresh_interval = std::chrono::hours(1);
  // An unknown `kid` refetches the JWKS (a key rotation), at most this often.
  milliseconds jwks_min_refresh_interval = seconds(30);
  seconds leeway = seconds(60);  // for exp, nbf, iat
  size_t max_token_bytes = 8192;
  std::string tenant_claim = "tenant";
  std::string models_claim;    // empty: tokens do not restrict models
  std::string priority_claim;  // empty: no priority class from tokens
  // The client's credential goes on to the engines (they have their own --api-key otherwise).
  bool forward_credential = false;
  std::vector<ApiKeySetting> api_keys;  // inline and from api_keys_file, merged
  std::string api_keys_file;            // read at every load and reload

  bool jwt_enabled() const { return !jwks_uri.empty(); }
  bool api_keys_enabled() const { return !api_keys.empty() || !api_keys_file.empty(); }
  bool enabled() const { return jwt_enabled() || api_keys_enabled(); }
};

// A rate limit per principal (pdgate's, beyond Kthena's per-route rateLimit): one bucket set per
// distinct user, tenant or API key among the requests it matches.
enum class LimitKey { kUser, kTenant, kApiKey };

struct PrincipalLimitSetting {
  std::string name;                 // unique; the metric label
  std::vector<std::string> models;  // requested model names; empty: every model
  // Which principals it applies to (exact values; empty: any).
  std::string match_user;
  std::string match_tenant;
  std::string match_api_key;  // the key's id
  LimitKey key = LimitKey::kUser;
  std::optional<uint32_t> requests_per_unit;
  std::optional<uint32_t> input_tokens_per_unit;
  std::optional<uint32_t> output_tokens_per_unit;
  RateLimitUnit unit = RateLimitUnit::kMinute;
  // `global.redis.address`: the buckets live in Redis, shared by every replica.
  std::optional<std::string> redis_address;
  std::string redis_host;  // redis_address split, checked at load
  uint16_t redis_port = 6379;
};

// What a Redis-backed (global) limit does while Redis does not answer.
enum class RedisFailurePolicy {
  kLocal,  // fall back to this replica's own bucket (the default: still a limit)
  kAllow,  // let requests through unlimited
  kDeny,   // refuse them (503), as Kthena does when its script fails
};

struct RedisLimitSettings {
  RedisFailurePolicy on_error = RedisFailurePolicy::kLocal;
  milliseconds timeout = milliseconds(50);  // per command; a limit check waits no longer
  std::string password;                     // AUTH; from passwordEnv at load
};

// The fairness queue (Kthena's fairness scheduling, plus priority classes): per model, requests
// beyond a concurrency limit wait; the next to run is the highest priority class's principal
// with the least recent weighted token usage. Off by default.
struct FairnessSettings {
  bool enabled = false;
  // Requests of one model running at once through this replica. 0: maxConcurrentPerEndpoint ×
  // the model's serving decode (or aggregated) endpoints, as the live snapshot has them.
  int max_concurrent = 0;
  int max_concurrent_per_endpoint = 16;
  // The largest part of those slots one principal may hold (at least one); below 1, slots stay
  // free for others. 1: Kthena's behaviour.
  double max_share = 1.0;
  milliseconds queue_timeout = seconds(60);  // then 503
  int max_queued = 10000;                    // per model; beyond: 429 at once
  milliseconds window = std::chrono::minutes(5);
  double input_token_weight = 1.0;
  double output_token_weight = 2.0;
  double token_weight = 1.0;    // Kthena's FAIRNESS_PRIORITY_TOKEN_WEIGHT
  double request_weight = 0.0;  // Kthena's FAIRNESS_PRIORITY_REQUEST_NUM_WEIGHT
  // Highest first. A principal's class (API key's priorityClass, the priorityClaim) picks one;
  // none or an unknown name: default_priority_class.
  std::vector<std::string> priority_classes = {"critical", "high", "default", "low"};
  std::string default_priority_class = "default";
  LimitKey key = LimitKey::kUser;  // whose usage is compared: user, tenant or API key
};

// Load shared by the replicas behind one Service (`sharedState`): each publishes its in-flight
// legs per endpoint to Redis and reads the others', so least-request sees the whole fleet's
// load. Off unless a Redis address is set (or Kthena's REDIS_HOST).
struct SharedStateSettings {
  std::string redis_host;  // empty: off
  uint16_t redis_port = 6379;
  std::string password;     // AUTH; from passwordEnv (or REDIS_PASSWORD) at load
  milliseconds sync_interval = milliseconds(50);
  std::string replica_id;  // empty: POD_NAME, else host name and pid
  bool enabled() const { return !redis_host.empty(); }
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
  AuthSettings auth;
  std::vector<PrincipalLimitSetting> rate_limits;
  // Without authentication, the user of per-principal limits is this header's value (e.g.
  // x-user-id); empty: such requests are one principal, "anonymous".
  std::string rate_limit_user_header;
  RedisLimitSettings rate_limit_redis;
  FairnessSettings fairness;
  SharedStateSettings shared_state;
  std::string source;  // where these settings came from, for summaries; empty: defaults
};

}  // namespace pdgate::config
