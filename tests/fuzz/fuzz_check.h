#pragma once
// A property a fuzz target asserts: on failure, print it and abort, so libFuzzer saves the input
// and the replay test fails. (assert() would vanish under NDEBUG.)
#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                          \
  do {                                                                                 \
    if (!(condition)) {                                                                \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK(%s) failed\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)
