// `kindling publish | alias ... | concurrency ...`: the control plane from the command line, flags
// named as the `aws lambda` CLI names them (publish-version, create-alias, put-function-
// concurrency, ...). The function is given positionally or as --function-name. Parsing is
// registered on the main CLI11 app by options.cc and finishes inside CLI11 (missing flags and bad
// --routing-config fail the parse), so runControl only turns ControlOptions into API requests;
// the request bodies are pure functions here so that every byte sent is unit-tested.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace CLI {
class App;
}

namespace kindling::cli {

class HttpClient;
struct Console;

enum class ControlAction {
  None,
  Publish,             // publish NAME                        -> PublishVersion
  AliasCreate,         // alias create NAME --name A ...      -> CreateAlias
  AliasUpdate,         // alias update NAME --name A ...      -> UpdateAlias
  AliasGet,            // alias get NAME --name A             -> GetAlias
  AliasList,           // alias list NAME [--function-version] -> ListAliases
  AliasDelete,         // alias delete NAME --name A          -> DeleteAlias
  ConcurrencyPut,      // concurrency put NAME --reserved-concurrent-executions N
  ConcurrencyGet,      // concurrency get NAME
  ConcurrencyDelete,   // concurrency delete NAME
  ProvisionedPut,      // concurrency put-provisioned NAME --qualifier Q --provisioned-... N
  ProvisionedGet,      // concurrency get-provisioned NAME --qualifier Q
  ProvisionedDelete,   // concurrency delete-provisioned NAME --qualifier Q
  ProvisionedList,     // concurrency list-provisioned NAME
};

// AdditionalVersionWeights: version number -> share of traffic (0..1).
using VersionWeights = std::map<std::string, double>;

struct ControlOptions {
  ControlAction action = ControlAction::None;
  std::string function;                      // NAME / --function-name
  std::string alias;                         // --name
  std::string function_version;              // --function-version ("" = not given)
  std::optional<std::string> description;    // --description (given, possibly empty)
  std::string revision_id;                   // --revision-id ("" = not given)
  std::string code_sha256;                   // publish --code-sha256 ("" = not given)
  std::optional<VersionWeights> routing;     // --routing-config (empty map = clear weights)
  int64_t reserved = -1;                     // --reserved-concurrent-executions
  int64_t provisioned = -1;                  // --provisioned-concurrent-executions
  std::string qualifier;                     // --qualifier
};

// Adds the `publish`, `alias` and `concurrency` subcommands to `app`, filling `opts` (and its
// action) when one of them is parsed. Usage errors surface as CLI11 parse errors. Not
// thread-safe (CLI11 setup); `opts` must outlive the parse.
void addControlCommands(CLI::App& app, ControlOptions& opts);

// Runs the parsed action against the daemon: prints the API's JSON answer (pretty, like
// `aws --output json`), a table (alias list) or a confirmation (deletes). API errors print with
// renderApiError. Exit codes as commands.h. Not thread-safe (shares the client).
int runControl(HttpClient& client, const ControlOptions& opts, Console console);

// Parses --routing-config in the aws CLI's shorthand (`AdditionalVersionWeights={2=0.2}`, several
// entries comma-separated, `{}` clears) or JSON (`{"AdditionalVersionWeights":{"2":0.2}}`).
// Weights must be numbers; ranges are the daemon's to check. Pure; thread-safe.
Result<VersionWeights> parseRoutingConfig(std::string_view text);

// PublishVersion body: {Description?, RevisionId?, CodeSha256?}. Pure; thread-safe.
std::string buildPublishBody(const ControlOptions& opts);
// CreateAlias (with Name) or UpdateAlias body: FunctionVersion, Description, RoutingConfig and
// RevisionId (update) when given. Pure; thread-safe.
std::string buildAliasBody(const ControlOptions& opts, bool creating);

}  // namespace kindling::cli
