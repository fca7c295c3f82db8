#pragma once
// Writing responses to the client: small complete ones (errors, JSON).
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "router/http/net.h"
#include "router/openai/openai_error.h"

namespace pdgate::router {

using HeaderList = std::vector<std::pair<std::string_view, std::string>>;

// GCC 12 destroys temporaries and by-value class arguments of a co_await full-expression twice
// (a double free). So coroutines here take references only, and callers pass named locals:
//   ErrorInfo error{...}; co_await SendError(client, error, keep_alive, headers);

// Writes one complete response; false when the client is gone. `body` is moved from.
Task<bool> SendResponse(Stream& client, http::status status,
                                  std::string_view content_type, std::string& body, bool keep_alive,
                                  const HeaderList& headers);

Task<bool> SendError(Stream& client, const ErrorInfo& error, bool keep_alive,
                               const HeaderList& headers);

// No extra headers.
extern const HeaderList kNoHeaders;

}  // namespace pdgate::router
