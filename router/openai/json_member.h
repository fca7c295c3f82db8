#pragma once
// Finds the object value of a top-level member of a JSON document where its key is written,
// instead of by walking the whole document: 32 bytes a step to the key, then 64 a step from its
// value on (json_blocks.h) to tell its end and whether it belongs to the root. An answer's `usage`
// and a prefill's `kv_transfer_params` sit near the end of bodies whose generated text a parse
// would otherwise go through.
//
// A key whose opening quote no backslash escapes, followed by a colon, is a key: in JSON text a
// quote inside a string is escaped, and one that closes a string cannot be followed by the key's
// text and a quote. It is a member of the root when the brackets from its value on close the
// object that holds it exactly at the document's last byte (the root's closing brace is a
// document's last byte). For text that is not one JSON document the answer may differ from a
// parser's; callers parse when it is kUnsure.
#include <cstddef>
#include <string_view>

namespace pdgate::router {

enum class MemberAt {
  kNone,    // the key is written nowhere (a key written with escapes does not count)
  kFound,   // [begin, end): the object value of the root's member
  kUnsure,  // written, but not plainly the root's member with an object value (null, an array,
            // only nested members, text that ends inside the object)
};

// `key` with its quotes, e.g. "\"usage\"". `document` is readable 64 bytes past its end.
MemberAt FindTopLevelObject(std::string_view document, std::string_view key, size_t& begin,
                            size_t& end);

}  // namespace pdgate::router
