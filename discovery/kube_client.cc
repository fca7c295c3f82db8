#include "discovery/kube_client.h"

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <algorithm>
#include <vector>

#include "base/strings.h"
#include "discovery/kube_objects.h"

namespace pdgate::discovery {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

constexpr uint64_t kMaxBody = uint64_t(1) << 30;
constexpr uint32_t kMaxHeader = 64 * 1024;
constexpr auto kConnectTimeout = std::chrono::seconds(10);

absl::Status Transport(std::string_view what, const beast::error_code& ec) {
  return absl::UnavailableError(StrCat(what, ": ", ec.message()));
}

// Sends the request and reads the answer: whole, or (a 200 to a watch) line by line.
template <class Stream>
net::awaitable<absl::StatusOr<KubeResponse>> Exchange(
    Stream& stream, beast::tcp_stream& transport, http::request<http::empty_body>& request,
    std::chrono::milliseconds timeout, const std::function<bool(std::string_view)>* on_line,
    uint64_t max_body) {
  // A GET runs under the one deadline Run set before connecting; a watch's is per read.
  if (on_line != nullptr) transport.expires_after(timeout);
  auto [write_ec, written] = co_await http::async_write(stream, request, kKubeTuple);
  if (write_ec) co_return Transport("send", write_ec);
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(max_body);
  parser.header_limit(kMaxHeader);
  auto [header_ec, header_bytes] =
      co_await http::async_read_header(stream, buffer, parser, kKubeTuple);
  if (header_ec) co_return Transport("response header", header_ec);
  KubeResponse response;
  response.status = static_cast<int>(parser.get().result_int());
  const bool relay = on_line != nullptr && response.status == 200;
  std::vector<char> chunk(64 * 1024);
  LineSplitter lines;
  std::string line;
  while (!parser.is_done()) {
    // A watch may be quiet for long: the timeout is per read there, for the whole answer else.
    if (relay) transport.expires_after(timeout);
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    auto [read_ec, read] = co_await http::async_read_some(stream, buffer, parser, kKubeTuple);
    beast::error_code ec = read_ec;
    if (ec == http::error::need_buffer) ec = {};
    const size_t got = chunk.size() - parser.get().body().size;
    if (relay) {
      lines.Append(std::string_view(chunk.data(), got));
      while (lines.Next(line)) {
        if (!(*on_line)(line)) co_return response;
      }
    } else {
      response.body.append(chunk.data(), got);
    }
    if (ec) co_return Transport(relay ? "watch stream" : "response body", ec);
  }
  co_return response;
}

}  // namespace

struct KubeClient::Request {
  const std::string& target;
  std::chrono::milliseconds timeout;
  const std::function<bool(std::string_view)>* on_line;  // null: read the whole body
  CancelSlot& cancel;
  uint64_t max_body = kMaxBody;
  std::string_view accept = "application/json";
};

KubeClient::KubeClient(net::io_context& context, config::KubeEndpoint endpoint)
    : context_(context), endpoint_(std::move(endpoint)) {
  if (!endpoint_.tls) return;
  tls_ = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
  beast::error_code ec;
  if (!endpoint_.ca_pem.empty()) {
    tls_->add_certificate_authority(net::buffer(endpoint_.ca_pem), ec);
  } else {
    tls_->set_default_verify_paths(ec);
  }
  if (ec) setup_ = absl::InvalidArgumentError(StrCat("CA certificates: ", ec.message()));
  tls_->set_verify_mode(endpoint_.insecure_skip_tls_verify ? net::ssl::verify_none
                                                           : net::ssl::verify_peer);
  if (!endpoint_.client_cert_pem.empty()) {
    tls_->use_certificate_chain(net::buffer(endpoint_.client_cert_pem), ec);
    if (!ec) {
      tls_->use_private_key(net::buffer(endpoint_.client_key_pem), net::ssl::context::pem, ec);
    }
    if (ec) setup_ = absl::InvalidArgumentError(StrCat("client certificate: ", ec.message()));
  }
}

KubeClient::~KubeClient() = default;

net::awaitable<absl::StatusOr<KubeResponse>> KubeClient::Get(const std::string& target,
                                                             std::chrono::milliseconds timeout,
                                                             CancelSlot& cancel,
                                                             uint64_t max_body,
                                                             std::string_view accept) {
  Request request{target, timeout, nullptr, cancel, std::min(max_body, kMaxBody), accept};
  co_return co_await Run(request);
}

