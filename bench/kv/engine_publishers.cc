#include "bench/kv/engine_publishers.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <array>
#include <cmath>
#include <deque>
#include <optional>
#include <zmq.hpp>
#include <zmq_addon.hpp>

#include "bench/engine_sim/kv_event_encoding.h"

namespace pdgate::kvbench {
namespace {

using Clock = std::chrono::steady_clock;

struct Engine {
  zmq::socket_t socket;
  uint64_t seq = 0;
  uint64_t next_hash = 0;  // engine hashes, unique per engine
  uint64_t chain = 0;
  size_t chain_pos = 0;  // blocks of the current chain stored
  uint64_t last_hash = 0;
  std::deque<uint64_t> cached;  // oldest first
  bool subscribed = false;
};

uint32_t Token(uint64_t engine, uint64_t chain, uint64_t position) {
  uint64_t x = (engine << 48) ^ (chain << 20) ^ position;
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return uint32_t(100 + x % 100000);
}

double ThreadCpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

}  // namespace

EnginePublishers::EnginePublishers(EngineLoadSettings settings) : settings_(std::move(settings)) {}

EnginePublishers::~EnginePublishers() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

bool EnginePublishers::Start(std::string& error) {
  std::promise<std::string> bound;
  std::future<std::string> result = bound.get_future();
  go_future_ = go_.get_future();
  done_future_ = done_.get_future();
  thread_ = std::thread([this, &bound] { Run(bound); });
  error = result.get();
  return error.empty();
}

bool EnginePublishers::WaitSubscribed(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (subscribed_.load() < settings_.addresses.size()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

PublishReport EnginePublishers::Publish(std::chrono::milliseconds duration) {
  go_.set_value(duration);
  return done_future_.get();
}

void EnginePublishers::Run(std::promise<std::string>& bound) {
  pthread_setname_np(pthread_self(), "kv-engines");
  tid_ = int(gettid());
  zmq::context_t context(1);
  std::vector<Engine> engines(settings_.addresses.size());
  try {
    for (size_t e = 0; e < engines.size(); ++e) {
      engines[e].socket = zmq::socket_t(context, zmq::socket_type::xpub);
      engines[e].socket.set(zmq::sockopt::linger, 0);
      engines[e].socket.bind("tcp://" + settings_.addresses[e] + ":" +
                             std::to_string(settings_.port));
      engines[e].next_hash = uint64_t{e + 1} << 40;
    }
  } catch (const zmq::error_t& error) {
    bound.set_value(std::string("cannot bind the engines' sockets on port ") +
                    std::to_string(settings_.port) + ": " + error.what());
    return;
  }
  bound.set_value("");

  // Subscriptions: an XPUB reads each as a message whose first byte is 1.
  std::vector<zmq::pollitem_t> items;
  items.reserve(engines.size());
  for (Engine& engine : engines) {
    items.push_back({static_cast<void*>(engine.socket), 0, ZMQ_POLLIN, 0});
  }
  while (!stop_) {
    if (go_future_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) break;
    zmq::poll(items, std::chrono::milliseconds(10));
    for (size_t e = 0; e < engines.size(); ++e) {
      if ((items[e].revents & ZMQ_POLLIN) == 0) continue;
      zmq::message_t message;
      while (engines[e].socket.recv(message, zmq::recv_flags::dontwait)) {
        if (message.size() > 0 && *static_cast<const uint8_t*>(message.data()) == 1 &&
            !engines[e].subscribed) {
          engines[e].subscribed = true;
          ++subscribed_;
        }
      }
    }
  }
  if (stop_) return;
  const std::chrono::milliseconds duration = go_future_.get();

  PublishReport report;
  const double step_seconds = std::chrono::duration<double>(settings_.step).count();
  const double per_step = settings_.blocks_per_second / double(engines.size()) * step_seconds;
  const sim::KvBatchFormat format{sim::KvEventEncoding::kMap, 16, 0};
  const auto start = Clock::now();
  const double cpu_start = ThreadCpuSeconds();
  std::vector<sim::KvCacheEvent> events;
  std::string topic;
  const std::chrono::nanoseconds step = settings_.step;
  const auto count = int64_t(engines.size());
  for (int64_t k = 0; step * k < duration && !stop_; ++k) {
    const auto n =
        uint64_t(std::floor(double(k + 1) * per_step) - std::floor(double(k) * per_step));
    for (size_t e = 0; e < engines.size(); ++e) {
      std::this_thread::sleep_until(start + step * k + step * int64_t(e) / count);
      Engine& engine = engines[e];
      events.clear();
      sim::KvCacheEvent* stored = nullptr;
      for (uint64_t b = 0; b < n; ++b) {
        if (engine.chain_pos == settings_.chain_blocks) {
          ++engine.chain;
          engine.chain_pos = 0;
          stored = nullptr;
        }
        if (stored == nullptr) {
          stored = &events.emplace_back();
          stored->type = sim::KvCacheEvent::Type::kBlockStored;
          if (engine.chain_pos > 0) stored->parent_block_hash = engine.last_hash;
        }
        const uint64_t hash = engine.next_hash++;
        stored->block_hashes.push_back(hash);
        for (uint64_t t = 0; t < 16; ++t) {
          stored->token_ids.push_back(Token(e, engine.chain, engine.chain_pos * 16 + t));
        }
        engine.last_hash = hash;
        ++engine.chain_pos;
        engine.cached.push_back(hash);
      }
      report.stored += n;
      if (engine.cached.size() > settings_.cache_blocks) {
        sim::KvCacheEvent& removed = events.emplace_back();
        removed.type = sim::KvCacheEvent::Type::kBlockRemoved;
        while (engine.cached.size() > settings_.cache_blocks) {
          removed.block_hashes.push_back(engine.cached.front());
          engine.cached.pop_front();
        }
        report.removed += removed.block_hashes.size();
      }
      const double ts =
          std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
              .count();
      const std::string payload = sim::EncodeKvEventBatch(ts, events, format);
      std::array<uint8_t, 8> seq{};
      for (int i = 0; i < 8; ++i) seq[size_t(i)] = uint8_t(engine.seq >> (56 - 8 * i));
      ++engine.seq;
      const std::array<zmq::const_buffer, 3> frames{zmq::buffer(topic), zmq::buffer(seq),
                                                    zmq::buffer(payload)};
      if (!zmq::send_multipart(engine.socket, frames, zmq::send_flags::dontwait)) {
        ++report.send_failures;
      }
      ++report.batches;
    }
  }
  report.cpu_seconds = ThreadCpuSeconds() - cpu_start;
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  done_.set_value(report);
  // Stay (with the ZMQ context's threads) until stopped, so their CPU can still be read.
  while (!stop_) std::this_thread::sleep_for(std::chrono::milliseconds(10));
}

}  // namespace pdgate::kvbench
