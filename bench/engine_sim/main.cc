// pdgate-engine-sim: one simulated vLLM or SGLang engine pod. See README.md in this folder.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <csignal>
#include <cstdio>
#include <memory>
#include <thread>
#include <vector>

#include "bench/engine_sim/api.h"
#include "bench/engine_sim/engine.h"
#include "bench/engine_sim/faults.h"
#include "bench/engine_sim/http_kv_transport.h"
#include "bench/engine_sim/http_server.h"
#include "bench/engine_sim/kv_events_publisher.h"
#include "bench/engine_sim/metrics.h"
#include "bench/engine_sim/options.h"

int main(int argc, char** argv) {
  using namespace pdgate::sim;
  Options options;
  if (auto exit_code = ParseOptions(argc, argv, options)) return *exit_code;

  Metrics metrics;  // before the publisher, whose thread counts subscriptions in it
  // Declared before the engine, so it outlives it; stopped (queue sent, thread joined) on exit.
  std::unique_ptr<KvEventsPublisher> kv_events;
  if (options.kv_events.port != 0) {
    KvEventsPublisher::Config config;
    config.host = options.host;
    config.port = options.kv_events.port;
    config.replay_port = options.kv_events.replay_port;
    config.topic = options.kv_events.topic;
    config.format = {options.kv_events.encoding, options.engine_config.block_size,
                     options.kv_events.data_parallel_rank};
    config.buffer_steps = static_cast<size_t>(options.kv_events.buffer_steps);
    config.subscriptions = &metrics.kv_event_subscriptions;
    kv_events = std::make_unique<KvEventsPublisher>(std::move(config));
    std::string error;
    if (!kv_events->Start(error)) {
      std::fprintf(stderr, "pdgate-engine-sim: %s\n", error.c_str());
      return 1;
    }
    options.engine_config.kv_events = kv_events.get();
  }

  boost::asio::io_context ioc(options.threads);
  if (!options.lora_modules.empty()) metrics.max_loras = options.max_loras;
  HttpKvTransport transport(ioc);
  Engine engine(ioc, options.engine_config, metrics, transport);
  Faults faults(options.faults, options.seed);
  SimApi api(ioc, options, engine, metrics, faults);

  HttpServerLimits limits;
  limits.body_limit = static_cast<uint64_t>(options.max_request_body_mb * 1024 * 1024);
  HttpServer server(
      ioc,
      [&api](IncomingRequest request, std::shared_ptr<Responder> responder) {
        api.Handle(std::move(request), std::move(responder));
      },
      limits);
  std::string error;
  if (!server.Listen(options.host, static_cast<uint16_t>(options.port), error)) {
    std::fprintf(stderr, "pdgate-engine-sim: %s\n", error.c_str());
    return 1;
  }
  // The KV side channel of a prefill: vLLM's NIXL side-channel port, or SGLang's bootstrap server.
  std::unique_ptr<HttpServer> side;
  if (options.role != Role::kDecode) {
    HttpServerLimits side_limits;
    side_limits.accepted = &metrics.side_connections;
    side = std::make_unique<HttpServer>(
        ioc,
        [&api](IncomingRequest request, std::shared_ptr<Responder> responder) {
          api.HandleSide(std::move(request), std::move(responder));
        },
        side_limits);
    const int side_port = options.engine == EngineKind::kSglang ? options.bootstrap_port
                                                                : options.engine_config.kv_port;
    const std::string& side_host =
        options.engine == EngineKind::kSglang ? options.host : options.engine_config.kv_host;
    if (!side->Listen(side_host, static_cast<uint16_t>(side_port), error)) {
      std::fprintf(stderr, "pdgate-engine-sim: side channel: %s\n", error.c_str());
      return 1;
    }
  }

  boost::asio::steady_timer startup(ioc);
  if (options.startup_delay_s > 0) {
    startup.expires_after(
        std::chrono::nanoseconds(static_cast<int64_t>(options.startup_delay_s * 1e9)));
    startup.async_wait([&api](boost::system::error_code ec) {
      if (!ec) api.set_ready(true);
    });
  } else {
    api.set_ready(true);
  }

  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  signals.async_wait([&ioc](boost::system::error_code, int) { ioc.stop(); });

  if (!options.quiet)
    std::fprintf(stderr,
                 "pdgate-engine-sim: %s %s on %s:%d (engine id %s, side port %d), model %s, "
                 "time-scale %g\n",
                 options.engine == EngineKind::kSglang ? "sglang" : "vllm",
                 options.role == Role::kPrefill  ? "prefill"
                 : options.role == Role::kDecode ? "decode"
                                                 : "both",
                 options.host.c_str(), options.port, options.engine_config.engine_id.c_str(),
                 options.engine == EngineKind::kSglang ? options.bootstrap_port
                                                       : options.engine_config.kv_port,
                 options.primary_model().c_str(), options.engine_config.cost.time_scale);

  std::vector<std::thread> threads;
  for (int i = 1; i < options.threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
  ioc.run();
  for (auto& thread : threads) thread.join();
  return 0;
}
