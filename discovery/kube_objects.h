#pragma once
// The Kubernetes API's JSON, as pdgate's list/watch client receives it: list bodies and watch
// events (one JSON object per line). Each object is cut down to the fields the configuration
// loader reads (metadata it knows, a Pod's phase/IP/conditions, a CRD's spec) and given its
// apiVersion and kind (list items of built-in types carry neither). The result is still JSON, and
// JSON is YAML: it goes through config::ConfigLoader exactly as a static file's document does.
// Trimming keeps the per-rebuild YAML parse small (a real Pod is mostly spec and managedFields).
#include <absl/status/statusor.h>

#include <string>
#include <string_view>
#include <vector>

namespace pdgate::discovery {

enum class KubeResource { kPods, kModelServers, kModelRoutes };

std::string_view ResourceName(KubeResource resource);  // "pods", "modelservers", "modelroutes"
std::string_view KindOf(KubeResource resource);        // "Pod", "ModelServer", "ModelRoute"

struct KubeObject {
  std::string name;
  std::string namespace_;
  std::string resource_version;
  std::string creation_timestamp;
  std::string json;  // trimmed, with apiVersion and kind

  std::string Key() const { return namespace_ + "/" + name; }
};

struct KubeList {
  std::string resource_version;  // list metadata: where a watch starts
  std::string continue_token;    // metadata.continue: more pages follow when not empty
  std::vector<KubeObject> items;
};

absl::StatusOr<KubeList> ParseKubeList(KubeResource resource, std::string_view body);

enum class WatchEventType { kAdded, kModified, kDeleted, kBookmark, kError };
std::string_view WatchEventTypeName(WatchEventType type);  // "ADDED", …

struct WatchEvent {
  WatchEventType type = WatchEventType::kError;
  KubeObject object;  // BOOKMARK: only resource_version
  // ERROR: the Status object's code (410: the resourceVersion is too old) and message.
  int error_code = 0;
  std::string error_message;
};

absl::StatusOr<WatchEvent> ParseWatchEvent(KubeResource resource, std::string_view line);

// The code of a Status body (`{"kind":"Status","code":410,…}`), 0 when it is not one.
int StatusCodeOf(std::string_view body);

// Splits a watch stream into lines; a line may arrive across many reads.
class LineSplitter {
 public:
  void Append(std::string_view data) { buffer_.append(data); }
  // The next complete line without its "\n" (empty lines are skipped); false when none yet.
  bool Next(std::string& line);
  size_t pending() const { return buffer_.size() - start_; }

 private:
  std::string buffer_;
  size_t start_ = 0;
};

}  // namespace pdgate::discovery
