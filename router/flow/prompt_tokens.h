#pragma once
// kvcache-aware scoring needs the prompt's token ids: the request's own when its prompt is ids,
// this io thread's cached answer for the same prompt, or an engine's /tokenize (on a serving
// endpoint of the routed ModelServer, within kvcache-aware's tokenizeTimeout). Null when none
// of these gives them: the pick then scores with the approximate prefix index. A chat request
// whose messages before the last were seen before gets those messages' ids (`whole` false).
#include <cstdint>
#include <memory>
#include <vector>

#include "router/flow/request_context.h"

namespace pdgate::router {

struct PromptIds {
  std::shared_ptr<const std::vector<uint32_t>> ids;  // null: none
  bool whole = true;                                 // false: the prefix's ids only
};

Task<PromptIds> PromptTokens(RequestContext& context, bool chat);

}  // namespace pdgate::router
