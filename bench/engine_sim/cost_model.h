#pragma once
// The timing model, in seconds of simulated GPU time (then scaled by --time-scale).
//   prefill step part = prefill_overhead + prefill_per_token × (uncached prompt tokens in the step)
//   decode step part  = decode_base + decode_per_seq × (sequences decoding in the step)
//   KV transfer       = kv_transfer_base + kv_transfer_per_token × tokens
// A step that carries both prefills and decodes costs the sum (vLLM mixes them in one batch).
// Defaults approximate an 8B model in bf16 on one H100: ~16k prefill tokens/s, ~12 ms per
// decode step at small batch.
namespace pdgate::sim {

struct CostModel {
  double prefill_overhead_s = 0.015;
  double prefill_per_token_s = 60e-6;
  double decode_base_s = 0.012;
  double decode_per_seq_s = 150e-6;
  double kv_transfer_base_s = 0.002;
  double kv_transfer_per_token_s = 5e-6;
  double time_scale = 1.0;
  double prefill_multiplier = 1.0;
  double decode_multiplier = 1.0;

  double StepSeconds(int prefill_tokens, int decode_seqs) const {
    double seconds = 0;
    if (prefill_tokens > 0) {
      seconds += (prefill_overhead_s + prefill_per_token_s * prefill_tokens) * prefill_multiplier;
    }
    if (decode_seqs > 0) {
      seconds += (decode_base_s + decode_per_seq_s * decode_seqs) * decode_multiplier;
    }
    return seconds * time_scale;
  }
  double TransferSeconds(int tokens) const {
    return (kv_transfer_base_s + kv_transfer_per_token_s * tokens) * time_scale;
  }
  bool zero_latency() const { return time_scale <= 0; }
};

}  // namespace pdgate::sim
