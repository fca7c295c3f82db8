#pragma once
// What kind of build the tests run in. Latency bounds that the issues set (e.g. "reflected in
// routing within 1 s") are asserted as they are in the optimized suite; the ASan+UBSan suite
// (-O0, every memory access checked, often sharing the machine with the other suite) checks the
// same behaviour with its deadlines stretched by kDeadlineScale.
namespace pdgate::testing {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kSanitizedBuild = true;
inline constexpr int kDeadlineScale = 4;
#else
inline constexpr bool kSanitizedBuild = false;
inline constexpr int kDeadlineScale = 1;
#endif

}  // namespace pdgate::testing
