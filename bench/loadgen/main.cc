// pdgate-bench: placeholder until the load generator lands (an OpenAI load generator with vLLM's
// benchmark metrics). It exists so scripts can find it, and says what it is.
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  const bool help = argc > 1 && (std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0);
  std::fputs(
      "pdgate-bench: an OpenAI-API load generator (TTFT, TPOT, ITL, throughput).\n"
      "Not implemented yet: this build only has the placeholder.\n",
      help ? stdout : stderr);
  return help ? 0 : 2;
}
