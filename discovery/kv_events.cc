#include "discovery/kv_events.h"

#include <array>

#include "base/strings.h"
#include "discovery/msgpack_reader.h"

namespace pdgate::discovery {
namespace {

absl::Status Malformed(std::string_view what) {
  return absl::InvalidArgumentError(StrCat("KV event batch: ", what));
}

bool ReadHash(MsgpackReader& r, uint64_t& hash) {
  if (r.ReadInteger(hash)) return true;
  std::span<const uint8_t> digest;
  if (!r.ReadBinary(digest)) return false;
  hash = 0;
  for (size_t i = digest.size() > 8 ? digest.size() - 8 : 0; i < digest.size(); ++i) {
    hash = (hash << 8) | digest[i];
  }
  return true;
}

bool ReadHashes(MsgpackReader& r, std::vector<uint64_t>& hashes) {
  uint32_t n = 0;
  if (!r.ReadArray(n)) return false;
  hashes.clear();
  hashes.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t hash = 0;
    if (!ReadHash(r, hash)) return false;
    hashes.push_back(hash);
  }
  return true;
}

bool ReadOptionalHash(MsgpackReader& r, std::optional<uint64_t>& hash) {
  if (r.ReadNil()) {
    hash.reset();
    return true;
  }
  uint64_t value = 0;
  if (!ReadHash(r, value)) return false;
  hash = value;
  return true;
}

bool ReadTokens(MsgpackReader& r, std::vector<uint32_t>& tokens) {
  uint32_t n = 0;
  if (!r.ReadArray(n)) return false;
  tokens.clear();
  tokens.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    uint64_t token = 0;
    if (!r.ReadUnsigned(token, UINT32_MAX)) return false;
    tokens.push_back(uint32_t(token));
  }
  return true;
}

// nil keeps the default: "not said".
bool ReadOptionalString(MsgpackReader& r, std::string& value) {
  if (r.ReadNil()) return true;
  std::string_view text;
  if (!r.ReadString(text)) return false;
  value.assign(text);
  return true;
}

bool ReadOptionalUint32(MsgpackReader& r, uint32_t& value) {
  if (r.ReadNil()) return true;
  uint64_t number = 0;
  if (!r.ReadUnsigned(number, UINT32_MAX)) return false;
  value = uint32_t(number);
  return true;
}

enum class Field {
  kBlockHashes,
  kParent,
  kTokenIds,
  kBlockSize,
  kMedium,
  kLoraName,
  kGroupIdx,
  kSpecKind,
  kSkipped,  // lora_id (deprecated), extra_keys, the sliding window, anything unknown
};

// Positional order of the array form (msgspec declaration order).
constexpr std::array<Field, 11> kStoredFields = {
    Field::kBlockHashes, Field::kParent,   Field::kTokenIds, Field::kBlockSize,
    Field::kSkipped,     Field::kMedium,   Field::kLoraName, Field::kSkipped,
    Field::kGroupIdx,    Field::kSpecKind, Field::kSkipped};
constexpr std::array<Field, 3> kRemovedFields = {Field::kBlockHashes, Field::kMedium,
                                                 Field::kGroupIdx};

Field FieldNamed(std::string_view name) {
  if (name == "block_hashes") return Field::kBlockHashes;
  if (name == "parent_block_hash") return Field::kParent;
  if (name == "token_ids") return Field::kTokenIds;
  if (name == "block_size") return Field::kBlockSize;
  if (name == "medium") return Field::kMedium;
  if (name == "lora_name") return Field::kLoraName;
  if (name == "group_idx") return Field::kGroupIdx;
  if (name == "kv_cache_spec_kind") return Field::kSpecKind;
  return Field::kSkipped;
}

KvEventType TypeNamed(std::string_view name) {
  if (name == "BlockStored") return KvEventType::kBlockStored;
  if (name == "BlockRemoved") return KvEventType::kBlockRemoved;
  if (name == "AllBlocksCleared") return KvEventType::kAllBlocksCleared;
  return KvEventType::kUnknown;
}

bool ReadField(MsgpackReader& r, Field field, KvEvent& event) {
  switch (field) {
    case Field::kBlockHashes:
      return ReadHashes(r, event.block_hashes);
    case Field::kParent:
      return ReadOptionalHash(r, event.parent_block_hash);
    case Field::kTokenIds:
      return ReadTokens(r, event.token_ids);
    case Field::kBlockSize:
      return ReadOptionalUint32(r, event.block_size);
    case Field::kMedium:
      return ReadOptionalString(r, event.medium);
    case Field::kLoraName:
      return ReadOptionalString(r, event.lora_name);
    case Field::kGroupIdx:
      return ReadOptionalUint32(r, event.group_idx);
    case Field::kSpecKind:
      return ReadOptionalString(r, event.cache_spec_kind);
    case Field::kSkipped:
      break;
  }
  return r.Skip();
}

