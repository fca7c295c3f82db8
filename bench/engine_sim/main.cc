// pdgate-engine-sim: placeholder until the simulator lands (a vLLM/SGLang engine simulator
// faithful to the PD wire protocols). It exists so scripts can find it, and says what it is.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  const bool help = argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0);
  std::fputs(
      "pdgate-engine-sim: a vLLM / SGLang engine simulator for prefill/decode tests.\n"
      "Not implemented yet: this build only has the placeholder.\n",
      help ? stdout : stderr);
  return help ? 0 : 2;
}
