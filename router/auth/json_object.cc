#include "router/auth/json_object.h"

#include <algorithm>
#include <vector>

namespace pdgate::auth::internal {

bool HasDuplicateMember(simdjson::dom::object object) {
  std::vector<std::string_view> names;
  names.reserve(object.size());
  for (auto field : object) names.push_back(field.key);
  std::sort(names.begin(), names.end());
  return std::adjacent_find(names.begin(), names.end()) != names.end();
}

StringMember GetString(simdjson::dom::object object, std::string_view name) {
  StringMember member;
  simdjson::dom::element element;
  if (object.at_key(name).get(element) != simdjson::SUCCESS) return member;
  member.present = true;
  member.is_string = element.get_string().get(member.value) == simdjson::SUCCESS;
  return member;
}

}  // namespace pdgate::auth::internal
