#include "discovery/kube_client.h"

#include <openssl/ssl.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/basic_parser.hpp>

#include "base/strings.h"
#include "discovery/kube_objects.h"
#include "discovery/parsed_read_loop.h"

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

// Beast's tokenizer (limits, chunked coding) with the body kept as bytes for the caller to take:
// a list's body whole, a watch's a read's worth at a time. Read with ReadParsedLoop and written
// as bytes rather than through Beast's composed operations, which instantiated for the plain and
// the TLS stream were most of this file's 22 s of compile time.
class KubeResponseParser final : public http::basic_parser<false> {
 public:
  int status() const { return status_; }
  std::string& body() { return body_; }

 private:
  using string_view = beast::string_view;
  using error_code = beast::error_code;
  void on_request_impl(http::verb, string_view, string_view, int, error_code&) override {}
  void on_response_impl(int code, string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(http::field, string_view, string_view, error_code&) override {}
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<uint64_t>&, error_code&) override {}
  size_t on_body_impl(string_view body, error_code&) override {
    body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(uint64_t, string_view, error_code&) override {}
  size_t on_chunk_body_impl(uint64_t, string_view body, error_code& ec) override {
    return on_body_impl(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  int status_ = 0;
  std::string body_;
};

// RFC 9110's Host: the authority as in the URL, so a port only when it is not the scheme's own
// and an IPv6 address in brackets (a virtual-hosting proxy in front of a JWKS URI routes by it).
std::string HostField(const config::KubeEndpoint& endpoint) {
  std::string host = endpoint.host.find(':') == std::string::npos ? endpoint.host
                                                                  : StrCat("[", endpoint.host, "]");
  if (endpoint.port != (endpoint.tls ? 443 : 80)) StrAppend(host, ":", endpoint.port);
  return host;
}

std::string RequestHead(const std::string& target, const config::KubeEndpoint& endpoint,
                        std::string_view accept, const std::string& token) {
  std::string head = StrCat("GET ", target, " HTTP/1.1\r\nHost: ", HostField(endpoint),
                            "\r\nUser-Agent: pdgate\r\nAccept: ", accept, "\r\n");
  if (!token.empty()) StrAppend(head, "Authorization: Bearer ", token, "\r\n");
  head += "\r\n";
  return head;
}

// Sends the request and reads the answer: whole, or (a 200 to a watch) line by line.
template <class Stream>
net::awaitable<absl::StatusOr<KubeResponse>> Exchange(
    Stream& stream, beast::tcp_stream& transport, const std::string& head,
    std::chrono::milliseconds timeout, const std::function<bool(std::string_view)>* on_line,
    uint64_t max_body) {
  // A GET runs under the one deadline Run set before connecting; a watch's is per read.
  if (on_line != nullptr) transport.expires_after(timeout);
  auto [write_ec, written] = co_await net::async_write(stream, net::buffer(head), kKubeTuple);
  if (write_ec) co_return Transport("send", write_ec);
  beast::flat_buffer buffer;
  KubeResponseParser parser;
  parser.body_limit(max_body);
  parser.header_limit(kMaxHeader);
  KubeResponse response;
  bool relay = false;
  LineSplitter lines;
  std::string line;
  while (!parser.is_done()) {
    // A watch may be quiet for long: the timeout is per read there, for the whole answer else.
    if (relay) transport.expires_after(timeout);
    const ReadUntil until = parser.is_header_done() ? ReadUntil::kSome : ReadUntil::kHeader;
    auto [ec, used] = co_await ReadParsedLoop<net::any_io_executor>(stream, buffer, parser, until);
    if (response.status == 0 && parser.is_header_done()) {
      response.status = parser.status();
      relay = on_line != nullptr && response.status == 200;
    }
    if (relay) {
      lines.Append(parser.body());
      parser.body().clear();
      while (lines.Next(line)) {
        if (!(*on_line)(line)) co_return response;
      }
    }
    if (ec) {
      co_return Transport(!parser.is_header_done() ? "response header"
                          : relay                  ? "watch stream"
                                                   : "response body",
                          ec);
    }
  }
  if (!relay) response.body = std::move(parser.body());
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
                                                             CancelSlot& cancel, uint64_t max_body,
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
    const std::string request =
        RequestHead(r.target, endpoint_, r.accept, endpoint_.CurrentToken());
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
