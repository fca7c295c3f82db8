#pragma once
// The simulator's HTTP surface: the OpenAI API as vLLM serves it (and SGLang's /abort_request),
// health, metrics and admin endpoints on the API port; the KV side channel (vLLM pulls, SGLang
// bootstrap rooms) on the side port.
#include <atomic>
#include <memory>

#include "bench/engine_sim/exchange.h"
#include "bench/engine_sim/options.h"

namespace boost::asio {
class io_context;
}

namespace pdgate::sim {

class Engine;
class Faults;
struct FaultDecision;
struct Metrics;

class SimApi {
 public:
  SimApi(boost::asio::io_context& ioc, const Options& options, Engine& engine, Metrics& metrics,
         Faults& faults);
  void Handle(IncomingRequest request, std::shared_ptr<Responder> responder);
  void HandleSide(IncomingRequest request, std::shared_ptr<Responder> responder);
  void set_ready(bool ready) { ready_.store(ready); }

 private:
  void Generate(IncomingRequest request, std::shared_ptr<Responder> responder, bool chat);
  void Admit(IncomingRequest request, std::shared_ptr<Responder> responder, bool chat,
             const FaultDecision& fault);
  void ReplyError(Responder& responder, int status, std::string_view message);
  std::string ModelsBody() const;
  // The `model` of a request: a served name or a LoRA adapter (then `lora` is set). False when
  // this engine does not serve it (a 404).
  bool ResolveModel(const std::string& requested, std::string& lora) const;
  void ServeTokenize(IncomingRequest request, Responder& responder);

  boost::asio::io_context& ioc_;
  const Options& options_;
  Engine& engine_;
  Metrics& metrics_;
  Faults& faults_;
  std::atomic<bool> ready_{false};
  int64_t started_at_;
};

}  // namespace pdgate::sim
