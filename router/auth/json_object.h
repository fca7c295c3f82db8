#pragma once
// Helpers over simdjson DOM objects for the JOSE parsers (private to router/auth/).
#include <simdjson.h>

#include <optional>
#include <string_view>

namespace pdgate::auth::internal {

// True when two members of `object` share a name. RFC 7515 §5.2 lets a parser either reject
// duplicates or take the last one; simdjson's at_key takes the first, so a parser that did not
// reject would disagree with most others about what the token says. We reject.
bool HasDuplicateMember(simdjson::dom::object object);

// A member read as a string: `present` is false when the member is absent, `is_string` false
// when it is present with another JSON type.
struct StringMember {
  bool present = false;
  bool is_string = false;
  std::string_view value;
};
StringMember GetString(simdjson::dom::object object, std::string_view name);

}  // namespace pdgate::auth::internal
