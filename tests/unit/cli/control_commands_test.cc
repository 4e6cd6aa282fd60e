// Parsing of `kindling publish | alias | concurrency` and `deploy --publish`, the
// --routing-config forms, and the request bodies these commands and the in-place deploy send.
#include "cli/control_commands.h"

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli/options.h"
#include "cli/wire.h"
#include "common/strings.h"

namespace kindling::cli {
namespace {

using nlohmann::json;
namespace http = boost::beast::http;

struct Parsed {
  ParseOutcome outcome;
  std::string out;
  std::string err;
};

Parsed parse(std::initializer_list<const char*> args) {
  std::vector<const char*> argv{"kindling"};
  argv.insert(argv.end(), args.begin(), args.end());
  std::ostringstream out;
  std::ostringstream err;
  ParseOutcome outcome = parseCommandLine(static_cast<int>(argv.size()), argv.data(), out, err);
  return Parsed{std::move(outcome), out.str(), err.str()};
}

// Parses and expects a Control command; returns its options (default ones on failure).
ControlOptions control(std::initializer_list<const char*> args) {
  Parsed p = parse(args);
  EXPECT_TRUE(p.outcome.options) << p.err;
  if (!p.outcome.options) return {};
  EXPECT_EQ(p.outcome.options->command, Command::Control);
  return p.outcome.options->control;
}

// Expects a usage error (exit 2) whose message mentions `needle`.
void expectUsageError(std::initializer_list<const char*> args, const std::string& needle) {
  Parsed p = parse(args);
  EXPECT_FALSE(p.outcome.options);
  EXPECT_EQ(p.outcome.exit_code, 2);
  EXPECT_NE(p.err.find(needle), std::string::npos) << "stderr: " << p.err;
}

TEST(ControlParse, PublishPositionalOrFunctionName) {
  ControlOptions a = control({"publish", "fn", "--description", "first", "--revision-id", "r1"});
  EXPECT_EQ(a.action, ControlAction::Publish);
  EXPECT_EQ(a.function, "fn");
  ASSERT_TRUE(a.description);
  EXPECT_EQ(*a.description, "first");
  EXPECT_EQ(a.revision_id, "r1");

  ControlOptions b = control({"publish", "--function-name", "other"});
  EXPECT_EQ(b.function, "other");
  EXPECT_FALSE(b.description);
  EXPECT_EQ(b.revision_id, "");

  expectUsageError({"publish"}, "function name");
  expectUsageError({"publish", "--description", "x"}, "function name");
}

TEST(ControlParse, AliasCreateWithShorthandAndJsonRouting) {
  ControlOptions a = control({"alias", "create", "fn", "--name", "live", "--function-version",
                              "1", "--description", "prod",
                              "--routing-config", "AdditionalVersionWeights={2=0.2}"});
  EXPECT_EQ(a.action, ControlAction::AliasCreate);
  EXPECT_EQ(a.function, "fn");
  EXPECT_EQ(a.alias, "live");
  EXPECT_EQ(a.function_version, "1");
  ASSERT_TRUE(a.description);
  EXPECT_EQ(*a.description, "prod");
  ASSERT_TRUE(a.routing);
  EXPECT_EQ(*a.routing, (VersionWeights{{"2", 0.2}}));

  ControlOptions b = control({"alias", "create", "--function-name", "fn", "--name", "live",
                              "--function-version", "1", "--routing-config",
                              R"({"AdditionalVersionWeights":{"3":0.75}})"});
  ASSERT_TRUE(b.routing);
  EXPECT_EQ(*b.routing, (VersionWeights{{"3", 0.75}}));
  EXPECT_FALSE(b.description);
}

TEST(ControlParse, AliasCreateRequiredFlags) {
  expectUsageError({"alias", "create", "fn", "--function-version", "1"}, "--name");
  expectUsageError({"alias", "create", "fn", "--name", "live"}, "--function-version");
  expectUsageError({"alias", "create", "--name", "live", "--function-version", "1"},
                   "function name");
  expectUsageError({"alias"}, "");  // a subcommand is required
  expectUsageError({"alias", "create", "fn", "--name", "a", "--function-version", "1",
                    "--routing-config", "AdditionalVersionWeights={2=lots}"},
                   "--routing-config");
}

TEST(ControlParse, AliasUpdateGetListDelete) {
  ControlOptions u = control({"alias", "update", "fn", "--name", "live", "--description", "",
                              "--revision-id", "abc", "--routing-config",
                              "AdditionalVersionWeights={}"});
  EXPECT_EQ(u.action, ControlAction::AliasUpdate);
  EXPECT_EQ(u.alias, "live");
  EXPECT_EQ(u.function_version, "");  // not given: the alias keeps its version
  ASSERT_TRUE(u.description);         // given empty: clears the description
  EXPECT_EQ(*u.description, "");
  EXPECT_EQ(u.revision_id, "abc");
  ASSERT_TRUE(u.routing);
  EXPECT_TRUE(u.routing->empty());
  expectUsageError({"alias", "update", "fn"}, "--name");

  ControlOptions g = control({"alias", "get", "fn", "--name", "live"});
  EXPECT_EQ(g.action, ControlAction::AliasGet);
  EXPECT_EQ(g.alias, "live");
  expectUsageError({"alias", "get", "fn"}, "--name");

  ControlOptions l = control({"alias", "list", "fn", "--function-version", "2"});
  EXPECT_EQ(l.action, ControlAction::AliasList);
  EXPECT_EQ(l.function_version, "2");
  ControlOptions l2 = control({"alias", "list", "--function-name", "fn"});
  EXPECT_EQ(l2.function, "fn");
  EXPECT_EQ(l2.function_version, "");
  expectUsageError({"alias", "list"}, "function name");

  ControlOptions d = control({"alias", "delete", "fn", "--name", "live"});
  EXPECT_EQ(d.action, ControlAction::AliasDelete);
  EXPECT_EQ(d.alias, "live");
  expectUsageError({"alias", "delete", "fn"}, "--name");
}

TEST(ControlParse, ConcurrencyReservedAndProvisioned) {
  ControlOptions put =
      control({"concurrency", "put", "fn", "--reserved-concurrent-executions", "0"});
  EXPECT_EQ(put.action, ControlAction::ConcurrencyPut);
  EXPECT_EQ(put.reserved, 0);
  expectUsageError({"concurrency", "put", "fn"}, "--reserved-concurrent-executions");
  expectUsageError({"concurrency", "put", "fn", "--reserved-concurrent-executions", "many"},
                   "--reserved-concurrent-executions");

  EXPECT_EQ(control({"concurrency", "get", "fn"}).action, ControlAction::ConcurrencyGet);
  EXPECT_EQ(control({"concurrency", "delete", "--function-name", "fn"}).action,
            ControlAction::ConcurrencyDelete);
  expectUsageError({"concurrency", "get"}, "function name");

  ControlOptions pp = control({"concurrency", "put-provisioned", "fn", "--qualifier", "live",
                               "--provisioned-concurrent-executions", "2"});
  EXPECT_EQ(pp.action, ControlAction::ProvisionedPut);
  EXPECT_EQ(pp.qualifier, "live");
  EXPECT_EQ(pp.provisioned, 2);
  expectUsageError({"concurrency", "put-provisioned", "fn", "--qualifier", "1"},
                   "--provisioned-concurrent-executions");
  expectUsageError({"concurrency", "put-provisioned", "fn", "--provisioned-concurrent-executions",
                    "1"},
                   "--qualifier");

  ControlOptions gp = control({"concurrency", "get-provisioned", "fn", "--qualifier", "1"});
  EXPECT_EQ(gp.action, ControlAction::ProvisionedGet);
  EXPECT_EQ(gp.qualifier, "1");
  expectUsageError({"concurrency", "get-provisioned", "fn"}, "--qualifier");
  ControlOptions dp = control({"concurrency", "delete-provisioned", "fn", "--qualifier", "1"});
  EXPECT_EQ(dp.action, ControlAction::ProvisionedDelete);
  expectUsageError({"concurrency", "delete-provisioned", "fn"}, "--qualifier");
  EXPECT_EQ(control({"concurrency", "list-provisioned", "fn"}).action,
            ControlAction::ProvisionedList);
}

TEST(ControlParse, EndpointMayFollowTheSubcommand) {
  Parsed p = parse({"alias", "get", "fn", "--name", "a", "--endpoint", "http://127.0.0.1:1"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  EXPECT_EQ(p.outcome.options->endpoint_flag.value_or(""), "http://127.0.0.1:1");
}

TEST(ControlParse, DeployPublishFlag) {
  Parsed p = parse({"deploy", "f", "--runtime", "provided.al2023", "--handler", "echo", "--code",
                    "f.zip", "--publish"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  EXPECT_TRUE(p.outcome.options->deploy.publish);
  EXPECT_FALSE(p.outcome.options->deploy.replace);
  Parsed q = parse({"deploy", "f", "--runtime", "provided.al2023", "--handler", "echo", "--code",
                    "f.zip"});
  ASSERT_TRUE(q.outcome.options) << q.err;
  EXPECT_FALSE(q.outcome.options->deploy.publish);
}

TEST(ParseRoutingConfig, ShorthandForms) {
  EXPECT_EQ(*parseRoutingConfig("AdditionalVersionWeights={2=0.2}"), (VersionWeights{{"2", 0.2}}));
  EXPECT_EQ(*parseRoutingConfig(" AdditionalVersionWeights = { 2 = 0.5 , \"3\"=0.25 } "),
            (VersionWeights{{"2", 0.5}, {"3", 0.25}}));
  EXPECT_EQ(*parseRoutingConfig("AdditionalVersionWeights={'7'=1}"), (VersionWeights{{"7", 1.0}}));
  EXPECT_TRUE(parseRoutingConfig("AdditionalVersionWeights={}")->empty());
}

TEST(ParseRoutingConfig, JsonForms) {
  EXPECT_EQ(*parseRoutingConfig(R"({"AdditionalVersionWeights":{"2":0.2}})"),
            (VersionWeights{{"2", 0.2}}));
  EXPECT_EQ(*parseRoutingConfig(R"( {"AdditionalVersionWeights": {"2": 1, "4": 0}} )"),
            (VersionWeights{{"2", 1.0}, {"4", 0.0}}));
  EXPECT_TRUE(parseRoutingConfig(R"({"AdditionalVersionWeights":{}})")->empty());
  EXPECT_TRUE(parseRoutingConfig("{}")->empty());
}

TEST(ParseRoutingConfig, FromFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("kd-routing-" + std::to_string(::getpid()) + ".json");
  {
    std::ofstream f(path);
    f << R"({"AdditionalVersionWeights":{"5":0.1}})" << "\n";
  }
  auto weights = parseRoutingConfig("file://" + path.string());
  std::filesystem::remove(path);
  ASSERT_TRUE(weights) << weights.error().message();
  EXPECT_EQ(*weights, (VersionWeights{{"5", 0.1}}));
  EXPECT_FALSE(parseRoutingConfig("file://" + path.string()));  // gone now
}

TEST(ParseRoutingConfig, Rejections) {
  for (const char* bad : {"", "   ", "Weights={2=0.2}", "AdditionalVersionWeights=2=0.2",
                          "AdditionalVersionWeights={2}", "AdditionalVersionWeights={2=}",
                          "AdditionalVersionWeights={=0.2}", "AdditionalVersionWeights={2=0.2x}",
                          "AdditionalVersionWeights={2=nan}", "AdditionalVersionWeights{2=0.2}",
                          R"({"AdditionalVersionWeights":{"2":"0.2"}})",
                          R"({"Other":{"2":0.2}})", R"({"AdditionalVersionWeights":[0.2]})",
                          R"({"AdditionalVersionWeights":)", "[1]"}) {
    auto r = parseRoutingConfig(bad);
    EXPECT_FALSE(r) << "accepted: '" << bad << "'";
    if (!r) {
      EXPECT_NE(r.error().message().find("AdditionalVersionWeights"), std::string::npos)
          << r.error().message();
    }
  }
}

TEST(ControlBodies, Publish) {
  ControlOptions o;
  EXPECT_EQ(json::parse(buildPublishBody(o)), json::object());
  o.description = "v1";
  o.revision_id = "rev";
  o.code_sha256 = "sha=";
  EXPECT_EQ(json::parse(buildPublishBody(o)),
            (json{{"Description", "v1"}, {"RevisionId", "rev"}, {"CodeSha256", "sha="}}));
}

TEST(ControlBodies, AliasCreateAndUpdate) {
  ControlOptions o;
  o.alias = "live";
  o.function_version = "1";
  o.routing = VersionWeights{{"2", 0.2}};
  o.revision_id = "rev";
  const json create = json::parse(buildAliasBody(o, true));
  EXPECT_EQ(create, (json{{"Name", "live"},
                          {"FunctionVersion", "1"},
                          {"RoutingConfig", {{"AdditionalVersionWeights", {{"2", 0.2}}}}}}));

  ControlOptions u;
  u.alias = "live";
  u.description = "";
  u.routing = VersionWeights{};
  u.revision_id = "rev";
  const json update = json::parse(buildAliasBody(u, false));
  EXPECT_EQ(update, (json{{"Description", ""},
                          {"RoutingConfig", {{"AdditionalVersionWeights", json::object()}}},
                          {"RevisionId", "rev"}}));
  u.routing.reset();
  u.description.reset();
  u.revision_id.clear();
  EXPECT_EQ(json::parse(buildAliasBody(u, false)), json::object());
}

TEST(DeployBodies, UpdateCodeCarriesExactZipBytes) {
  for (size_t n : {0u, 1u, 2u, 3u, 1000u}) {
    std::string zip;
    for (size_t i = 0; i < n; ++i) zip.push_back(static_cast<char>(i % 256));
    const json j = json::parse(buildUpdateCodeBody(zip));
    ASSERT_EQ(j.size(), 1u) << j.dump();
    auto decoded = base64Decode(j["ZipFile"].get<std::string>());
    ASSERT_TRUE(decoded);
    EXPECT_EQ(*decoded, zip) << n;
  }
}

TEST(DeployBodies, CreateWithPublish) {
  DeployOptions spec;
  spec.name = "f";
  spec.runtime = "provided.al2023";
  spec.handler = "echo";
  EXPECT_FALSE(json::parse(buildCreateFunctionBody(spec, "zz")).contains("Publish"));
  spec.publish = true;
  const json j = json::parse(buildCreateFunctionBody(spec, "zz"));
  EXPECT_EQ(j["Publish"], true);
  EXPECT_EQ(*base64Decode(j["Code"]["ZipFile"].get<std::string>()), "zz");
}

TEST(DeployBodies, UpdateConfigurationIsTheWholeCommandLine) {
  DeployOptions spec;
  spec.name = "f";
  spec.runtime = "python3.12";
  spec.handler = "app.handler";
  spec.memory_mb = 256;
  spec.timeout_s = 9;
  const json bare = json::parse(buildUpdateConfigurationBody(spec, ""));
  EXPECT_EQ(bare, (json{{"Runtime", "python3.12"},
                        {"Handler", "app.handler"},
                        {"MemorySize", 256},
                        {"Timeout", 9},
                        {"Environment", {{"Variables", json::object()}}}}));
  spec.env = {{"A", "1"}};
  spec.tags = {{"t", "v"}};
  const json full = json::parse(buildUpdateConfigurationBody(spec, "rev"));
  EXPECT_EQ(full["Environment"]["Variables"], (json{{"A", "1"}}));
  EXPECT_EQ(full["RevisionId"], "rev");
  EXPECT_FALSE(full.contains("Tags"));
  EXPECT_EQ(json::parse(buildTagBody(spec)), (json{{"Tags", {{"t", "v"}}}}));
}

TEST(ApiErrorReason, ThrottleReasonIsShown) {
  HttpResponse res{http::status::too_many_requests, 11};
  res.set("x-amzn-ErrorType", "TooManyRequestsException");
  res.body() = R"({"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","Type":"User",)"
               R"("message":"Rate Exceeded."})";
  const ApiError e = parseApiError(res);
  EXPECT_EQ(e.reason, "ReservedFunctionConcurrentInvocationLimitExceeded");
  EXPECT_EQ(renderApiError(e),
            "error: TooManyRequestsException: Rate Exceeded. "
            "(reason: ReservedFunctionConcurrentInvocationLimitExceeded)");
}

}  // namespace
}  // namespace kindling::cli
