#include "config/config.h"

namespace pdgate::config {

const ModelServer* Config::FindModelServer(std::string_view namespace_,
                                           std::string_view name) const {
  for (const auto& server : model_servers) {
    if (server.meta.namespace_ == namespace_ && server.meta.name == name) return &server;
  }
  return nullptr;
}

}  // namespace pdgate::config
