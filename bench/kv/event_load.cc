// Case `events`: 64 simulated engines publish vLLM KV events over real ZMQ (loopback, one
// address per engine, as pods) to one discovery::KvEventSubscriber, which applies them to the
// KvBlockIndex on its own thread, while 2 reader threads (io threads' stand-ins) call
// KvBlockIndex::Match in a tight loop. The index is pdgate's (maxIndexedBlocks 1M, 64 reader
// slots), warm as in the precise-pick case. Three windows of `duration` each:
//   1. readers alone (no stream): their Match latency without a writer;
//   2. the stream with the readers idle: what the subscriber costs by itself;
//   3. the stream with the readers busy: their Match latency next to the writer, and whether
//      the subscriber keeps up when it must share the two cores.
// CPU per thread comes from /proc/self/task/<tid>/schedstat (another thread's getrusage is not
// reachable); the subscriber's threads are the ones that appear when it starts. The simulated
// engines run in this process too (on a real cluster they are elsewhere): their threads are
// listed apart.
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <memory>
#include <thread>

#include "bench/kv/engine_publishers.h"
#include "bench/kv/kv_bench.h"
#include "discovery/kv_event_subscriber.h"

namespace pdgate::kvbench {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr int kReaders = 2;
constexpr double kBlocksPerSecond = 10000;

struct Reader {
  std::thread thread;
  LatencyHistogram latency[2];  // stream off, on
  uint64_t calls[2] = {0, 0};
  // Context switches while recording: voluntary ones are waits for the writer's lock (nothing
  // else in the loop blocks), involuntary ones are preemptions by other threads.
  long waits[2] = {0, 0};
  long preempted[2] = {0, 0};
};

rusage ThreadUsage() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return usage;
}

enum Phase : int { kUnrecorded = -1, kStreamOff = 0, kStreamOn = 1, kStop = 2, kPaused = 3 };

void ReadLoop(int id, const discovery::KvBlockIndex& index,
              const std::vector<std::vector<uint64_t>>& keys, const std::atomic<int>& phase,
              Reader& reader) {
  const std::string name = "kv-reader-" + std::to_string(id);
  pthread_setname_np(pthread_self(), name.c_str());
  std::mt19937_64 rng(uint64_t(100 + id));
  std::vector<discovery::KvBlockMatch> held;
  int last = kUnrecorded;
  for (int p = phase.load(std::memory_order_relaxed);; p = phase.load(std::memory_order_relaxed)) {
    if (p != last) {
      const rusage usage = ThreadUsage();
      for (int q : {last, p}) {
        if (q != kStreamOff && q != kStreamOn) continue;
        const long sign = q == last ? 1 : -1;  // the end's count minus the start's
        reader.waits[q] += sign * usage.ru_nvcsw;
        reader.preempted[q] += sign * usage.ru_nivcsw;
      }
      last = p;
    }
    if (p == kStop) break;
    if (p == kPaused) {
      std::this_thread::sleep_for(milliseconds(1));
      continue;
    }
    const std::vector<uint64_t>& request = keys[rng() % keys.size()];
    const auto start = Clock::now();
    index.Match(size_t(id), request, held);
    const auto end = Clock::now();
    if (p == kUnrecorded) continue;
    reader.latency[p].Add(uint64_t(std::chrono::nanoseconds(end - start).count()));
    ++reader.calls[p];
  }
}

// One thread's CPU at the start of the stream, after its first window, and at its end.
struct ThreadCpu {
  int tid = 0;
  std::string role;
  std::string name;
  double at[3] = {0, 0, 0};
};

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

}  // namespace