absl::Status ReadArrayEvent(MsgpackReader& r, uint32_t size, KvEvent& event) {
  std::string_view tag;
  if (size == 0 || !r.ReadString(tag))
    return Malformed("an event array does not start with its type");
  event.type = TypeNamed(tag);
  std::span<const Field> fields;
  if (event.type == KvEventType::kBlockStored) fields = kStoredFields;
  if (event.type == KvEventType::kBlockRemoved) fields = kRemovedFields;
  for (uint32_t i = 1; i < size; ++i) {
    const Field field = i - 1 < fields.size() ? fields[i - 1] : Field::kSkipped;
    if (!ReadField(r, field, event)) return Malformed(StrCat("field ", i, " of ", tag));
  }
  return absl::OkStatus();
}

absl::Status ReadMapEvent(MsgpackReader& r, uint32_t size, KvEvent& event) {
  bool typed = false;
  for (uint32_t i = 0; i < size; ++i) {
    std::string_view key;
    if (!r.ReadString(key)) return Malformed("an event map key is not a string");
    if (key == "type") {
      std::string_view tag;
      if (!r.ReadString(tag)) return Malformed("an event's type is not a string");
      event.type = TypeNamed(tag);
      typed = true;
    } else if (!ReadField(r, FieldNamed(key), event)) {
      return Malformed(StrCat("the event field ", key));
    }
  }
  if (!typed) return Malformed("an event map without \"type\"");
  return absl::OkStatus();
}

absl::Status ReadEvents(MsgpackReader& r, std::vector<KvEvent>& events) {
  uint32_t n = 0;
  if (!r.ReadArray(n)) return Malformed("events are not an array");
  // No reserve(n): n is only bounded by the bytes left, and an event in memory is ~15 times
  // the smallest valid one on the wire. Hashes and token ids reserve: at most 8 and 4 times.
  for (uint32_t i = 0; i < n; ++i) {
    KvEvent& event = events.emplace_back();
    uint32_t size = 0;
    absl::Status status;
    if (r.ReadArray(size)) {
      status = ReadArrayEvent(r, size, event);
    } else if (r.ReadMap(size)) {
      status = ReadMapEvent(r, size, event);
    } else {
      status = Malformed("an event is neither an array nor a map");
    }
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

bool ReadRank(MsgpackReader& r, std::optional<uint32_t>& rank) {
  if (r.ReadNil()) return true;
  uint64_t value = 0;
  if (!r.ReadUnsigned(value, UINT32_MAX)) return false;
  rank = uint32_t(value);
  return true;
}

}  // namespace

std::optional<uint64_t> DecodeKvEventSequence(std::span<const uint8_t> frame) {
  if (frame.size() != 8) return std::nullopt;
  uint64_t seq = 0;
  for (uint8_t byte : frame) seq = (seq << 8) | byte;
  return seq;
}

std::array<uint8_t, 8> EncodeKvEventSequence(uint64_t sequence) {
  std::array<uint8_t, 8> frame{};
  for (size_t i = frame.size(); i-- > 0; sequence >>= 8) frame[i] = uint8_t(sequence & 0xff);
  return frame;
}

absl::StatusOr<KvEventBatch> DecodeKvEventBatch(std::span<const uint8_t> payload) {
  MsgpackReader r(payload);
  KvEventBatch batch;
  uint32_t size = 0;
  if (r.ReadArray(size)) {
    if (size < 2) return Malformed("the batch array has fewer than 2 elements");
    if (!r.ReadDouble(batch.ts)) return Malformed("ts is not a number");
    if (absl::Status status = ReadEvents(r, batch.events); !status.ok()) return status;
    if (size >= 3 && !ReadRank(r, batch.data_parallel_rank)) {
      return Malformed("data_parallel_rank is not a rank");
    }
    for (uint32_t i = 3; i < size; ++i) {
      if (!r.Skip()) return Malformed("cut off");
    }
  } else if (r.ReadMap(size)) {
    bool has_events = false;
    for (uint32_t i = 0; i < size; ++i) {
      std::string_view key;
      if (!r.ReadString(key)) return Malformed("a batch key is not a string");
      if (key == "ts") {
        if (!r.ReadDouble(batch.ts)) return Malformed("ts is not a number");
      } else if (key == "events") {
        if (absl::Status status = ReadEvents(r, batch.events); !status.ok()) return status;
        has_events = true;
      } else if (key == "data_parallel_rank") {
        if (!ReadRank(r, batch.data_parallel_rank)) {
          return Malformed("data_parallel_rank is not a rank");
        }
      } else if (!r.Skip()) {
        return Malformed("cut off");
      }
    }
    if (!has_events) return Malformed("the batch map has no events");
  } else {
    return Malformed("not an array or a map");
  }
  if (!r.done()) return Malformed("bytes after the batch");
  return batch;
}

}  // namespace pdgate::discovery
