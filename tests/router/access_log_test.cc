// Access log lines: JSON escaping and unknown fields, the text format's fields.
#include "router/observe/access_log.h"

#include <simdjson.h>

#include <catch2/catch.hpp>
#include <limits>
#include <string>
#include <vector>

using namespace pdgate::router;

namespace {

AccessRecord Record() {
  AccessRecord r;
  r.request_id = "id-1";
  r.method = "POST";
  r.path = "/v1/chat/completions";
  r.model = "deepseek-ai/DeepSeekV2";
  r.route = {"dev", "route"};
  r.server = {"dev", "pd"};
  r.prefill = "dev/pod-0";
  r.decode = "dev/pod-1";
  r.decision = "disaggregated";
  r.status = 200;
  r.upstream_statuses = "prefill:200,decode:200";
  r.attempts = 1;
  r.input_tokens = 12;
  r.output_tokens = 7;
  r.prefill_ms = 1.5;
  r.decode_ms = 20.25;
  r.total_ms = 22;
  return r;
}

}  // namespace

TEST_CASE("a JSON line escapes what the client sent and leaves unknown numbers out") {
  AccessRecord r = Record();
  r.model = "evil\"\\\n\x01model";
  r.request_id = "a\tb";
  const std::string line = FormatJson(r);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);  // one line, whatever the model name holds
  CHECK(line.find(R"("model":"evil\"\\\n\u0001model")") != std::string::npos);
  CHECK(line.find(R"("request_id":"a\tb")") != std::string::npos);
  CHECK(line.find("ttft_ms") == std::string::npos);  // unknown: absent, not -1
  // It parses, with the values as they were.
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(line).get(doc));
  std::string_view model;
  REQUIRE_FALSE(doc["model"].get(model));
  CHECK(model == r.model);
  CHECK(int64_t(doc["input_tokens"]) == 12);
  CHECK(int64_t(doc["output_tokens"]) == 7);
  CHECK(double(doc["decode_ms"]) == 20.25);
}

TEST_CASE("a text line has the request, the endpoints and the attempts on one line") {
  AccessRecord r = Record();
  const std::string line = FormatText(r);
  CHECK(line ==
        "POST /v1/chat/completions 200 model=deepseek-ai/DeepSeekV2 server=dev/pd "
        "prefill=dev/pod-0 decode=dev/pod-1 decision=disaggregated attempts=1 "
        "upstream=prefill:200,decode:200 error_origin=- input_tokens=12 output_tokens=7 "
        "total_ms=22 id=id-1\n");
  AccessRecord unknown = Record();
  unknown.prefill.clear();
  unknown.input_tokens = -1;
  unknown.output_tokens = -1;
  unknown.model = "bad\nmodel\x7f";
  const std::string other = FormatText(unknown);
  CHECK(other.find(" prefill=- ") != std::string::npos);
  CHECK(other.find(" input_tokens=- output_tokens=- ") != std::string::npos);
  // A client's control characters cannot forge a second line.
  CHECK(other.find('\n') == other.size() - 1);
  CHECK(other.find("model=bad\\x0amodel\\x7f ") != std::string::npos);
}

TEST_CASE("a JSON line has milliseconds with 3 decimals and leaves out what is no JSON number") {
  AccessRecord r = Record();
  r.ttft_ms = 0.0004;
  r.prefill_ms = 12.3456;
  r.decode_ms = std::numeric_limits<double>::quiet_NaN();
  r.total_ms = std::numeric_limits<double>::infinity();
  r.queue_ms = 2e13;  // beyond the integer path: still a number
  const std::string line = FormatJson(r);
  CHECK(line.find(R"("ttft_ms":0.000)") != std::string::npos);
  CHECK(line.find(R"("prefill_ms":12.346)") != std::string::npos);
  CHECK(line.find("decode_ms") == std::string::npos);
  CHECK(line.find("total_ms") == std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(line).get(doc));
  CHECK(double(doc["queue_ms"]) == Approx(2e13));
}

TEST_CASE("a JSON line of values that are all escapes fits and appends to what is buffered") {
  AccessRecord r = Record();
  r.model = std::string(5000, '\x01');  // each byte 6 on the line: the longest a value can grow
  r.path = std::string(300, '"');
  std::string buffered = "earlier line\n";
  AppendJson(r, buffered);
  AppendJson(Record(), buffered);
  REQUIRE(buffered.starts_with("earlier line\n{"));
  const size_t second = buffered.find('\n', 13);
  REQUIRE(second != std::string::npos);
  simdjson::dom::parser parser;
  simdjson::dom::element doc;
  REQUIRE_FALSE(parser.parse(buffered.substr(13, second + 1 - 13)).get(doc));
  std::string_view model;
  REQUIRE_FALSE(doc["model"].get(model));
  CHECK(model == r.model);
  REQUIRE_FALSE(parser.parse(buffered.substr(second + 1)).get(doc));
  CHECK(int64_t(doc["status"]) == 200);
  CHECK(buffered.back() == '\n');
}

TEST_CASE("lines written into a buffer's room escape what they must wherever it is in a value") {
  // Values are copied whole, then checked 32 bytes at a time, reading past their end into the
  // buffer's room: what lies there (here quotes and control bytes) must change nothing.
  std::string buffer(64, '"');
  buffer.append(4000, '\x01');
  size_t used = 0;
  std::vector<std::string> models;
  for (size_t size : {0, 1, 31, 32, 33, 64, 65, 100}) {
    for (size_t at : {size_t{0}, size / 2, size - 1, size}) {  // `size`: no byte to escape
      if (size == 0 && at != size) continue;
      std::string model(size, 'm');
      if (at < size) model[at] = (at % 2 == 0) ? '"' : '\n';
      models.push_back(model);
    }
  }
  for (const std::string& model : models) {
    AccessRecord r = Record();
    r.model = model;
    used = WriteJson(r, buffer, used);
    REQUIRE(used <= buffer.size());
  }
  const std::string lines = buffer.substr(0, used);
  simdjson::dom::parser parser;
  size_t begin = 0;
  for (const std::string& model : models) {
    const size_t end = lines.find('\n', begin);
    REQUIRE(end != std::string::npos);
    simdjson::dom::element doc;
    REQUIRE_FALSE(parser.parse(lines.substr(begin, end + 1 - begin)).get(doc));
    std::string_view written;
    REQUIRE_FALSE(doc["model"].get(written));
    CHECK(written == model);
    CHECK(std::string_view(doc["request_id"]) == "id-1");
    begin = end + 1;
  }
  CHECK(begin == lines.size());
}

TEST_CASE("a record cleared for the next request reads as a fresh one and keeps its buffers") {
  AccessRecord record = Record();
  record.request_id = std::string(100, 'r');
  record.auth = "jwt";
  record.user = "alice";
  record.tenant = "team-a";
  record.auth_error = "expired";
  record.error_origin = "decode";
  record.queue_ms = 3.5;
  const size_t id_capacity = record.request_id.capacity();
  ClearKeepingCapacity(record);
  CHECK(FormatJson(record) == FormatJson(AccessRecord{}));
  CHECK(FormatText(record) == FormatText(AccessRecord{}));
  CHECK(record.request_id.empty());
  CHECK(record.request_id.capacity() == id_capacity);
}