void RunEvents(const Options& options) {
  const milliseconds duration = options.quick ? milliseconds(2000) : milliseconds(10000);
  auto cluster = MakeCluster();
  const config::SchedulerSettings& settings = cluster->scheduler();
  auto index = std::make_shared<discovery::KvBlockIndex>(
      size_t(settings.kv_cache_aware.max_indexed_blocks), kReaderSlots);
  const PromptPool pool = MakePromptPool(512);
  WarmIndex(*cluster, pool, 40, *index);
  std::vector<std::vector<uint64_t>> keys;
  for (const auto& tokens : pool.tokens) {
    keys.push_back(discovery::KvBlockKeys("", tokens, kBlockSize,
                                          size_t(settings.kv_cache_aware.max_blocks_to_match)));
  }

  std::atomic<int> phase{kUnrecorded};
  std::vector<std::unique_ptr<Reader>> readers;
  for (int r = 0; r < kReaders; ++r) {
    readers.push_back(std::make_unique<Reader>());
    Reader& reader = *readers.back();
    reader.thread = std::thread([&, r] { ReadLoop(r, *index, keys, phase, reader); });
  }
  auto stop_readers = [&] {
    phase = kStop;
    for (auto& reader : readers) reader->thread.join();
  };

  // Readers alone.
  std::this_thread::sleep_for(milliseconds(300));
  phase = kStreamOff;
  const auto off_start = Clock::now();
  std::this_thread::sleep_for(duration);
  phase = kPaused;
  const double off_seconds = Seconds(Clock::now() - off_start);

  // The engines, then the subscriber.
  EngineLoadSettings load;
  for (const discovery::Endpoint& endpoint : cluster->server().endpoints) {
    load.addresses.push_back(endpoint.address);
  }
  load.port = kEventsPort;
  load.blocks_per_second = kBlocksPerSecond;
  EnginePublishers engines(load);
  std::string error;
  if (!engines.Start(error)) {
    std::printf("\nevents: %s\n", error.c_str());
    stop_readers();
    return;
  }
  std::map<int, std::string> existing;
  for (const TaskInfo& task : ListTasks()) existing[task.tid] = task.name;
  discovery::KvEventSubscriber subscriber([&] {
    return discovery::KvEventTargets{cluster->snapshot, index};
  });
  subscriber.Start();
  const discovery::KvSubscriberCounters& counters = subscriber.counters();
  if (!engines.WaitSubscribed(milliseconds(20000)) ||
      counters.sources.load() != uint64_t(kEndpoints)) {
    std::printf("\nevents: the engines saw no subscription from the subscriber in 20 s\n");
    stop_readers();
    return;
  }

  // Who is who: readers and the engines' thread by name, the subscriber's by arrival.
  std::vector<ThreadCpu> threads;
  for (const TaskInfo& task : ListTasks()) {
    std::string role;
    if (task.tid == int(getpid())) continue;
    if (task.name.starts_with("kv-reader")) {
      role = "reader (io thread stand-in)";
    } else if (task.name == "kv-engines") {
      role = "engines: publishing (not pdgate)";
    } else if (existing.count(task.tid) != 0) {
      role = "engines: ZMQ background (not pdgate)";
    } else if (task.name.starts_with("ZMQbg")) {
      role = "subscriber's ZMQ background";
    } else {
      role = "**KvEventSubscriber thread**";
    }
    threads.push_back({task.tid, role, task.name, {}});
  }
  discovery::KvIndexStats stats[3];
  uint64_t batches[3] = {0, 0, 0};
  double process[3] = {0, 0, 0};
  Clock::time_point at[3];
  auto sample = [&](int i) {
    at[i] = Clock::now();
    for (ThreadCpu& t : threads) t.at[i] = ThreadCpuSeconds(t.tid);
    stats[i] = index->stats();
    batches[i] = counters.batches.load();
    process[i] = ProcessCpuSeconds();
  };

  // The stream for twice `duration`: first with the readers idle, then with them busy.
  sample(0);
  std::future<PublishReport> publishing =
      std::async(std::launch::async, [&] { return engines.Publish(2 * duration); });
  std::this_thread::sleep_until(at[0] + duration);
  sample(1);
  phase = kStreamOn;
  const PublishReport published = publishing.get();
  phase = kPaused;
  const double on_seconds = Seconds(Clock::now() - at[1]);
  // The subscriber may still be applying the last batches.
  const auto published_at = Clock::now();
  while (index->stats().stored - stats[0].stored < published.stored &&
         Clock::now() - published_at < std::chrono::seconds(5)) {
    std::this_thread::sleep_for(milliseconds(2));
  }
  const double drain_ms = Seconds(Clock::now() - published_at) * 1000;
  sample(2);
  stop_readers();
  subscriber.Stop();

  const uint64_t applied = stats[2].stored - stats[0].stored;
  std::printf("\n#### events: %d engines → one KvEventSubscriber, %.0f blocks/s, %.0f s\n\n",
              kEndpoints, kBlocksPerSecond, 2 * Seconds(duration));
  std::printf(
      "| batches published | blocks stored | blocks removed | batches applied | blocks "
      "applied | lost blocks | gaps | decode errors | orphaned | last batch applied "
      "(ms after its publish) |\n|---|---|---|---|---|---|---|---|---|---|\n");
  std::printf("| %llu | %llu | %llu | %llu | %llu | %lld | %llu | %llu | %llu | %.0f |\n",
              static_cast<unsigned long long>(published.batches),
              static_cast<unsigned long long>(published.stored),
              static_cast<unsigned long long>(published.removed),
              static_cast<unsigned long long>(batches[2] - batches[0]),
              static_cast<unsigned long long>(applied),
              static_cast<long long>(published.stored) - static_cast<long long>(applied),
              static_cast<unsigned long long>(counters.gaps.load()),
              static_cast<unsigned long long>(counters.decode_errors.load()),
              static_cast<unsigned long long>(stats[2].orphaned - stats[0].orphaned), drain_ms);

  const double window[2] = {Seconds(at[1] - at[0]), Seconds(at[2] - at[1])};
  std::printf(
      "\nCPU per thread, first window (%.1f s, %d readers idle) and second (%.1f s, "
      "readers calling Match in a loop, until the last batch was applied):\n\n"
      "| thread | idle readers: CPU s | share of a core | busy readers: CPU s | share of "
      "a core |\n|---|---|---|---|---|\n",
      window[0], kReaders, window[1]);
  std::sort(threads.begin(), threads.end(),
            [](const ThreadCpu& a, const ThreadCpu& b) { return a.role < b.role; });
  auto cpu_row = [&](const std::string& name, const double* cpu) {
    std::printf("| %s |", name.c_str());
    for (int w = 0; w < 2; ++w) {
      const double used = cpu[w + 1] - cpu[w];
      std::printf(" %.3f | %.1f %% |", used, 100 * used / window[w]);
    }
    std::printf("\n");
  };
  for (const ThreadCpu& t : threads) cpu_row(t.role + ": " + t.name, t.at);
  cpu_row("whole process", process);
  for (const ThreadCpu& t : threads) {
    if (t.role != "**KvEventSubscriber thread**") continue;
    std::printf(
        "\nSubscriber thread per applied batch: %.1f µs (readers idle), %.1f µs "
        "(readers busy); applied %.0f and %.0f blocks/s.\n",
        1e6 * (t.at[1] - t.at[0]) / double(batches[1] - batches[0]),
        1e6 * (t.at[2] - t.at[1]) / double(batches[2] - batches[1]),
        double(stats[1].stored - stats[0].stored) / window[0],
        double(stats[2].stored - stats[1].stored) / window[1]);
  }

  std::printf(
      "\nReaders' `KvBlockIndex::Match` (128 keys, warm index of %zu entries):\n\n"
      "| event stream | Match calls/s per reader | mean ns | p50 ns | p99 ns | p99.9 ns | "
      "lock waits/s per reader | preemptions/s per reader |\n"
      "|---|---|---|---|---|---|---|---|\n",
      stats[0].entries);
  for (int p = kStreamOff; p <= kStreamOn; ++p) {
    LatencyHistogram all;
    uint64_t calls = 0;
    long waits = 0, preempted = 0;
    for (const auto& reader : readers) {
      all.Merge(reader->latency[p]);
      calls += reader->calls[p];
      waits += reader->waits[p];
      preempted += reader->preempted[p];
    }
    const double per_reader = kReaders * (p == kStreamOff ? off_seconds : on_seconds);
    std::printf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f |\n",
                p == kStreamOff ? "off" : "on", double(calls) / per_reader, all.mean(),
                all.Quantile(0.5), all.Quantile(0.99), all.Quantile(0.999),
                double(waits) / per_reader, double(preempted) / per_reader);
  }
  std::printf("\n(Percentiles over both readers. Sends the engines' sockets refused: %llu.)\n",
              static_cast<unsigned long long>(published.send_failures));
}

}  // namespace pdgate::kvbench
