#include "cli/control_commands.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <ostream>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/options.h"
#include "cli/wire.h"
#include "common/strings.h"

namespace kindling::cli {

using nlohmann::json;

namespace {

constexpr std::string_view kWeightsKey = "AdditionalVersionWeights";
constexpr std::string_view kFilePrefix = "file://";
constexpr std::string_view kReservedPath = "/2017-10-31/functions/";  // Put/Delete
constexpr std::string_view kConcurrencyGetPath = "/2019-09-30/functions/";  // Get + provisioned

const HttpClient::Headers& jsonHeaders() {
  static const HttpClient::Headers kHeaders = {{"Content-Type", "application/json"}};
  return kHeaders;
}

std::string_view trimmed(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

std::string dumpCompact(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

Error routingError(std::string_view text, std::string_view why) {
  return Error{ErrorCode::InvalidArgument, 0,
               "'" + std::string(text) + "': " + std::string(why) +
                   " (expected AdditionalVersionWeights={VERSION=WEIGHT,...} or "
                   "'{\"AdditionalVersionWeights\":{\"VERSION\":WEIGHT}}')"};
}

Result<VersionWeights> routingFromJson(std::string_view text) {
  const json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return tl::unexpected(routingError(text, "not a JSON object"));
  }
  VersionWeights weights;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (it.key() != kWeightsKey) {
      return tl::unexpected(routingError(text, "unknown key \"" + it.key() + "\""));
    }
    if (it->is_null()) continue;
    if (!it->is_object()) return tl::unexpected(routingError(text, "weights are not an object"));
    for (auto w = it->begin(); w != it->end(); ++w) {
      if (!w->is_number()) {
        return tl::unexpected(routingError(text, "weight of \"" + w.key() + "\" is not a number"));
      }
      if (w.key().empty()) return tl::unexpected(routingError(text, "empty version"));
      weights[w.key()] = w->get<double>();
    }
  }
  return weights;
}

// AdditionalVersionWeights={2=0.2,3=0.1}; versions may be quoted.
Result<VersionWeights> routingFromShorthand(std::string_view text) {
  std::string_view rest = text;
  if (!startsWith(rest, kWeightsKey)) {
    return tl::unexpected(routingError(text, "expected AdditionalVersionWeights"));
  }
  rest = trimmed(rest.substr(kWeightsKey.size()));
  if (rest.empty() || rest.front() != '=') {
    return tl::unexpected(routingError(text, "expected '='"));
  }
  rest = trimmed(rest.substr(1));
  if (rest.size() < 2 || rest.front() != '{' || rest.back() != '}') {
    return tl::unexpected(routingError(text, "weights must be in braces"));
  }
  rest = trimmed(rest.substr(1, rest.size() - 2));
  VersionWeights weights;
  if (rest.empty()) return weights;
  for (std::string_view entry : split(rest, ',')) {
    const size_t eq = entry.find('=');
    if (eq == std::string_view::npos) {
      return tl::unexpected(routingError(text, "expected VERSION=WEIGHT"));
    }
    std::string_view key = trimmed(entry.substr(0, eq));
    if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') &&
        key.back() == key.front()) {
      key = key.substr(1, key.size() - 2);
    }
    const std::string_view value = trimmed(entry.substr(eq + 1));
    double weight = 0;
    const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), weight);
    if (key.empty()) return tl::unexpected(routingError(text, "empty version"));
    if (value.empty() || ec != std::errc() || ptr != value.data() + value.size() ||
        !std::isfinite(weight)) {
      return tl::unexpected(
          routingError(text, "weight '" + std::string(value) + "' is not a number"));
    }
    weights[std::string(key)] = weight;
  }
  return weights;
}

// --- request targets -------------------------------------------------------------------------

std::string aliasesTarget(std::string_view function) {
  return functionTarget(function) + "/aliases";
}

std::string aliasTarget(std::string_view function, std::string_view alias) {
  return aliasesTarget(function) + "/" + urlEncode(alias);
}

std::string provisionedTarget(std::string_view function, std::string_view query_key,
                              std::string_view query_value) {
  std::string t(kConcurrencyGetPath);
  t += urlEncode(function);
  t += "/provisioned-concurrency?";
  t += query_key;
  t += '=';
  t += urlEncode(query_value);
  return t;
}

// --- output ----------------------------------------------------------------------------------

bool isSuccess(const HttpResponse& res) { return res.result_int() / 100 == 2; }

int reportApiError(const HttpResponse& res, std::ostream& err) {
  err << renderApiError(parseApiError(res)) << "\n";
  return kExitFailure;
}

// Prints a JSON answer pretty (4 spaces, as `aws --output json`); a non-JSON body raw.
void printJson(std::string_view body, std::ostream& out) {
  const json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    out << body << "\n";
    return;
  }
  out << j.dump(4, ' ', false, json::error_handler_t::replace) << "\n";
}

