#include "config/object_parsers.h"

namespace pdgate::config {

std::optional<ObjectMeta> ParseObjectMeta(MapReader& doc, std::string_view kind) {
  MapReader reader(doc.Child("metadata"), doc.PathOf("metadata"), doc.scope());
  ObjectMeta meta;
  std::optional<std::string> name = reader.String("name");
  std::optional<std::string> namespace_ = reader.String("namespace");
  if (namespace_ && !namespace_->empty()) meta.namespace_ = *namespace_;
  if (name) meta.name = *name;
  doc.scope().SetObject(kind, meta.Key());
  if (!name || name->empty()) {
    doc.scope().Error(reader.PathOf("name"), "required");
    return std::nullopt;
  }
  if (auto labels = reader.LabelMap("labels", 0)) meta.labels = std::move(*labels);
  // Annotation values are free text; only the keys follow label-key syntax.
  YAML::Node annotations = reader.Child("annotations");
  if (annotations.IsMap()) {
    for (auto it = annotations.begin(); it != annotations.end(); ++it) {
      meta.annotations[it->first.Scalar()] = it->second.IsScalar() ? it->second.Scalar() : "";
    }
  }
  if (auto created = reader.String("creationTimestamp")) meta.creation_timestamp = *created;
  if (auto version = reader.String("resourceVersion")) meta.resource_version = *version;
  meta.terminating = reader.Has("deletionTimestamp");
  reader.Ignore({"deletionTimestamp", "uid", "generation", "generateName", "managedFields",
                 "ownerReferences", "finalizers", "selfLink", "deletionGracePeriodSeconds"});
  reader.Finish();
  return meta;
}

}  // namespace pdgate::config
