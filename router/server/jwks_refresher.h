#pragma once
// Keeps the JWT key set current: fetches `jwksUri` (http or https, system CAs or a CA file) on a
// control thread of its own, at start and then every refresh interval, and once more when a
// request meets an unknown `kid` (an identity provider rotating its keys), at most once per
// minimum interval. A failed fetch or an unusable document keeps the last good set (never fail
// open, never fall back to none); until the first good set, JWT requests are refused and /readyz
// waits. Kthena's router fetches three times at start and then every 7 days, so a key rollover
// breaks validation until its next refresh.
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace pdgate::auth {
class KeySet;
}  // namespace pdgate::auth

namespace pdgate::router {

struct JwksOptions {
  std::string uri;
  std::string ca_file;  // PEM; empty: the system's CAs
  std::chrono::milliseconds interval = std::chrono::hours(1);
  std::chrono::milliseconds min_interval = std::chrono::seconds(30);
  std::chrono::seconds timeout = std::chrono::seconds(10);
};

struct JwksCallbacks {
  // A set that differs from the last one published (on the refresher's thread).
  std::function<void(std::shared_ptr<const auth::KeySet>)> publish;
  // Every fetch: ok or not, the number of keys, the error's text.
  std::function<void(bool ok, size_t keys, const std::string& error)> fetched;
};

class JwksRefresher {
 public:
  JwksRefresher(JwksOptions options, JwksCallbacks callbacks);
  ~JwksRefresher();  // stops and joins
  JwksRefresher(const JwksRefresher&) = delete;
  JwksRefresher& operator=(const JwksRefresher&) = delete;

  void Start();
  // A token named a kid the set lacks: fetch again unless the last fetch is too recent.
  // Thread-safe.
  void RequestRefresh();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pdgate::router
