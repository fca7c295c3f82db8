#include "discovery/kube_objects.h"

#include <simdjson.h>

#include "base/strings.h"

namespace pdgate::discovery {
namespace {

namespace dom = simdjson::dom;

constexpr std::string_view kKthenaApiVersion = "networking.serving.volcano.sh/v1alpha1";

std::string StringAt(dom::object object, std::string_view key) {
  std::string_view value;
  if (object[key].get_string().get(value) != simdjson::SUCCESS) return {};
  return std::string(value);
}

// `"key":<value as it came>` for each listed key present in `from`.
void CopyFields(std::string& out, bool& first, dom::object from,
                std::initializer_list<std::string_view> keys) {
  for (std::string_view key : keys) {
    dom::element value;
    if (from[key].get(value) != simdjson::SUCCESS) continue;
    if (!first) out.push_back(',');
    first = false;
    AppendJsonString(out, key);
    out.push_back(':');
    out += simdjson::minify(value);
  }
}

// kubectl's copy of the whole applied object: large and of no use to routing.
constexpr std::string_view kLastApplied = "kubectl.kubernetes.io/last-applied-configuration";

void AppendMetadata(std::string& out, dom::object metadata) {
  out += "\"metadata\":{";
  bool first = true;
  CopyFields(
      out, first, metadata,
      {"name", "namespace", "labels", "creationTimestamp", "resourceVersion", "deletionTimestamp"});
  dom::object annotations;
  if (metadata["annotations"].get_object().get(annotations) == simdjson::SUCCESS) {
    if (!first) out.push_back(',');
    first = false;
    out += "\"annotations\":{";
    bool first_annotation = true;
    for (dom::key_value_pair field : annotations) {
      if (field.key == kLastApplied) continue;
      if (!first_annotation) out.push_back(',');
      first_annotation = false;
      AppendJsonString(out, field.key);
      out.push_back(':');
      out += simdjson::minify(field.value);
    }
    out.push_back('}');
  }
  out.push_back('}');
}

absl::StatusOr<KubeObject> ReadObject(KubeResource resource, dom::element element) {
  dom::object object;
  if (element.get_object().get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("object is not a JSON object");
  }
  dom::object metadata;
  if (object["metadata"].get_object().get(metadata) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("object has no metadata");
  }
  KubeObject result;
  result.name = StringAt(metadata, "name");
  result.namespace_ = StringAt(metadata, "namespace");
  if (result.namespace_.empty()) result.namespace_ = "default";
  result.resource_version = StringAt(metadata, "resourceVersion");
  result.creation_timestamp = StringAt(metadata, "creationTimestamp");

  std::string& out = result.json;
  out.reserve(512);
  out += "{\"apiVersion\":";
  AppendJsonString(out, resource == KubeResource::kPods ? "v1" : kKthenaApiVersion);
  out += ",\"kind\":";
  AppendJsonString(out, KindOf(resource));
  out.push_back(',');
  AppendMetadata(out, metadata);
  if (resource == KubeResource::kPods) {
    // Only what decides whether the pod serves; the rest of status is written by the kubelet.
    dom::object status;
    if (object["status"].get_object().get(status) == simdjson::SUCCESS) {
      out += ",\"status\":{";
      bool first = true;
      CopyFields(out, first, status, {"phase", "podIP", "conditions"});
      out.push_back('}');
    }
  } else {
    bool first = false;
    CopyFields(out, first, object, {"spec"});
  }
  out.push_back('}');
  return result;
}

}  // namespace

std::string_view ResourceName(KubeResource resource) {
  switch (resource) {
    case KubeResource::kPods:
      return "pods";
    case KubeResource::kModelServers:
      return "modelservers";
    case KubeResource::kModelRoutes:
      return "modelroutes";
  }
  return "";
}

std::string_view KindOf(KubeResource resource) {
  switch (resource) {
    case KubeResource::kPods:
      return "Pod";
    case KubeResource::kModelServers:
      return "ModelServer";
    case KubeResource::kModelRoutes:
      return "ModelRoute";
  }
  return "";
}

std::string_view WatchEventTypeName(WatchEventType type) {
  switch (type) {
    case WatchEventType::kAdded:
      return "ADDED";
    case WatchEventType::kModified:
      return "MODIFIED";
    case WatchEventType::kDeleted:
      return "DELETED";
    case WatchEventType::kBookmark:
      return "BOOKMARK";
    case WatchEventType::kError:
      return "ERROR";
  }
  return "";
}

absl::StatusOr<KubeList> ParseKubeList(KubeResource resource, std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (auto error = parser.parse(body.data(), body.size()).get(root); error) {
    return absl::InvalidArgumentError(
        StrCat("list: invalid JSON: ", simdjson::error_message(error)));
  }
  dom::object list;
  if (root.get_object().get(list) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("list: not a JSON object");
  }
  KubeList result;
  dom::object metadata;
  if (list["metadata"].get_object().get(metadata) == simdjson::SUCCESS) {
    result.resource_version = StringAt(metadata, "resourceVersion");
    result.continue_token = StringAt(metadata, "continue");
  }
  if (result.resource_version.empty()) {
    return absl::InvalidArgumentError("list: no metadata.resourceVersion");
  }
  dom::array items;
  if (list["items"].get_array().get(items) != simdjson::SUCCESS) {
    // The API server writes `"items": null` for an empty list of some types.
    return result;
  }
  for (dom::element item : items) {
    absl::StatusOr<KubeObject> object = ReadObject(resource, item);
    if (!object.ok()) return object.status();
    result.items.push_back(std::move(*object));
  }
  return result;
}

absl::StatusOr<WatchEvent> ParseWatchEvent(KubeResource resource, std::string_view line) {
  dom::parser parser;
  dom::element root;
  if (auto error = parser.parse(line.data(), line.size()).get(root); error) {
    return absl::InvalidArgumentError(
        StrCat("watch event: invalid JSON: ", simdjson::error_message(error)));
  }
  dom::object event;
  std::string_view type;
  dom::element object;
  if (root.get_object().get(event) != simdjson::SUCCESS ||
      event["type"].get_string().get(type) != simdjson::SUCCESS ||
      event["object"].get(object) != simdjson::SUCCESS) {
    return absl::InvalidArgumentError("watch event: needs \"type\" and \"object\"");
  }
  WatchEvent result;
  if (type == "ERROR") {
    result.type = WatchEventType::kError;
    dom::object status;
    if (object.get_object().get(status) == simdjson::SUCCESS) {
      int64_t code = 0;
      if (status["code"].get_int64().get(code) == simdjson::SUCCESS) result.error_code = int(code);
      result.error_message = StringAt(status, "message");
      if (result.error_message.empty()) result.error_message = StringAt(status, "reason");
    }
    return result;
  }
  if (type == "BOOKMARK") {
    // A bookmark's object holds only metadata.resourceVersion: not a full object.
    result.type = WatchEventType::kBookmark;
    std::string_view version;
    if (object["metadata"]["resourceVersion"].get_string().get(version) != simdjson::SUCCESS) {
      return absl::InvalidArgumentError("watch event: BOOKMARK without a resourceVersion");
    }
    result.object.resource_version = std::string(version);
    return result;
  }
  if (type == "ADDED") {
    result.type = WatchEventType::kAdded;
  } else if (type == "MODIFIED") {
    result.type = WatchEventType::kModified;
  } else if (type == "DELETED") {
    result.type = WatchEventType::kDeleted;
  } else {
    return absl::InvalidArgumentError(StrCat("watch event: unknown type \"", type, "\""));
  }
  absl::StatusOr<KubeObject> parsed = ReadObject(resource, object);
  if (!parsed.ok()) return parsed.status();
  if (parsed->name.empty()) return absl::InvalidArgumentError("watch event: object has no name");
  result.object = std::move(*parsed);
  return result;
}

int StatusCodeOf(std::string_view body) {
  dom::parser parser;
  dom::element root;
  if (parser.parse(body.data(), body.size()).get(root) != simdjson::SUCCESS) return 0;
  std::string_view kind;
  int64_t code = 0;
  if (root["kind"].get_string().get(kind) != simdjson::SUCCESS || kind != "Status") return 0;
  if (root["code"].get_int64().get(code) != simdjson::SUCCESS) return 0;
  return int(code);
}

bool LineSplitter::Next(std::string& line) {
  while (true) {
    const size_t end = buffer_.find('\n', start_);
    if (end == std::string::npos) {
      // Compact once everything before start_ is consumed, so the buffer does not grow forever.
      buffer_.erase(0, start_);
      start_ = 0;
      return false;
    }
    line.assign(buffer_, start_, end - start_);
    start_ = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (!line.empty()) return true;
  }
}

}  // namespace pdgate::discovery
