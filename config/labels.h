#pragma once
// Kubernetes label and annotation maps, and the selector test used by ModelServer.
#include <map>
#include <string>

namespace pdgate::config {

// Ordered so that summaries and debug dumps print deterministically.
using Labels = std::map<std::string, std::string, std::less<>>;

// True when every key/value of `selector` is present in `labels` (Kubernetes matchLabels).
bool MatchesAll(const Labels& selector, const Labels& labels);

}  // namespace pdgate::config