// Sends one request; prints its JSON answer (or the confirmation for an empty 2xx answer).
int exchange(HttpClient& client, HttpVerb verb, std::string_view target, std::string body,
             Console console, std::string_view confirmation = {}) {
  auto res = body.empty() && verb != HttpVerb::put && verb != HttpVerb::post
                 ? client.request(verb, target)
                 : client.request(verb, target, std::move(body), jsonHeaders());
  if (!res) return reportTransportError(client, res.error(), console.err);
  if (!isSuccess(*res)) return reportApiError(*res, console.err);
  if (!confirmation.empty()) {
    console.out << confirmation << "\n";
  } else {
    printJson(res->body(), console.out);
  }
  return kExitOk;
}

std::string weightsText(const json& alias) {
  auto rc = alias.find("RoutingConfig");
  if (rc == alias.end() || !rc->is_object()) return "-";
  auto weights = rc->find(kWeightsKey);
  if (weights == rc->end() || !weights->is_object() || weights->empty()) return "-";
  std::string out;
  for (auto it = weights->begin(); it != weights->end(); ++it) {
    if (!out.empty()) out += ',';
    out += it.key();
    out += '=';
    out += it->dump();
  }
  return out;
}

std::string stringOf(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

// NAME VERSION WEIGHTS DESCRIPTION, column-aligned, trailing blanks trimmed.
std::string aliasTable(const std::vector<std::array<std::string, 4>>& rows) {
  static constexpr std::array<std::string_view, 4> kHeaders = {"NAME", "VERSION",
                                                               "ADDITIONAL WEIGHTS", "DESCRIPTION"};
  std::array<size_t, 4> width{};
  for (size_t c = 0; c < 4; ++c) width[c] = kHeaders[c].size();
  for (const auto& row : rows) {
    for (size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], row[c].size());
  }
  std::string out;
  auto line = [&](auto cell) {
    for (size_t c = 0; c < 4; ++c) {
      const std::string_view v = cell(c);
      out += v;
      if (c + 1 < 4) out.append(width[c] - v.size() + 2, ' ');
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out.push_back('\n');
  };
  line([&](size_t c) { return kHeaders[c]; });
  for (const auto& row : rows) line([&](size_t c) { return std::string_view(row[c]); });
  return out;
}

int runAliasList(HttpClient& client, const ControlOptions& opts, Console console) {
  std::vector<std::array<std::string, 4>> rows;
  std::string marker;
  do {
    std::string target = aliasesTarget(opts.function);
    char sep = '?';
    if (!opts.function_version.empty()) {
      target += "?FunctionVersion=" + urlEncode(opts.function_version);
      sep = '&';
    }
    if (!marker.empty()) target += sep + std::string("Marker=") + urlEncode(marker);
    auto res = client.request(HttpVerb::get, target);
    if (!res) return reportTransportError(client, res.error(), console.err);
    if (!isSuccess(*res)) return reportApiError(*res, console.err);
    const json page = json::parse(res->body(), nullptr, /*allow_exceptions=*/false);
    if (!page.is_object() || !page.contains("Aliases") || !page["Aliases"].is_array()) {
      console.err << "error: ListAliases answer has no Aliases array\n";
      return kExitFailure;
    }
    for (const json& alias : page["Aliases"]) {
      if (!alias.is_object()) continue;
      rows.push_back({stringOf(alias, "Name"), stringOf(alias, "FunctionVersion"),
                      weightsText(alias), stringOf(alias, "Description")});
    }
    std::string next = stringOf(page, "NextMarker");
    if (next == marker) break;  // a server looping on us
    marker = std::move(next);
  } while (!marker.empty());
  console.out << aliasTable(rows);
  return kExitOk;
}

// --- parsing helpers -------------------------------------------------------------------------

// The function: positional or --function-name (same variable).
void addFunctionArgument(CLI::App* sub, ControlOptions& opts) {
  sub->add_option("function", opts.function, "function name or ARN");
  sub->add_option("--function-name", opts.function,
                  "function name or ARN (or give it positionally)");
}

void requireFunction(const ControlOptions& opts) {
  if (opts.function.empty()) {
    throw CLI::RequiredError("function name (positional or --function-name)");
  }
}

}  // namespace

Result<VersionWeights> parseRoutingConfig(std::string_view text) {
  std::string_view t = trimmed(text);
  std::string from_file;
  if (startsWith(t, kFilePrefix)) {
    auto read = readWholeFile(std::string(t.substr(kFilePrefix.size())));
    if (!read) return tl::unexpected(std::move(read.error()).wrap("--routing-config"));
    from_file = std::move(*read);
    t = trimmed(from_file);
  }
  if (t.empty()) return tl::unexpected(routingError(text, "empty"));
  if (t.front() == '{') return routingFromJson(t);
  return routingFromShorthand(t);
}

