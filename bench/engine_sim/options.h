#pragma once
// Command-line options of pdgate-engine-sim (parsed with CLI11; --help documents each flag and
// the real engine behaviour it stands for; README.md has the same mapping).
#include <optional>
#include <string>
#include <vector>

#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/faults.h"
#include "bench/engine_sim/kv_event_encoding.h"

namespace pdgate::sim {

enum class Role { kBoth, kPrefill, kDecode };
enum class EngineKind { kVllm, kSglang };

struct Options {
  std::string host = "127.0.0.1";
  int port = 8000;
  int threads = 1;
  Role role = Role::kBoth;
  EngineKind engine = EngineKind::kVllm;
  std::string model = "sim-model";
  std::vector<std::string> served_model_names;  // empty: model
  struct Lora {
    std::string name;
    std::string path;
  };
  std::vector<Lora> lora_modules;  // vLLM --lora-modules name=path
  int max_loras = 4;
  int max_model_len = 8192;
  EngineConfig engine_config;
  int bootstrap_port = 8998;
  bool legacy_metrics = false;
  bool flat_errors = false;
  std::string api_key;  // empty: no auth
  double max_request_body_mb = 64;
  double startup_delay_s = 0;
  FaultConfig faults;
  uint64_t seed = 0;
  bool quiet = false;
  bool log_requests = false;
  // vLLM --kv-events-config: the ZMQ publisher of KV-cache events (kv_events_publisher.h).
  struct KvEvents {
    int port = 0;         // PUB on --host; 0 = no events
    int replay_port = 0;  // ROUTER on --host; 0 = no replay
    std::string topic;
    KvEventEncoding encoding = KvEventEncoding::kArray;
    int buffer_steps = 10000;
    int data_parallel_rank = 0;
  } kv_events;

  const std::string& primary_model() const {
    return served_model_names.empty() ? model : served_model_names.front();
  }
};

// Parses argv. On --help or an error, prints and returns the exit code to use.
std::optional<int> ParseOptions(int argc, char** argv, Options& options);

}  // namespace pdgate::sim