net::awaitable<absl::StatusOr<KubeResponse>> KubeClient::Stream(
    const std::string& target, std::chrono::milliseconds idle,
    const std::function<bool(std::string_view line)>& on_line, CancelSlot& cancel) {
  Request request{target, idle, &on_line, cancel};
  co_return co_await Run(request);
}

net::awaitable<absl::StatusOr<KubeResponse>> KubeClient::Run(Request& r) {
  if (!setup_.ok()) co_return setup_;
  if (r.cancel.cancelled) co_return absl::CancelledError("cancelled");
  tcp::resolver resolver(context_);
  const std::string port = std::to_string(endpoint_.port);
  // An address needs no lookup (getaddrinfo runs on Asio's resolver thread): engines' pod IPs.
  auto flags = tcp::resolver::flags();
  beast::error_code not_numeric;
  net::ip::make_address(endpoint_.host, not_numeric);
  if (!not_numeric) flags = tcp::resolver::numeric_host | tcp::resolver::numeric_service;
  auto [resolve_ec, results] =
      co_await resolver.async_resolve(endpoint_.host, port, flags, kKubeTuple);
  if (resolve_ec) co_return Transport(StrCat("resolve ", endpoint_.host), resolve_ec);
  beast::tcp_stream connection(context_);
  r.cancel.close = [&connection] {
    beast::error_code ignored;
    connection.socket().shutdown(tcp::socket::shutdown_both, ignored);
    connection.socket().close(ignored);
  };
  // A GET gets one deadline for everything (connect, TLS, the answer); a watch bounds its
  // connection and handshake here, then each read by its idle time.
  const bool whole = r.on_line == nullptr;
  const auto connect_timeout = std::min<std::chrono::milliseconds>(kConnectTimeout, r.timeout);
  connection.expires_after(whole ? std::chrono::milliseconds(r.timeout) : connect_timeout);
  auto [connect_ec, connected] = co_await connection.async_connect(results, kKubeTuple);
  absl::StatusOr<KubeResponse> result;
  if (r.cancel.cancelled) {
    result = absl::CancelledError("cancelled");
  } else if (connect_ec) {
    result = Transport(StrCat("connect ", endpoint_.host, ":", port), connect_ec);
  } else {
    http::request<http::empty_body> request{http::verb::get, r.target, 11};
    request.set(http::field::host, endpoint_.host);
    request.set(http::field::user_agent, "pdgate");
    request.set(http::field::accept, r.accept);
    if (std::string token = endpoint_.CurrentToken(); !token.empty()) {
      request.set(http::field::authorization, StrCat("Bearer ", token));
    }
    if (!endpoint_.tls) {
      result = co_await Exchange(connection, connection, request, r.timeout, r.on_line, r.max_body);
    } else {
      net::ssl::stream<beast::tcp_stream&> stream(connection, *tls_);
      beast::error_code not_ip;
      const net::ip::address address = net::ip::make_address(endpoint_.host, not_ip);
      if (not_ip || address.is_unspecified()) {
        // SNI for names only (RFC 6066); SSL_set_tlsext_host_name is a macro with a C cast.
        SSL_ctrl(stream.native_handle(), SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                 const_cast<char*>(endpoint_.host.c_str()));
      }
      if (!endpoint_.insecure_skip_tls_verify) {
        stream.set_verify_callback(net::ssl::host_name_verification(endpoint_.host));
      }
      if (!whole) connection.expires_after(connect_timeout);
      auto [handshake_ec] =
          co_await stream.async_handshake(net::ssl::stream_base::client, kKubeTuple);
      if (handshake_ec) {
        result = Transport("TLS handshake", handshake_ec);
      } else {
        result = co_await Exchange(stream, connection, request, r.timeout, r.on_line, r.max_body);
      }
    }
  }
  r.cancel.close = nullptr;
  beast::error_code ignored;
  connection.socket().shutdown(tcp::socket::shutdown_both, ignored);
  connection.socket().close(ignored);
  if (r.cancel.cancelled && result.ok()) result = absl::CancelledError("cancelled");
  co_return result;
}

}  // namespace pdgate::discovery
