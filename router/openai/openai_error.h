#pragma once
// Errors in the OpenAI shape {"error":{"message","type","param","code"}}, which the OpenAI SDKs
// and vLLM (since 0.10.1) use, and normalisation of what engines send: vLLM's pre-0.10.1 flat
// shape and its `--api-key` rejection `{"error":"Unauthorized"}` become the nested shape too.
#include <string>
#include <string_view>

namespace pdgate::router {

struct ErrorInfo {
  int status = 500;
  std::string message;
  std::string_view type;   // empty: derived from the status
  std::string_view param;  // empty: null
  std::string_view code;   // empty: null
};

std::string ErrorBody(const ErrorInfo& error);

// OpenAI's `type` for a status: invalid_request_error, authentication_error, ... server_error.
std::string_view ErrorTypeFor(int status);

// An engine's error body in the nested shape (kept as it is when it already is).
std::string NormalizeEngineError(int status, std::string_view body);

// One SSE event carrying an error, for failures after the stream began.
std::string ErrorEvent(const ErrorInfo& error);

}  // namespace pdgate::router
