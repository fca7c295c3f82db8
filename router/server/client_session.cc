#include "router/server/client_session.h"

#include "base/strings.h"
#include "router/flow/completion_handler.h"
#include "router/http/client_io.h"
#include "router/http/parsed_read.h"
#include "router/openai/json_text.h"
#include "router/openai/openai_request.h"
#include "router/openai/request_id.h"
#include "router/server/request_auth.h"

namespace pdgate::router {
namespace {

// A typical request (an OpenAI SDK chat: ~700 bytes of headers and a short prompt) in one read;
// Beast's flat_buffer starts at 512 bytes. Held by every connection while it reads a request,
// so 10,000 clients arriving at once hold this much each.
constexpr size_t kClientReadBufferBytes = 4096;

// 413 for a body over limits.maxRequestBodyBytes, by Content-Length or as it is read.
ErrorInfo TooLarge(uint64_t max_body_bytes) {
  ErrorInfo error;
  error.status = 413;
  error.message = StrCat("The request body is larger than ", max_body_bytes, " bytes.");
  return error;
}

// The models a caller may use: every routed model, or those its principal allows.
std::string ModelList(const RouterState& state, const auth::Principal* principal) {
  std::string out = R"({"object":"list","data":[)";
  bool first = true;
  for (const std::string& name : state.routes->model_names()) {
    if (principal != nullptr && !auth::Allows(*principal, name)) continue;
    if (!first) out.push_back(',');
    first = false;
    out += R"({"id":)";
    AppendJsonString(out, name);
    out += R"(,"object":"model","created":0,"owned_by":"pdgate"})";
  }
  out += "]}";
  return out;
}

enum class Route { kCompletions, kModels, kHealth, kReady, kNotFound, kMethodNotAllowed };

Route Classify(http::verb method, std::string_view path) {
  struct Entry {
    std::string_view path;
    http::verb method;
    Route route;
  };
  static constexpr Entry kRoutes[] = {
      {"/v1/chat/completions", http::verb::post, Route::kCompletions},
      {"/v1/completions", http::verb::post, Route::kCompletions},
      {"/v1/models", http::verb::get, Route::kModels},
      {"/healthz", http::verb::get, Route::kHealth},
      {"/readyz", http::verb::get, Route::kReady},
  };
  for (const Entry& entry : kRoutes) {
    if (entry.path != path) continue;
    return entry.method == method ? entry.route : Route::kMethodNotAllowed;
  }
  return Route::kNotFound;
}

// Counts the connection and lists it for the drain while its session runs, however the session
// ends: an exception must not leave the drain waiting on a count, or holding a gone stream.
class SessionRegistration {
 public:
  SessionRegistration(Worker& worker, Stream& stream) : worker_(worker), stream_(&stream) {
    ++worker_.connections;
    worker_.sessions.emplace(stream_, &busy_);
  }
  ~SessionRegistration() {
    worker_.sessions.erase(stream_);
    --worker_.connections;
  }
  SessionRegistration(const SessionRegistration&) = delete;
  SessionRegistration& operator=(const SessionRegistration&) = delete;
  // Busy from a request's head until its response is out; the drain closes only idle ones.
  void SetBusy(bool busy) { busy_ = busy; }

