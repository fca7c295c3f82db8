#include "router/openai/plain_usage.h"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace pdgate::router {
namespace {

enum class UsageKey {
  kOther,
  kPromptTokens,
  kCompletionTokens,
  kPromptTokensDetails,
  kCachedTokens
};

// A cursor over the object's bytes. Every step fails (returns false) on what the plain form does
// not have; the caller then leaves the object to the parser.
class Plain {
 public:
  explicit Plain(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool at_end() {
    SkipBlanks();
    return p_ == end_;
  }
  bool Take(char c) {
    SkipBlanks();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  bool Peek(char c) {
    SkipBlanks();
    return p_ != end_ && *p_ == c;
  }
  bool PeekDigit() {
    SkipBlanks();
    return p_ != end_ && *p_ >= '0' && *p_ <= '9';
  }
  // A key of printable ASCII without escapes, and its colon.
  bool Key(UsageKey& key) {
    if (!Take('"')) return false;
    // The keys engines write, each compared whole with its closing quote (a compare of a known
    // length, inlined), before a byte-by-byte read.
    if (p_ != end_) {
      key = UsageKey::kOther;
      const bool known =
          *p_ == 'p' ? Known("prompt_tokens\"", UsageKey::kPromptTokens, key) ||
                           Known("prompt_tokens_details\"", UsageKey::kPromptTokensDetails, key)
          : *p_ == 'c' ? Known("completion_tokens\"", UsageKey::kCompletionTokens, key) ||
                             Known("cached_tokens\"", UsageKey::kCachedTokens, key)
          : *p_ == 't' ? Known("total_tokens\"", UsageKey::kOther, key)
                       : false;
      if (known) return Take(':');
    }
    const char* const first = p_;
    while (p_ != end_ && *p_ != '"') {
      const auto byte = static_cast<unsigned char>(*p_);
      if (byte < 0x20 || byte > 0x7e || byte == '\\') return false;
      ++p_;
    }
    if (p_ == end_) return false;
    key = KeyOf(std::string_view(first, size_t(p_ - first)));
    ++p_;
    return Take(':');
  }
  // A count: `0` or a digit 1-9 and at most 17 more (no overflow), no fraction or exponent.
  bool Count(int64_t& n) {
    SkipBlanks();
    const char* const first = p_;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    const size_t digits = size_t(p_ - first);
    if (digits == 0 || digits > 18 || (digits > 1 && *first == '0')) return false;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return false;
    n = 0;
    for (const char* d = first; d != p_; ++d) n = 10 * n + (*d - '0');
    return true;
  }
  bool Null() {
    SkipBlanks();
    if (end_ - p_ < 4 || std::memcmp(p_, "null", 4) != 0) return false;
    p_ += 4;
    return true;
  }

 private:
  // JSON's blanks; engines write none, so one compare is the usual cost.
  void SkipBlanks() {
    while (p_ != end_ && static_cast<unsigned char>(*p_) <= ' ' &&
           (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) {
      ++p_;
    }
  }
  // `key_and_quote` (a literal) at the cursor: the cursor moves past it.
  template <size_t N>
  bool Known(const char (&key_and_quote)[N], UsageKey id, UsageKey& key) {
    constexpr size_t kSize = N - 1;
    if (size_t(end_ - p_) < kSize || std::memcmp(p_, key_and_quote, kSize) != 0) return false;
    key = id;
    p_ += kSize;
    return true;
  }
  static UsageKey KeyOf(std::string_view name) {
    if (name == "prompt_tokens") return UsageKey::kPromptTokens;
    if (name == "completion_tokens") return UsageKey::kCompletionTokens;
    if (name == "prompt_tokens_details") return UsageKey::kPromptTokensDetails;
    if (name == "cached_tokens") return UsageKey::kCachedTokens;
    return UsageKey::kOther;
  }

  const char* p_;
  const char* const end_;
};

// `{"cached_tokens": N}` and nothing else.
bool Details(Plain& in, int64_t& cached) {
  UsageKey key = UsageKey::kOther;
  return in.Take('{') && in.Key(key) && key == UsageKey::kCachedTokens && in.Count(cached) &&
         in.Take('}');
}

}  // namespace

std::optional<Usage> ReadPlainUsage(std::string_view object) {
  Plain in(object);
  Usage usage;
  if (!in.Take('{')) return std::nullopt;
  if (!in.Peek('}')) {
    do {
      UsageKey key = UsageKey::kOther;
      if (!in.Key(key)) return std::nullopt;
      int64_t n = 0;
      if (in.PeekDigit()) {
        if (!in.Count(n)) return std::nullopt;
        if (key == UsageKey::kPromptTokens) usage.prompt_tokens = n;
        if (key == UsageKey::kCompletionTokens) usage.completion_tokens = n;
      } else if (in.Peek('{')) {
        if (key != UsageKey::kPromptTokensDetails || !Details(in, n)) return std::nullopt;
        usage.cached_tokens = n;
      } else if (!in.Null()) {
        return std::nullopt;
      }
    } while (in.Take(','));
  }
  if (!in.Take('}') || !in.at_end()) return std::nullopt;
  return usage;
}

}  // namespace pdgate::router