std::string buildPublishBody(const ControlOptions& opts) {
  json j = json::object();
  if (opts.description) j["Description"] = *opts.description;
  if (!opts.revision_id.empty()) j["RevisionId"] = opts.revision_id;
  if (!opts.code_sha256.empty()) j["CodeSha256"] = opts.code_sha256;
  return dumpCompact(j);
}

std::string buildAliasBody(const ControlOptions& opts, bool creating) {
  json j = json::object();
  if (creating) j["Name"] = opts.alias;
  if (!opts.function_version.empty()) j["FunctionVersion"] = opts.function_version;
  if (opts.description) j["Description"] = *opts.description;
  if (opts.routing) {
    json weights = json::object();
    for (const auto& [version, weight] : *opts.routing) weights[version] = weight;
    j["RoutingConfig"] = {{kWeightsKey, std::move(weights)}};
  }
  if (!creating && !opts.revision_id.empty()) j["RevisionId"] = opts.revision_id;
  return dumpCompact(j);
}

void addControlCommands(CLI::App& app, ControlOptions& opts) {
  // --- publish ---
  CLI::App* publish =
      app.add_subcommand("publish", "publish a version of a function (PublishVersion)");
  addFunctionArgument(publish, opts);
  CLI::Option* publish_description = publish->add_option("--description", "version description");
  publish->add_option("--revision-id", opts.revision_id,
                      "only publish if $LATEST has this RevisionId");
  publish->add_option("--code-sha256", opts.code_sha256,
                      "only publish if $LATEST has this CodeSha256");
  publish->callback([&opts, publish_description] {
    requireFunction(opts);
    if (publish_description->count() > 0) opts.description = publish_description->as<std::string>();
    opts.action = ControlAction::Publish;
  });

  // --- alias ---
  CLI::App* alias = app.add_subcommand("alias", "create, update, get, list and delete aliases");
  alias->require_subcommand(1);
  struct AliasWriteFlags {
    CLI::Option* description;
    CLI::Option* routing;
  };
  // create and update share their flags; `creating` makes --function-version required.
  auto add_write = [&opts](CLI::App* sub, bool creating) {
    addFunctionArgument(sub, opts);
    sub->add_option("--name", opts.alias, "alias name")->required();
    CLI::Option* version = sub->add_option("--function-version", opts.function_version,
                                           "version the alias points to");
    if (creating) version->required();
    AliasWriteFlags flags{
        sub->add_option("--description", "alias description"),
        sub->add_option("--routing-config",
                        "AdditionalVersionWeights={VERSION=WEIGHT} or its JSON form "
                        "(one extra version; {} clears)")};
    if (!creating) sub->add_option("--revision-id", opts.revision_id, "only update this revision");
    sub->callback([&opts, flags, creating] {
      requireFunction(opts);
      if (flags.description->count() > 0) opts.description = flags.description->as<std::string>();
      if (flags.routing->count() > 0) {
        auto weights = parseRoutingConfig(flags.routing->as<std::string>());
        if (!weights) throw CLI::ValidationError("--routing-config", weights.error().message());
        opts.routing = std::move(*weights);
      }
      opts.action = creating ? ControlAction::AliasCreate : ControlAction::AliasUpdate;
    });
  };
  add_write(alias->add_subcommand("create", "create an alias (CreateAlias)"), true);
  add_write(alias->add_subcommand("update", "update an alias (UpdateAlias)"), false);

  CLI::App* alias_get = alias->add_subcommand("get", "show an alias (GetAlias)");
  addFunctionArgument(alias_get, opts);
  alias_get->add_option("--name", opts.alias, "alias name")->required();
  alias_get->callback([&opts] {
    requireFunction(opts);
    opts.action = ControlAction::AliasGet;
  });

  CLI::App* alias_list = alias->add_subcommand("list", "list a function's aliases (ListAliases)");
  addFunctionArgument(alias_list, opts);
  alias_list->add_option("--function-version", opts.function_version,
                         "only aliases pointing to this version");
  alias_list->callback([&opts] {
    requireFunction(opts);
    opts.action = ControlAction::AliasList;
  });

  CLI::App* alias_delete = alias->add_subcommand("delete", "delete an alias (DeleteAlias)");
  addFunctionArgument(alias_delete, opts);
  alias_delete->add_option("--name", opts.alias, "alias name")->required();
  alias_delete->callback([&opts] {
    requireFunction(opts);
    opts.action = ControlAction::AliasDelete;
  });

  // --- concurrency ---
  CLI::App* concurrency =
      app.add_subcommand("concurrency", "reserved and provisioned concurrency of a function");
  concurrency->require_subcommand(1);
  auto add_simple = [&opts, concurrency](const char* name, const char* help,
                                         ControlAction action) {
    CLI::App* sub = concurrency->add_subcommand(name, help);
    addFunctionArgument(sub, opts);
    sub->callback([&opts, action] {
      requireFunction(opts);
      opts.action = action;
    });
    return sub;
  };
  add_simple("put", "reserve concurrency (PutFunctionConcurrency)", ControlAction::ConcurrencyPut)
      ->add_option("--reserved-concurrent-executions", opts.reserved,
                   "concurrent executions reserved for the function (0 stops all invocations)")
      ->required();
  add_simple("get", "show reserved concurrency (GetFunctionConcurrency)",
             ControlAction::ConcurrencyGet);
  add_simple("delete", "remove reserved concurrency (DeleteFunctionConcurrency)",
             ControlAction::ConcurrencyDelete);
  CLI::App* put_provisioned =
      add_simple("put-provisioned", "provision concurrency (PutProvisionedConcurrencyConfig)",
                 ControlAction::ProvisionedPut);
  put_provisioned->add_option("--qualifier", opts.qualifier, "version number or alias")->required();
  put_provisioned
      ->add_option("--provisioned-concurrent-executions", opts.provisioned,
                   "environments kept initialized")
      ->required();
  add_simple("get-provisioned", "show provisioned concurrency (GetProvisionedConcurrencyConfig)",
             ControlAction::ProvisionedGet)
      ->add_option("--qualifier", opts.qualifier, "version number or alias")
      ->required();
  add_simple("delete-provisioned",
             "remove provisioned concurrency (DeleteProvisionedConcurrencyConfig)",
             ControlAction::ProvisionedDelete)
      ->add_option("--qualifier", opts.qualifier, "version number or alias")
      ->required();
  add_simple("list-provisioned", "list provisioned concurrency (ListProvisionedConcurrencyConfigs)",
             ControlAction::ProvisionedList);
}

