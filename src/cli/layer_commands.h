// `kindling layer ...`: Lambda layers from the command line, flags named as `aws lambda` names
// them: publish (PublishLayerVersion), list (ListLayers), versions (ListLayerVersions), delete
// (DeleteLayerVersion). Parsing is registered on the main CLI11 app by options.cc; the
// requests go through the daemon's AWS-compatible API like the other client subcommands.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {
class App;
}

namespace kindling::cli {

class HttpClient;
struct Console;

enum class LayerAction { None, Publish, List, Versions, Delete };

struct LayerOptions {
  LayerAction action = LayerAction::None;
  std::string name;                                   // --layer-name / positional NAME
  std::string zip_file;                               // fileb://x.zip, x.zip or a directory
  std::string description;
  std::string license_info;
  std::vector<std::string> compatible_runtimes;
  std::vector<std::string> compatible_architectures;
  std::string compatible_runtime;                     // list/versions filter
  std::string compatible_architecture;                // list/versions filter
  long long version = 0;                              // delete N V
};

// Adds the `layer` subcommand (and its four actions) to `app`, filling `opts` when parsed.
// Returns the subcommand so the caller can test parsed(). Not thread-safe (CLI11 setup).
CLI::App* addLayerCommand(CLI::App& app, LayerOptions& opts);

// Runs the parsed action against the daemon; prints the API's JSON answer (publish), a table
// (list, versions) or a confirmation (delete). Exit codes as commands.h. Not thread-safe.
int runLayer(HttpClient& client, const LayerOptions& opts, Console console);

}  // namespace kindling::cli
