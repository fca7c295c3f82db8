#include "bench/engine_sim/tokenizer.h"

#include <xxhash.h>

namespace pdgate::sim {
namespace {

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\t' || c == '\r'; }

TokenId IdOf(std::string_view piece) { return XXH32(piece.data(), piece.size(), 0); }

}  // namespace

std::vector<TokenId> Tokenize(std::string_view text) {
  std::vector<TokenId> tokens;
  tokens.reserve(text.size() / 3 + 1);
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const size_t length = i - start;
    const bool word_boundary = i > start && IsSpace(text[i]) && !IsSpace(text[i - 1]);
    if (length == 4 || word_boundary) {
      tokens.push_back(IdOf(text.substr(start, length)));
      start = i;
    }
  }
  if (start < text.size()) tokens.push_back(IdOf(text.substr(start)));
  return tokens;
}

std::string ApplyChatTemplate(const std::vector<ChatMessage>& messages,
                              bool add_generation_prompt) {
  std::string out;
  for (const ChatMessage& message : messages) {
    out += "<|";
    out += message.role;
    out += "|>\n";
    out += message.content;
    out += '\n';
  }
  if (add_generation_prompt) out += "<|assistant|>\n";
  return out;
}

}  // namespace pdgate::sim
