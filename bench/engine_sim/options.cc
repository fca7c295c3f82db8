#include "bench/engine_sim/options.h"

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <map>

#include "base/strings.h"

namespace pdgate::sim {

std::optional<int> ParseOptions(int argc, char** argv, Options& o) {
  CLI::App app{
      "pdgate-engine-sim: one simulated vLLM or SGLang engine pod (OpenAI API, PD wire protocols,\n"
      "continuous batching, KV cache with prefix caching). Durations are simulated GPU time,\n"
      "multiplied by --time-scale. See bench/engine_sim/README.md for the engine behaviour behind\n"
      "each flag."};
  app.get_formatter()->column_width(44);
  EngineConfig& e = o.engine_config;
  CostModel& c = e.cost;
  std::string role = "both", engine = "vllm", policy = "fail", kv_host;
  double prefill_overhead_ms = c.prefill_overhead_s * 1e3,
         prefill_per_token_us = c.prefill_per_token_s * 1e6;
  double decode_base_ms = c.decode_base_s * 1e3, decode_per_seq_us = c.decode_per_seq_s * 1e6;
  double kv_transfer_base_ms = c.kv_transfer_base_s * 1e3,
         kv_transfer_per_token_us = c.kv_transfer_per_token_s * 1e6;
  bool zero_latency = false, no_prefix_caching = false;

  app.add_option("--host", o.host, "Address to listen on (a pod IP; 127.0.0.x locally)")
      ->capture_default_str();
  app.add_option("--port", o.port, "OpenAI API port (vLLM --port)")->capture_default_str();
  app.add_option("--threads", o.threads, "I/O threads (the engine model itself is one strand)")
      ->capture_default_str();
  app.add_option("--role", role,
                 "prefill | decode | both: the PD role of this instance (vLLM kv_role "
                 "kv_producer/kv_consumer/kv_both; SGLang --disaggregation-mode)")
      ->check(CLI::IsMember({"prefill", "decode", "both"}))
      ->capture_default_str();
  app.add_option("--engine", engine, "vllm | sglang: wire protocol, PD flavour and metric names")
      ->check(CLI::IsMember({"vllm", "sglang"}))
      ->capture_default_str();
  app.add_option("--model", o.model, "Model name (vLLM --model)")->capture_default_str();
  app.add_option("--served-model-name", o.served_model_names,
                 "Names accepted in `model` (vLLM --served-model-name); default: --model");
  std::vector<std::string> loras;
  app.add_option("--lora-modules", loras,
                 "LoRA adapters NAME=PATH served besides the base model (vLLM --enable-lora "
                 "--lora-modules): accepted in `model`, listed in /v1/models with parent = base, "
                 "reported in vllm:lora_requests_info; prefix cache separate per adapter");
  app.add_option("--max-loras", o.max_loras, "max_lora reported in vllm:lora_requests_info")
      ->capture_default_str();
  app.add_option("--max-model-len", o.max_model_len,
                 "Context length: prompt + max_tokens above it is a 400 (vLLM --max-model-len)")
      ->capture_default_str();
  app.add_option("--max-num-seqs", e.max_num_seqs, "Largest running batch (vLLM --max-num-seqs)")
      ->capture_default_str();
  app.add_option(
         "--max-num-batched-tokens", e.max_num_batched_tokens,
         "Token budget of one step; longer prefills are chunked (vLLM --max-num-batched-tokens)")
      ->capture_default_str();
  app.add_option("--kv-blocks", e.kv_blocks, "KV cache size in blocks (vLLM num_gpu_blocks)")
      ->capture_default_str();
  app.add_option("--block-size", e.block_size, "Tokens per KV block (vLLM --block-size)")
      ->capture_default_str();
  app.add_flag("--no-prefix-caching", no_prefix_caching,
               "Disable automatic prefix caching (vLLM --no-enable-prefix-caching)");
  app.add_option("--time-scale", c.time_scale,
                 "Multiplier on all simulated durations; 0 = zero-latency mode")
      ->capture_default_str();
  app.add_flag("--zero-latency", zero_latency,
               "Same as --time-scale 0: for router-overhead benchmarks");
  app.add_option("--prefill-overhead-ms", prefill_overhead_ms,
                 "Fixed cost of a step that carries prefills")
      ->capture_default_str();
  app.add_option("--prefill-per-token-us", prefill_per_token_us,
                 "Prefill cost per uncached prompt token")
      ->capture_default_str();
  app.add_option("--decode-base-ms", decode_base_ms, "Fixed cost of a decode step")
      ->capture_default_str();
  app.add_option("--decode-per-seq-us", decode_per_seq_us, "Decode step cost per running sequence")
      ->capture_default_str();
  app.add_option("--kv-transfer-base-ms", kv_transfer_base_ms,
                 "Fixed cost of a P->D KV transfer (NIXL/Mooncake handshake)")
      ->capture_default_str();
  app.add_option("--kv-transfer-per-token-us", kv_transfer_per_token_us,
                 "KV transfer cost per prompt token")
      ->capture_default_str();
  app.add_option("--kv-port", e.kv_port,
                 "vLLM side-channel port of a prefill, returned as remote_port "
                 "(VLLM_NIXL_SIDE_CHANNEL_PORT)")
      ->capture_default_str();
  app.add_option(
      "--kv-host", kv_host,
      "Side-channel host returned as remote_host (VLLM_NIXL_SIDE_CHANNEL_HOST); default --host");
  app.add_option("--engine-id", e.engine_id, "remote_engine_id of this engine; default: random");
  app.add_option("--tp-size", e.tp_size, "tp_size reported in kv_transfer_params")
      ->capture_default_str();
  app.add_option(
         "--kv-hold-timeout", e.kv_hold_timeout_s,
         "Seconds a prefill holds unpulled KV (VLLM_NIXL_ABORT_REQUEST_TIMEOUT, default 480)")
      ->capture_default_str();
  app.add_option(
         "--kv-load-failure-policy", policy,
         "fail | recompute: decode behaviour when a pull fails (vLLM kv_load_failure_policy)")
      ->check(CLI::IsMember({"fail", "recompute"}))
      ->capture_default_str();
  app.add_option("--bootstrap-port", o.bootstrap_port,
                 "SGLang prefill bootstrap server port (--disaggregation-bootstrap-port)")
      ->capture_default_str();
  app.add_option(
         "--bootstrap-timeout", e.bootstrap_timeout_s,
         "SGLang prefill: seconds to wait for the decode (SGLANG_DISAGGREGATION_BOOTSTRAP_TIMEOUT)")
      ->capture_default_str();
  app.add_option(
         "--waiting-timeout", e.waiting_timeout_s,
         "SGLang decode: seconds to wait for the KV (SGLANG_DISAGGREGATION_WAITING_TIMEOUT)")
      ->capture_default_str();
  app.add_flag("--legacy-metrics", o.legacy_metrics,
               "Pre-0.11 vLLM metric names (gpu_cache_usage_perc, gpu_prefix_cache_*, "
               "time_per_output_token_seconds)");
  app.add_option("--api-key", o.api_key,
                 "Require `Authorization: Bearer KEY` on /v1/* (vLLM --api-key: 401 "
                 "{\"error\":\"Unauthorized\"})");
  app.add_option("--max-request-body-mb", o.max_request_body_mb,
                 "Largest request body; larger ones get 413 (the server's body limit)")
      ->capture_default_str();
  app.add_flag("--flat-errors", o.flat_errors,
               "Pre-0.10.1 flat error body {\"object\":\"error\",...}");
  app.add_option("--startup-delay", o.startup_delay_s,
                 "Seconds of not-ready start (/health 503, like weights loading)")
      ->capture_default_str();
  app.add_option("--fail-rate", o.faults.fail_rate,
                 "Fraction of completions answered with --fail-status")
      ->capture_default_str();
  app.add_option("--fail-status", o.faults.fail_status,
                 "Status of injected failures (429, 500, 503)")
      ->capture_default_str();
  app.add_option("--stall-first-byte", o.faults.stall_first_byte_s,
                 "Seconds before the first byte of every completion")
      ->capture_default_str();
  app.add_option("--stall-mid-stream", o.faults.stall_mid_stream_s,
                 "Seconds a stream pauses after --mid-stream-after tokens")
      ->capture_default_str();
  app.add_option("--drop-mid-stream-rate", o.faults.drop_mid_stream_rate,
                 "Fraction of streams cut (connection closed) after --mid-stream-after tokens")
      ->capture_default_str();
  app.add_option("--mid-stream-after", o.faults.mid_stream_after_tokens,
                 "Token count where mid-stream faults hit")
      ->capture_default_str();
  app.add_option("--exit-after", o.faults.exit_after,
                 "Exit (code 3, like a crash) when request N+1 arrives; 0 = never")
      ->capture_default_str();
  app.add_option("--prefill-multiplier", o.faults.prefill_multiplier,
                 "Latency multiplier on prefill (a slow pod)")
      ->capture_default_str();
  app.add_option("--decode-multiplier", o.faults.decode_multiplier, "Latency multiplier on decode")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the fault RNG and the default engine id")
      ->capture_default_str();
  std::string kv_encoding = "array";
  app.add_option("--kv-events-port", o.kv_events.port,
                 "Publish KV-cache events on a ZMQ PUB socket bound to --host:PORT, 0 = off "
                 "(vLLM --kv-events-config endpoint tcp://*:PORT, enable_kv_cache_events)")
      ->capture_default_str();
  app.add_option("--kv-events-replay-port", o.kv_events.replay_port,
                 "ZMQ ROUTER replay socket on --host:PORT, 0 = none (vLLM replay_endpoint)")
      ->capture_default_str();
  app.add_option("--kv-events-topic", o.kv_events.topic,
                 "First frame of every KV-event message (vLLM topic)");
  app.add_option("--kv-events-encoding", kv_encoding,
                 "array | map: KV events as tagged arrays (vLLM <= 0.25, replies [seq, payload]) "
                 "or maps with \"type\" (vLLM 0.26+, replies [topic, seq, payload])")
      ->check(CLI::IsMember({"array", "map"}))
      ->capture_default_str();
  app.add_option("--kv-events-buffer-steps", o.kv_events.buffer_steps,
                 "Batches kept for replay (vLLM buffer_steps)")
      ->capture_default_str();
  app.add_option("--data-parallel-rank", o.kv_events.data_parallel_rank,
                 "data_parallel_rank written into every KV-event batch")
      ->capture_default_str();
  app.add_flag("--log-requests", o.log_requests,
               "One stderr line per finished request (id, PD leg, tokens, finish reason)");
  app.add_flag("--quiet", o.quiet, "No startup line on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  for (const std::string& lora : loras) {
    const size_t eq = lora.find('=');
    o.lora_modules.push_back(eq == std::string::npos
                                 ? Options::Lora{lora, lora}
                                 : Options::Lora{lora.substr(0, eq), lora.substr(eq + 1)});
  }
  e.track_loras = !o.lora_modules.empty();
  o.kv_events.encoding = kv_encoding == "map" ? KvEventEncoding::kMap : KvEventEncoding::kArray;
  o.role = role == "prefill" ? Role::kPrefill : role == "decode" ? Role::kDecode : Role::kBoth;
  o.engine = engine == "sglang" ? EngineKind::kSglang : EngineKind::kVllm;
  if (zero_latency) c.time_scale = 0;
  c.prefill_overhead_s = prefill_overhead_ms / 1e3;
  c.prefill_per_token_s = prefill_per_token_us / 1e6;
  c.decode_base_s = decode_base_ms / 1e3;
  c.decode_per_seq_s = decode_per_seq_us / 1e6;
  c.kv_transfer_base_s = kv_transfer_base_ms / 1e3;
  c.kv_transfer_per_token_s = kv_transfer_per_token_us / 1e6;
  c.prefill_multiplier = o.faults.prefill_multiplier;
  c.decode_multiplier = o.faults.decode_multiplier;
  e.prefix_caching = !no_prefix_caching;
  e.recompute_on_load_failure = policy == "recompute";
  e.kv_host = kv_host.empty() ? o.host : kv_host;
  if (e.engine_id.empty()) {
    const auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    const uint64_t h =
        static_cast<uint64_t>(now) ^ (static_cast<uint64_t>(getpid()) << 32) ^ o.seed;
    char buffer[40];
    std::snprintf(buffer, sizeof(buffer), "%08x-%04x-4%03x-8%03x-%012llx", static_cast<unsigned>(h),
                  static_cast<unsigned>(h >> 32) & 0xffff, static_cast<unsigned>(h >> 48) & 0xfff,
                  static_cast<unsigned>(o.port) & 0xfff,
                  static_cast<unsigned long long>(h * 0x9e3779b97f4a7c15ULL) & 0xffffffffffffULL);
    e.engine_id = buffer;
  }
  const auto port_ok = [](int port) { return port >= 0 && port <= 65535; };
  if (!port_ok(o.kv_events.port) || !port_ok(o.kv_events.replay_port) ||
      o.kv_events.buffer_steps < 0 || o.kv_events.data_parallel_rank < 0 ||
      (o.kv_events.replay_port != 0 && o.kv_events.port == 0)) {
    std::fprintf(stderr,
                 "--kv-events-port and --kv-events-replay-port must be ports (the replay needs "
                 "the PUB), --kv-events-buffer-steps and --data-parallel-rank >= 0\n");
    return 2;
  }
  if (o.threads < 1 || e.max_num_seqs < 1 || e.max_num_batched_tokens < 1 || e.kv_blocks < 1 ||
      e.block_size < 1) {
    std::fprintf(stderr,
                 "--threads, --max-num-seqs, --max-num-batched-tokens, --kv-blocks, --block-size "
                 "must be >= 1\n");
    return 2;
  }
  return std::nullopt;
}

}  // namespace pdgate::sim
