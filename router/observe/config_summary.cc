#include "router/observe/config_summary.h"

#include <absl/time/time.h>

#include "base/strings.h"

namespace pdgate::router {
namespace {

std::string Plural(size_t n, std::string_view noun) {
  return StrCat(n, " ", noun, n == 1 ? "" : "s");
}

void DescribeServer(const discovery::ServerEndpoints& entry, std::string& out) {
  const config::ModelServer& server = *entry.server;
  StrAppend(out, "ModelServer ", server.meta.Key(), ": engine ", ToString(server.engine),
            ", model ", server.model.value_or("(as requested)"), ", port ", server.port);
  if (server.disaggregated()) {
    StrAppend(out, ", PD by label ", server.pd_group->group_key, ", kvConnector ",
              ToString(server.kv_connector));
  } else {
    StrAppend(out, ", aggregated");
  }
  StrAppend(out, ", timeout ",
            server.timeout ? FormatDuration(*server.timeout) : "(router default)", ", retries ",
            server.retry.attempts, "\n");
  auto describe = [&](uint32_t index) {
    const discovery::Endpoint& endpoint = entry.endpoints[index];
    return StrCat(endpoint.pod, " ", endpoint.HostPort());
  };
  if (server.disaggregated()) {
    for (const discovery::PdGroup& group : entry.groups) {
      StrAppend(out, "  PD group ", group.name, ": ", Plural(group.prefill.size(), "prefill"), ", ",
                Plural(group.decode.size(), "decode"), group.CanServe() ? "" : " (cannot serve PD)",
                "\n");
      for (uint32_t i : group.prefill) StrAppend(out, "    prefill ", describe(i), "\n");
      for (uint32_t i : group.decode) StrAppend(out, "    decode  ", describe(i), "\n");
    }
    if (entry.groups.empty()) StrAppend(out, "  no PD groups: no serving pods\n");
  } else {
    for (uint32_t i = 0; i < entry.endpoints.size(); ++i) {
      StrAppend(out, "  endpoint ", describe(i), "\n");
    }
    if (entry.endpoints.empty()) StrAppend(out, "  no endpoints: no serving pods\n");
  }
  for (const auto& [pod, reason] : entry.excluded) {
    StrAppend(out, "  not serving: ", pod->meta.Key(), " (", reason, ")\n");
  }
}

// What is checked, never a key: API keys by id and count only.
void DescribeAuth(const config::AuthSettings& auth, std::string& out) {
  if (!auth.enabled()) {
    StrAppend(out, "Auth: off (every /v1/* request is served)\n");
    return;
  }
  StrAppend(out, "Auth: on for /v1/*\n");
  if (auth.jwt_enabled()) {
    StrAppend(out, "  JWT: issuer ", auth.issuer.empty() ? "(any)" : auth.issuer, ", audiences ",
              auth.audiences.empty() ? "(any)" : StrJoin(auth.audiences, ", "), ", JWKS ",
              auth.jwks_uri, auth.jwks_ca_file.empty() ? "" : StrCat(" (CA ", auth.jwks_ca_file, ")"),
              " every ", FormatDuration(auth.jwks_refresh_interval), ", leeway ",
              FormatDuration(auth.leeway), ", tenant claim ", auth.tenant_claim,
              auth.models_claim.empty() ? "" : StrCat(", models claim ", auth.models_claim), "\n");
  }
  if (auth.api_keys_enabled()) {
    std::vector<std::string> ids;
    for (const config::ApiKeySetting& key : auth.api_keys) ids.push_back(key.id);
    StrAppend(out, "  API keys: ", Plural(auth.api_keys.size(), "key"),
              auth.api_keys_file.empty() ? "" : StrCat(" (file ", auth.api_keys_file, ")"),
              ids.empty() ? "" : StrCat(": ", StrJoin(ids, ", ")), "\n");
  }
  StrAppend(out, "  client credentials go to engines: ",
            auth.forward_credential ? "yes" : "no (unless a ModelServer says forward)", "\n");
}

void DescribeLimits(const config::Config& config, std::string& out) {
  std::vector<std::string> lines;
  for (const config::ModelRoute& route : config.model_routes) {
    if (!route.rate_limit) continue;
    const config::RateLimit& limit = *route.rate_limit;
    std::vector<std::string> parts;
    if (limit.input_tokens_per_unit) parts.push_back(StrCat(*limit.input_tokens_per_unit, " input"));
    if (limit.output_tokens_per_unit) {
      parts.push_back(StrCat(*limit.output_tokens_per_unit, " output"));
    }
    lines.push_back(StrCat("  route ", route.meta.Key(), ": ", StrJoin(parts, ", "),
                           " tokens per ", config::ToString(limit.unit),
                           limit.global_redis_address
                               ? StrCat(", global in Redis ", *limit.global_redis_address)
                               : std::string(", per replica")));
  }
  for (const config::PrincipalLimitSetting& limit : config.settings.rate_limits) {
    std::vector<std::string> parts;
    if (limit.requests_per_unit) parts.push_back(StrCat(*limit.requests_per_unit, " requests"));
    if (limit.input_tokens_per_unit) {
      parts.push_back(StrCat(*limit.input_tokens_per_unit, " input tokens"));
    }
    if (limit.output_tokens_per_unit) {
      parts.push_back(StrCat(*limit.output_tokens_per_unit, " output tokens"));
    }
    const std::string_view key = limit.key == config::LimitKey::kUser     ? "user"
                                 : limit.key == config::LimitKey::kTenant ? "tenant"
                                                                          : "API key";
    lines.push_back(StrCat("  limit ", limit.name, ": ", StrJoin(parts, ", "), " per ",
                           config::ToString(limit.unit), " for each ", key,
                           limit.models.empty() ? "" : StrCat(", models ", StrJoin(limit.models, ", ")),
                           limit.redis_address
                               ? StrCat(", global in Redis ", *limit.redis_address)
                               : std::string(", per replica")));
  }
  if (lines.empty()) return;
  StrAppend(out, "Rate limits:\n", StrJoin(lines, "\n"), "\n");
}

void DescribeFairness(const config::FairnessSettings& f, std::string& out) {
  if (!f.enabled) return;
  const std::string slots =
      f.max_concurrent > 0
          ? StrCat(f.max_concurrent, " running per model")
          : StrCat(f.max_concurrent_per_endpoint, " running per serving endpoint of a model");
  const std::string_view key = f.key == config::LimitKey::kUser     ? "user"
                               : f.key == config::LimitKey::kTenant ? "tenant"
                                                                    : "API key";
  const std::string share =
      f.max_share < 1 ? StrCat(" (at most ", f.max_share * 100, "% for one principal)") : "";
  StrAppend(out, "Fairness: ", slots, share, ", then queued (at most ", f.max_queued, ", for ",
            f.queue_timeout.count() / 1000.0, " s); classes ", StrJoin(f.priority_classes, " > "),
            " (default ", f.default_priority_class, "); least recent usage per ", key, " over ",
            std::chrono::duration_cast<std::chrono::seconds>(f.window).count(),
            " s (input ×", f.input_token_weight, ", output ×", f.output_token_weight, ")\n");
}

void DescribeRoute(const config::ModelRoute& route, std::string& out) {
  StrAppend(out, "ModelRoute ", route.meta.Key(), ": model ",
            route.model_name.empty() ? "(none)" : route.model_name);
  if (!route.lora_adapters.empty()) {
    StrAppend(out, ", LoRA ", StrJoin(route.lora_adapters, ", "));
  }
  StrAppend(out, "\n");
  for (size_t i = 0; i < route.rules.size(); ++i) {
    const config::RouteRule& rule = route.rules[i];
    StrAppend(out, "  rule ", i, rule.name.empty() ? "" : StrCat(" \"", rule.name, "\""),
              rule.match ? ": when matched" : ": all requests", " → ");
    std::vector<std::string> targets;
    for (const config::TargetModel& target : rule.targets) {
      targets.push_back(StrCat(target.model_server_name, " (weight ", target.weight, ")"));
    }
    StrAppend(out, StrJoin(targets, ", "), "\n");
  }
}

}  // namespace

std::string FormatDuration(std::chrono::nanoseconds duration) {
  return absl::FormatDuration(absl::FromChrono(duration));
}

std::string DescribeConfig(const discovery::EndpointSnapshot& snapshot) {
  const config::Config& config = *snapshot.config;
  size_t endpoints = 0, groups = 0;
  for (const auto& entry : snapshot.servers) {
    endpoints += entry.endpoints.size();
    groups += entry.groups.size();
  }
  std::string out = StrCat(
      Plural(config.model_servers.size(), "ModelServer"), ", ",
      Plural(config.model_routes.size(), "ModelRoute"), ", ", Plural(config.pods.size(), "Pod"),
      ", ", Plural(endpoints, "serving endpoint"), ", ", Plural(groups, "PD group"), "\n");
  for (const auto& entry : snapshot.servers) DescribeServer(entry, out);
  for (const auto& route : config.model_routes) DescribeRoute(route, out);
  const config::RouterSettings& settings = config.settings;
  StrAppend(out, "Router: listen ", settings.listen.address, ":", settings.listen.port, ", admin ",
            settings.listen.admin_address, ":", settings.listen.admin_port, ", threads ",
            settings.threads == 0 ? "one per core" : StrCat(settings.threads), ", settings from ",
            settings.source.empty() ? "defaults" : settings.source, "\n");
  DescribeAuth(settings.auth, out);
  DescribeLimits(config, out);
  DescribeFairness(config.settings.fairness, out);
  if (const config::SharedStateSettings& shared = config.settings.shared_state; shared.enabled()) {
    StrAppend(out, "Shared state: in-flight counts exchanged with the other replicas through Redis ",
              shared.redis_host, ":", shared.redis_port, " every ", shared.sync_interval.count(),
              " ms\n");
  }
  return out;
}

}  // namespace pdgate::router