 private:
  Worker& worker_;
  Stream* stream_;
  bool busy_ = false;
};

}  // namespace

Task<void> RunClientSession(Worker& worker, Socket socket) {
  Stream stream(std::move(socket));
  SessionRegistration registration(worker, stream);
  beast::error_code ignored;
  stream.socket().set_option(tcp::no_delay(true), ignored);
  beast::flat_buffer buffer;  // kept across requests: it may hold the next pipelined one
  bool first = true;
  // Named locals only in co_await expressions (see client_io.h: GCC 12 coroutine bug).
  ErrorInfo error;
  std::string response_body;
  std::string request_id;
  HeaderList auth_headers;
  ClientRequest request;  // its head's storage serves every request of the connection
  while (true) {
    buffer.reserve(kClientReadBufferBytes);
    ClientRequestParser parser(request);
    uint64_t max_body_bytes = 0;
    {
      // Not held across the wait for a request: a reload may free these settings meanwhile.
      const config::RouterSettings& settings = worker.settings();
      max_body_bytes = settings.limits.max_request_body_bytes;
      parser.header_limit(uint32_t(settings.limits.max_request_header_bytes));
      parser.body_limit(max_body_bytes);
      // The first request must arrive whole-headed within request_header (slow-header clients
      // are cut off); a kept-alive connection may idle longer before its next request.
      stream.expires_after(first ? settings.timeouts.request_header
                                 : settings.timeouts.keep_alive_idle);
    }
    first = false;
    auto [header_ec, header_n] = co_await ReadParsed(stream, buffer, parser, ReadUntil::kHeader);
    if (header_ec == http::error::header_limit) {
      error = {431, "Request header fields too large.", "", "", ""};
      co_await SendError(stream, error, false, kNoHeaders);
      break;
    }
    if (header_ec == http::error::body_limit) {
      // Beast checks Content-Length against body_limit with the header: refused before reading.
      error = TooLarge(max_body_bytes);
      co_await SendError(stream, error, false, kNoHeaders);
      break;
    }
    if (header_ec == http::error::end_of_stream || header_ec == beast::error::timeout ||
        header_ec == net::error::eof || header_ec == net::error::connection_reset) {
      break;
    }
    if (header_ec) {
      error = {400, "Malformed HTTP request.", "", "", ""};
      co_await SendError(stream, error, false, kNoHeaders);
      break;
    }
    registration.SetBusy(true);
    // This request's settings: pinned, as a reload may replace worker.state while it runs.
    const std::shared_ptr<const RouterState> state = worker.state;
    const config::RouterSettings& settings = state->config->settings;
    const std::string_view target = request.target();
    const std::string_view path = target.substr(0, target.find('?'));
    const Route route = Classify(request.method(), path);
    // A draining router answers what it has and closes each connection after it.
    bool keep_alive = request.keep_alive() && !worker.draining();

    // Authentication, before the body is read: a refused caller costs a header parse. Every
    // /v1/* path, unknown ones included, so that paths cannot be probed without a credential.
    auth::Authentication authentication;
    const auth::AuthPolicy* auth_policy = state->auth.get();  // held by `state`
    if (auth_policy && path.starts_with("/v1/")) {
      authentication = AuthenticateRequest(worker, *auth_policy, request);
      if (!authentication.ok()) {
        request_id = request["x-request-id"];
        if (request_id.empty() || request_id.size() > 128) request_id = NewRequestId(worker.rng);
        LogRefusal(worker, request, path, request_id, authentication);
        auth_headers = UnauthorizedHeaders(request_id);
        // An unread body would be taken for the next request: such a connection closes.
        keep_alive = keep_alive && parser.is_done();
        const bool sent_error =
            co_await SendError(stream, UnauthorizedError(), keep_alive, auth_headers);
        registration.SetBusy(false);
        if (!sent_error || !keep_alive || worker.draining()) break;
        continue;
      }
    }

    // Expectation values are case-insensitive (RFC 9110 §10.1.1).
    if (route == Route::kCompletions && beast::iequals(request["Expect"], "100-continue")) {
      stream.expires_after(settings.timeouts.request_body);
      http::response<http::empty_body> proceed{http::status::continue_, 11};
      co_await http::async_write(stream, proceed, kTuple);
    }
    if (!parser.is_done()) {
      stream.expires_after(settings.timeouts.request_body);
      // Usually the body came with the head: parsed in place, no read.
      ParsedRead body;
      if (std::optional<ParsedRead> buffered = ParseBuffered(buffer, parser, ReadUntil::kMessage)) {
        body = *buffered;
      } else {
        body = co_await ReadParsed(stream, buffer, parser, ReadUntil::kMessage);
      }
      const beast::error_code body_ec = body.first;
      if (body_ec == http::error::body_limit) {
        error = TooLarge(max_body_bytes);
        co_await SendError(stream, error, false, kNoHeaders);
        break;
      }
      if (body_ec) break;
      keep_alive = keep_alive && request.keep_alive();  // a chunked body's trailer may close
    }
    stream.expires_never();
    // An answer may stream for minutes: the read buffer is not held meanwhile unless it holds
    // the start of a pipelined request (4 KiB of each open stream's ~30 KB).
    if (buffer.size() == 0) buffer.shrink_to_fit();

    bool sent = true;
    switch (route) {
      case Route::kCompletions: {
        std::string& body = request.body();
        body.reserve(body.size() + kJsonPadding);  // simdjson reads past the end
        co_await HandleCompletion(worker, stream, request, body, keep_alive, authentication);
        break;
      }
      case Route::kModels:
        response_body = ModelList(*state, authentication.principal.get());
        sent = co_await SendResponse(stream, http::status::ok, "application/json", response_body,
                                     keep_alive, kNoHeaders);
        break;
      case Route::kHealth:
        response_body = R"({"status":"ok"})";
        sent = co_await SendResponse(stream, http::status::ok, "application/json", response_body,
                                     keep_alive, kNoHeaders);
        break;
      case Route::kReady:
        response_body = worker.lifecycle->ReadinessJson();
        sent = co_await SendResponse(
            stream, worker.ready() ? http::status::ok : http::status::service_unavailable,
            "application/json", response_body, keep_alive, kNoHeaders);
        break;
      case Route::kMethodNotAllowed:
        error = {405, StrCat("Method ", request.method_string(), " is not allowed on ", path, "."),
                 "", "", ""};
        sent = co_await SendError(stream, error, keep_alive, kNoHeaders);
        break;
      case Route::kNotFound:
        error = {404, StrCat("No such path: ", path), "", "", ""};
        sent = co_await SendError(stream, error, keep_alive, kNoHeaders);
        break;
    }
    registration.SetBusy(false);
    // A request that began before the drain still closes its connection once answered.
    if (!sent || !keep_alive || worker.draining()) break;
  }
  stream.socket().shutdown(Socket::shutdown_send, ignored);
  stream.socket().close(ignored);
}

}  // namespace pdgate::router
