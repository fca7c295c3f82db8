#include "tests/engine_sim/sim_harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <simdjson.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/net.h"
#include "tests/support/paths.h"

namespace pdgate::sim::testing {

using pdgate::testing::BinaryPath;
using pdgate::testing::ChildProcess;
using pdgate::testing::FreePort;
using pdgate::testing::HttpRequest;
using pdgate::testing::LoopbackAddress;
using pdgate::testing::WaitForHttpStatus;
using pdgate::testing::WaitForPort;

namespace {

Sim StartSimAt(const std::string& host, uint16_t port, uint16_t side_port,
               const std::vector<std::string>& args, bool wait_ready) {
  const bool sglang = std::find(args.begin(), args.end(), "sglang") != args.end();
  std::vector<std::string> argv = {
      BinaryPath("pdgate-engine-sim"), "--host", host, "--port", std::to_string(port), "--quiet"};
  argv.push_back(sglang ? "--bootstrap-port" : "--kv-port");
  argv.push_back(std::to_string(side_port));
  argv.insert(argv.end(), args.begin(), args.end());
  auto process = ChildProcess::Start(argv);
  if (!process.ok()) throw std::runtime_error("cannot start pdgate-engine-sim");
  Sim sim{std::move(*process), host, port, side_port};
  const bool up = wait_ready
                      ? WaitForHttpStatus(host, port, "/health", 200, std::chrono::seconds(10))
                      : WaitForPort(host, port, std::chrono::seconds(10));
  if (!up) {
    throw std::runtime_error("pdgate-engine-sim did not come up: " + sim.process.Stderr());
  }
  return sim;
}

}  // namespace

Sim StartSim(int address_index, const std::vector<std::string>& args, bool wait_ready) {
  const std::string host = LoopbackAddress(address_index);
  const uint16_t port = FreePort(host);
  uint16_t side_port = FreePort(host);
  while (side_port == port) side_port = FreePort(host);
  return StartSimAt(host, port, side_port, args, wait_ready);
}

Sim StartSimOn(int address_index, uint16_t port, uint16_t side_port,
               const std::vector<std::string>& args) {
  return StartSimAt(LoopbackAddress(address_index), port, side_port, args, true);
}

std::pair<int, std::string> Sim::Post(const std::string& target, const std::string& body) const {
  auto response = HttpRequest(host, port, "POST", target, body,
                              {{"Content-Type", "application/json"}}, std::chrono::seconds(30));
  if (!response.ok()) return {0, std::string(response.status().message())};
  return {response->status, response->body};
}

std::pair<int, std::string> Sim::Get(const std::string& target) const {
  auto response = HttpRequest(host, port, "GET", target);
  if (!response.ok()) return {0, std::string(response.status().message())};
  return {response->status, response->body};
}

double Sim::Stat(const std::string& pointer) const {
  auto [status, body] = Get("/admin/stats");
  if (status != 200) return -1;
  return JsonNumber(body, pointer).value_or(-1);
}

bool Sim::WaitForStat(const std::string& pointer, double value,
                      std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (Stat(pointer) == value) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

namespace {

std::optional<simdjson::dom::element> At(simdjson::dom::parser& parser, const std::string& json,
                                         const std::string& pointer) {
  simdjson::dom::element root;
  if (parser.parse(json).get(root)) return std::nullopt;
  simdjson::dom::element value;
  if (root.at_pointer(pointer).get(value)) return std::nullopt;
  return value;
}

void Paths(simdjson::dom::element element, const std::string& prefix, std::set<std::string>& out) {
  simdjson::dom::object object;
  simdjson::dom::array array;
  if (!element.get_object().get(object)) {
    for (auto field : object) {
      std::string path =
          prefix.empty() ? std::string(field.key) : prefix + "." + std::string(field.key);
      out.insert(path);
      Paths(field.value, path, out);
    }
  } else if (!element.get_array().get(array)) {
    for (simdjson::dom::element value : array) Paths(value, prefix + "[]", out);
  }
}

}  // namespace

std::optional<double> JsonNumber(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  auto value = At(parser, json, pointer);
  if (!value) return std::nullopt;
  double number = 0;
  if (!value->get_double().get(number)) return number;
  bool flag = false;
  if (!value->get_bool().get(flag)) return flag ? 1.0 : 0.0;
  return std::nullopt;
}

std::optional<std::string> JsonString(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  auto value = At(parser, json, pointer);
  std::string_view text;
  if (!value || value->get_string().get(text)) return std::nullopt;
  return std::string(text);
}

std::optional<std::string> JsonValue(const std::string& json, const std::string& pointer) {
  simdjson::dom::parser parser;
  auto value = At(parser, json, pointer);
  if (!value) return std::nullopt;
  return simdjson::minify(*value);
}

std::vector<std::string> JsonPaths(const std::string& json) {
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  std::set<std::string> out;
  if (!parser.parse(json).get(root)) Paths(root, "", out);
  return {out.begin(), out.end()};
}

RawClient::RawClient(const std::string& host, uint16_t port) : host_(host) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  inet_pton(AF_INET, host.c_str(), &address.sin_addr);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) Close();
}

RawClient::~RawClient() { Close(); }

void RawClient::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void RawClient::SendPost(const std::string& target, const std::string& body) {
  SendRaw("POST " + target + " HTTP/1.1\r\nHost: " + host_ +
          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
          "\r\n\r\n" + body);
}

bool RawClient::SendRaw(const std::string& bytes) {
  size_t sent = 0;
  while (fd_ >= 0 && sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return fd_ >= 0;
}

bool RawClient::ReadUntil(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.find(needle) == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || fd_ < 0) return false;
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char buffer[16384];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    if (n <= 0) return received_.find(needle) != std::string::npos;
    received_.append(buffer, static_cast<size_t>(n));
  }
  return true;
}

void RawClient::ReadToEnd(std::chrono::milliseconds timeout) {
  ReadUntil(std::string("\0never\0", 7), timeout);
}

std::vector<std::string> SseEvents(const std::string& body, bool* framing_ok) {
  std::vector<std::string> events;
  bool ok = true;
  size_t pos = 0;
  while (pos < body.size()) {
    if (body.compare(pos, 6, "data: ") != 0) {
      ok = false;
      break;
    }
    const size_t end = body.find("\n\n", pos);
    if (end == std::string::npos) {
      ok = false;
      break;
    }
    events.push_back(body.substr(pos + 6, end - pos - 6));
    pos = end + 2;
  }
  if (framing_ok) *framing_ok = ok;
  return events;
}

}  // namespace pdgate::sim::testing