int runControl(HttpClient& client, const ControlOptions& opts, Console console) {
  const std::string& fn = opts.function;
  switch (opts.action) {
    case ControlAction::Publish:
      return exchange(client, HttpVerb::post, functionTarget(fn) + "/versions",
                      buildPublishBody(opts), console);
    case ControlAction::AliasCreate:
      return exchange(client, HttpVerb::post, aliasesTarget(fn), buildAliasBody(opts, true),
                      console);
    case ControlAction::AliasUpdate:
      return exchange(client, HttpVerb::put, aliasTarget(fn, opts.alias),
                      buildAliasBody(opts, false), console);
    case ControlAction::AliasGet:
      return exchange(client, HttpVerb::get, aliasTarget(fn, opts.alias), {}, console);
    case ControlAction::AliasList:
      return runAliasList(client, opts, console);
    case ControlAction::AliasDelete:
      return exchange(client, HttpVerb::delete_, aliasTarget(fn, opts.alias), {}, console,
                      "deleted alias " + opts.alias + " of " + fn);
    case ControlAction::ConcurrencyPut:
      return exchange(client, HttpVerb::put,
                      std::string(kReservedPath) + urlEncode(fn) + "/concurrency",
                      dumpCompact(json{{"ReservedConcurrentExecutions", opts.reserved}}), console);
    case ControlAction::ConcurrencyGet:
      return exchange(client, HttpVerb::get,
                      std::string(kConcurrencyGetPath) + urlEncode(fn) + "/concurrency", {},
                      console);
    case ControlAction::ConcurrencyDelete:
      return exchange(client, HttpVerb::delete_,
                      std::string(kReservedPath) + urlEncode(fn) + "/concurrency", {}, console,
                      "removed the reserved concurrency of " + fn);
    case ControlAction::ProvisionedPut:
      return exchange(client, HttpVerb::put, provisionedTarget(fn, "Qualifier", opts.qualifier),
                      dumpCompact(json{{"ProvisionedConcurrentExecutions", opts.provisioned}}),
                      console);
    case ControlAction::ProvisionedGet:
      return exchange(client, HttpVerb::get, provisionedTarget(fn, "Qualifier", opts.qualifier),
                      {}, console);
    case ControlAction::ProvisionedDelete:
      return exchange(client, HttpVerb::delete_,
                      provisionedTarget(fn, "Qualifier", opts.qualifier), {}, console,
                      "removed the provisioned concurrency of " + fn + ":" + opts.qualifier);
    case ControlAction::ProvisionedList:
      return exchange(client, HttpVerb::get, provisionedTarget(fn, "List", "ALL"), {}, console);
    case ControlAction::None:
      break;
  }
  console.err << "error: expected publish, alias or concurrency\n";
  return kExitFailure;
}

}  // namespace kindling::cli
