#include "bench/engine_sim/faults.h"

#include <fmt/format.h>
#include <simdjson.h>

namespace pdgate::sim {

FaultDecision Faults::Decide() {
  std::lock_guard lock(mu_);
  FaultDecision decision;
  ++requests_;
  if (config_.exit_after > 0 && requests_ > config_.exit_after) decision.exit_now = true;
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  if (config_.fail_rate > 0 && uniform(rng_) < config_.fail_rate) {
    decision.fail_status = config_.fail_status;
  }
  decision.stall_first_byte_s = config_.stall_first_byte_s;
  decision.stall_mid_stream_s = config_.stall_mid_stream_s;
  decision.drop_mid_stream =
      config_.drop_mid_stream_rate > 0 && uniform(rng_) < config_.drop_mid_stream_rate;
  decision.mid_stream_after_tokens = config_.mid_stream_after_tokens;
  return decision;
}

FaultConfig Faults::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

void Faults::set_config(const FaultConfig& config) {
  std::lock_guard lock(mu_);
  config_ = config;
}

std::string Faults::Update(std::string body) {
  namespace od = simdjson::ondemand;
  body.reserve(body.size() + simdjson::SIMDJSON_PADDING);
  od::parser parser;
  od::document doc;
  od::object object;
  if (parser.iterate(simdjson::padded_string_view(body.data(), body.size(), body.capacity()))
          .get(doc) ||
      doc.get_object().get(object)) {
    return "body must be a JSON object";
  }
  FaultConfig next = config();
  for (auto field : object) {
    std::string_view key;
    double value = 0;
    if (field.unescaped_key().get(key) || field.value().get_double().get(value)) {
      return "fields must be numbers";
    }
    if (key == "fail_rate") {
      next.fail_rate = value;
    } else if (key == "fail_status") {
      next.fail_status = static_cast<int>(value);
    } else if (key == "stall_first_byte_s") {
      next.stall_first_byte_s = value;
    } else if (key == "stall_mid_stream_s") {
      next.stall_mid_stream_s = value;
    } else if (key == "drop_mid_stream_rate") {
      next.drop_mid_stream_rate = value;
    } else if (key == "mid_stream_after_tokens") {
      next.mid_stream_after_tokens = static_cast<int>(value);
    } else if (key == "exit_after") {
      next.exit_after = static_cast<int64_t>(value);
    } else if (key == "prefill_multiplier") {
      next.prefill_multiplier = value;
    } else if (key == "decode_multiplier") {
      next.decode_multiplier = value;
    } else {
      return fmt::format("unknown fault field `{}`", key);
    }
  }
  if (next.fail_rate < 0 || next.fail_rate > 1 || next.drop_mid_stream_rate < 0 ||
      next.drop_mid_stream_rate > 1) {
    return "rates must be within [0, 1]";
  }
  if (next.fail_status < 400 || next.fail_status > 599) return "fail_status must be 4xx or 5xx";
  if (next.prefill_multiplier <= 0 || next.decode_multiplier <= 0) return "multipliers must be > 0";
  set_config(next);
  return "";
}

std::string Faults::ToJson() const {
  const FaultConfig c = config();
  return fmt::format(
      R"({{"fail_rate":{},"fail_status":{},"stall_first_byte_s":{},"stall_mid_stream_s":{},)"
      R"("drop_mid_stream_rate":{},"mid_stream_after_tokens":{},"exit_after":{},)"
      R"("prefill_multiplier":{},"decode_multiplier":{}}})",
      c.fail_rate, c.fail_status, c.stall_first_byte_s, c.stall_mid_stream_s,
      c.drop_mid_stream_rate, c.mid_stream_after_tokens, c.exit_after, c.prefill_multiplier,
      c.decode_multiplier);
}

}  // namespace pdgate::sim
