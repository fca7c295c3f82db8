#include "config/labels.h"

namespace pdgate::config {

bool MatchesAll(const Labels& selector, const Labels& labels) {
  for (const auto& [key, value] : selector) {
    auto it = labels.find(key);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

}  // namespace pdgate::config
