#include "router/observe/build_info.h"

#include <simdjson.h>

namespace pdgate::router {

std::string_view Version() { return PDGATE_VERSION; }

std::string_view SimdjsonKernel() {
#define PDGATE_STRINGIFY_INNER(x) #x
#define PDGATE_STRINGIFY(x) PDGATE_STRINGIFY_INNER(x)
  return PDGATE_STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION);
#undef PDGATE_STRINGIFY
#undef PDGATE_STRINGIFY_INNER
}

}  // namespace pdgate::router
