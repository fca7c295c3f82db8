// The Kubernetes API server's JSON as the list/watch client receives it: a list body, then the
// same bytes as a watch stream cut into lines. Properties: nothing crashes; every object kept is
// JSON that names its kind.
#include <cstdint>
#include <string>
#include <string_view>

#include "discovery/kube_objects.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace pdgate::discovery;
  if (size < 1) return 0;
  const auto resource = static_cast<KubeResource>(data[0] % 3);
  std::string_view body(reinterpret_cast<const char*>(data) + 1, size - 1);
  absl::StatusOr<KubeList> list = ParseKubeList(resource, body);
  if (list.ok()) {
    for (const KubeObject& object : list->items) {
      FUZZ_CHECK(object.json.find(KindOf(resource)) != std::string::npos);
    }
  }
  (void)StatusCodeOf(body);
  LineSplitter lines;
  for (size_t at = 0; at < body.size(); at += 7) lines.Append(body.substr(at, 7));
  std::string line;
  while (lines.Next(line)) {
    absl::StatusOr<WatchEvent> event = ParseWatchEvent(resource, line);
    if (event.ok() &&
        (event->type == WatchEventType::kAdded || event->type == WatchEventType::kModified)) {
      FUZZ_CHECK(event->object.json.find(KindOf(resource)) != std::string::npos);
    }
  }
  return 0;
}
