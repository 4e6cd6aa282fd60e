#include "cli/options.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace kindling::cli {
namespace {

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
  ParseOutcome outcome =
      parseCommandLine(static_cast<int>(argv.size()), argv.data(), out, err);
  return Parsed{std::move(outcome), out.str(), err.str()};
}

TEST(ParseCommandLine, ServeDefaults) {
  Parsed p = parse({"serve"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  const CliOptions& o = *p.outcome.options;
  EXPECT_EQ(o.command, Command::Serve);
  EXPECT_EQ(o.serve.listen, "127.0.0.1:9000");
  EXPECT_EQ(o.serve.data_dir, "");
  EXPECT_EQ(o.serve.log_level, "info");
  EXPECT_EQ(o.serve.keep_alive_s, 600);
  EXPECT_FALSE(o.endpoint_flag);
}

TEST(ParseCommandLine, ServeAllFlags) {
  Parsed p = parse({"serve", "--listen", "0.0.0.0:8080", "--data-dir", "/tmp/d", "--log-level",
                    "debug", "--keep-alive", "30"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  const ServeOptions& s = p.outcome.options->serve;
  EXPECT_EQ(s.listen, "0.0.0.0:8080");
  EXPECT_EQ(s.data_dir, "/tmp/d");
  EXPECT_EQ(s.log_level, "debug");
  EXPECT_EQ(s.keep_alive_s, 30);
}

TEST(ParseCommandLine, ServeRejectsBadListenAndNegativeKeepAlive) {
  Parsed bad_listen = parse({"serve", "--listen", "localhost"});
  EXPECT_FALSE(bad_listen.outcome.options);
  EXPECT_EQ(bad_listen.outcome.exit_code, 2);
  EXPECT_NE(bad_listen.err.find("--listen"), std::string::npos) << bad_listen.err;

  Parsed bad_port = parse({"serve", "--listen", "127.0.0.1:70000"});
  EXPECT_FALSE(bad_port.outcome.options);

  Parsed negative = parse({"serve", "--keep-alive", "-5"});
  EXPECT_FALSE(negative.outcome.options);
  EXPECT_EQ(negative.outcome.exit_code, 2);
}

TEST(ParseCommandLine, DeployWithRepeatedEnvAndTags) {
  Parsed p = parse({"deploy", "fn1", "--runtime", "python3.12", "--handler", "app.handler",
                    "--code", "./src", "--memory", "256", "--timeout", "10", "--env", "A=1",
                    "--env", "B=x=y", "--env", "EMPTY=", "--tag", "team=core", "--replace"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  const DeployOptions& d = p.outcome.options->deploy;
  EXPECT_EQ(p.outcome.options->command, Command::Deploy);
  EXPECT_EQ(d.name, "fn1");
  EXPECT_EQ(d.runtime, "python3.12");
  EXPECT_EQ(d.handler, "app.handler");
  EXPECT_EQ(d.code, "./src");
  EXPECT_EQ(d.memory_mb, 256);
  EXPECT_EQ(d.timeout_s, 10);
  EXPECT_TRUE(d.replace);
  const std::map<std::string, std::string> want_env{{"A", "1"}, {"B", "x=y"}, {"EMPTY", ""}};
  EXPECT_EQ(d.env, want_env);
  const std::map<std::string, std::string> want_tags{{"team", "core"}};
  EXPECT_EQ(d.tags, want_tags);
}

TEST(ParseCommandLine, DeployDefaultsAndRequiredOptions) {
  Parsed ok = parse({"deploy", "f", "--runtime", "provided.al2023", "--handler", "echo",
                     "--code", "f.zip"});
  ASSERT_TRUE(ok.outcome.options) << ok.err;
  EXPECT_EQ(ok.outcome.options->deploy.memory_mb, 128);
  EXPECT_EQ(ok.outcome.options->deploy.timeout_s, 3);
  EXPECT_FALSE(ok.outcome.options->deploy.replace);
  EXPECT_TRUE(ok.outcome.options->deploy.env.empty());

  Parsed missing_code = parse({"deploy", "f", "--runtime", "python3.12", "--handler", "a.b"});
  EXPECT_FALSE(missing_code.outcome.options);
  EXPECT_EQ(missing_code.outcome.exit_code, 2);
  EXPECT_NE(missing_code.err.find("--code"), std::string::npos) << missing_code.err;
}

TEST(ParseCommandLine, DeployRejectsEnvWithoutEquals) {
  Parsed p = parse({"deploy", "f", "--runtime", "python3.12", "--handler", "a.b", "--code", "d",
                    "--env", "NOVALUE"});
  EXPECT_FALSE(p.outcome.options);
  EXPECT_EQ(p.outcome.exit_code, 2);
  EXPECT_NE(p.err.find("--env"), std::string::npos) << p.err;
  EXPECT_NE(p.err.find("NOVALUE"), std::string::npos) << p.err;
}

TEST(ParseCommandLine, InvokeOptions) {
  Parsed p = parse({"invoke", "fn", "--payload", R"({"a":1})", "--qualifier", "$LATEST"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  EXPECT_EQ(p.outcome.options->command, Command::Invoke);
  EXPECT_EQ(p.outcome.options->invoke.name, "fn");
  EXPECT_EQ(p.outcome.options->invoke.payload, R"({"a":1})");
  EXPECT_EQ(p.outcome.options->invoke.qualifier, "$LATEST");

  Parsed defaults = parse({"invoke", "fn"});
  ASSERT_TRUE(defaults.outcome.options);
  EXPECT_EQ(defaults.outcome.options->invoke.payload, "{}");
  EXPECT_EQ(defaults.outcome.options->invoke.qualifier, "");
}

TEST(ParseCommandLine, OtherSubcommands) {
  Parsed ls = parse({"ls"});
  ASSERT_TRUE(ls.outcome.options);
  EXPECT_EQ(ls.outcome.options->command, Command::List);

  Parsed rm = parse({"rm", "gone"});
  ASSERT_TRUE(rm.outcome.options);
  EXPECT_EQ(rm.outcome.options->command, Command::Remove);
  EXPECT_EQ(rm.outcome.options->remove_name, "gone");

  Parsed logs = parse({"logs", "fn", "--follow"});
  ASSERT_TRUE(logs.outcome.options);
  EXPECT_EQ(logs.outcome.options->command, Command::Logs);
  EXPECT_EQ(logs.outcome.options->logs.name, "fn");
  EXPECT_TRUE(logs.outcome.options->logs.follow);
  Parsed logs_once = parse({"logs", "fn"});
  ASSERT_TRUE(logs_once.outcome.options);
  EXPECT_FALSE(logs_once.outcome.options->logs.follow);

  Parsed demo = parse({"demo"});
  ASSERT_TRUE(demo.outcome.options);
  EXPECT_EQ(demo.outcome.options->command, Command::Demo);
}

TEST(ParseCommandLine, EndpointBeforeOrAfterSubcommand) {
  Parsed before = parse({"--endpoint", "http://h:1", "ls"});
  ASSERT_TRUE(before.outcome.options) << before.err;
  EXPECT_EQ(before.outcome.options->endpoint_flag, "http://h:1");

  Parsed after = parse({"rm", "fn", "--endpoint", "http://h:2"});
  ASSERT_TRUE(after.outcome.options) << after.err;
  EXPECT_EQ(after.outcome.options->endpoint_flag, "http://h:2");
  EXPECT_EQ(after.outcome.options->remove_name, "fn");
}

TEST(ParseCommandLine, UsageErrorsAndHelp) {
  Parsed none = parse({});
  EXPECT_FALSE(none.outcome.options);
  EXPECT_EQ(none.outcome.exit_code, 2);

  Parsed unknown = parse({"frobnicate"});
  EXPECT_FALSE(unknown.outcome.options);
  EXPECT_EQ(unknown.outcome.exit_code, 2);

  Parsed rm_no_name = parse({"rm"});
  EXPECT_FALSE(rm_no_name.outcome.options);
  EXPECT_EQ(rm_no_name.outcome.exit_code, 2);

  Parsed help = parse({"--help"});
  EXPECT_FALSE(help.outcome.options);
  EXPECT_EQ(help.outcome.exit_code, 0);
  EXPECT_NE(help.out.find("deploy"), std::string::npos) << help.out;
}

TEST(ResolveEndpoint, FlagThenEnvThenDefault) {
  EXPECT_EQ(resolveEndpoint(std::string("http://flag:1"), "http://env:2"), "http://flag:1");
  EXPECT_EQ(resolveEndpoint(std::nullopt, "http://env:2"), "http://env:2");
  EXPECT_EQ(resolveEndpoint(std::nullopt, ""), "http://127.0.0.1:9000");
  EXPECT_EQ(resolveEndpoint(std::nullopt, nullptr), "http://127.0.0.1:9000");
  EXPECT_EQ(resolveEndpoint(std::string(""), "http://env:2"), "http://env:2");
}

TEST(ParseKeyValue, SplitsAtFirstEquals) {
  auto kv = parseKeyValue("K=a=b");
  ASSERT_TRUE(kv);
  EXPECT_EQ(kv->first, "K");
  EXPECT_EQ(kv->second, "a=b");
  EXPECT_FALSE(parseKeyValue("=v"));
  EXPECT_FALSE(parseKeyValue("novalue"));
  EXPECT_EQ(parseKeyValue("K=")->second, "");
}

class LoadPayloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "kd-cli-test-XXXXXX").string();
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(LoadPayloadTest, LiteralAndFile) {
  EXPECT_EQ(*loadPayload(R"({"k":"v"})"), R"({"k":"v"})");
  EXPECT_EQ(*loadPayload(""), "");

  const std::filesystem::path file = dir_ / "event.json";
  const std::string content = "{\"big\":\"" + std::string(100000, 'x') + "\"}\n";
  std::ofstream(file, std::ios::binary) << content;
  auto loaded = loadPayload("@" + file.string());
  ASSERT_TRUE(loaded) << loaded.error().message();
  EXPECT_EQ(*loaded, content);

  const std::filesystem::path empty = dir_ / "empty.json";
  std::ofstream(empty, std::ios::binary).flush();
  auto empty_loaded = loadPayload("@" + empty.string());
  ASSERT_TRUE(empty_loaded);
  EXPECT_EQ(*empty_loaded, "");
}

TEST_F(LoadPayloadTest, MissingFileIsAnErrorNamingThePath) {
  const std::string missing = (dir_ / "nope.json").string();
  auto loaded = loadPayload("@" + missing);
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().message().find(missing), std::string::npos);
  EXPECT_EQ(loaded.error().sys_errno, ENOENT);

  auto directory = loadPayload("@" + dir_.string());
  ASSERT_FALSE(directory);
  EXPECT_NE(directory.error().message().find("not a regular file"), std::string::npos);
}

TEST(ParseCommandLine, BenchDefaultsAreTheIssueMatrix) {
  Parsed p = parse({"bench"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  const CliOptions& o = *p.outcome.options;
  EXPECT_EQ(o.command, Command::Lab);
  EXPECT_EQ(o.lab.command, LabCommand::Bench);
  EXPECT_TRUE(o.lab.bench.runtimes.empty());  // every installed runtime
  EXPECT_EQ(o.lab.bench.memory_mb, (std::vector<int>{128, 512, 1024, 1769, 3008}));
  EXPECT_EQ(o.lab.bench.workloads,
            (std::vector<std::string>{"hello", "cpu", "json", "heavy-init"}));
  EXPECT_EQ(o.lab.bench.prices.architecture, "x86_64");
  EXPECT_FALSE(o.lab.bench.prices.gb_second_usd.has_value());
  EXPECT_EQ(o.lab.bench.settle_ms, 1000);
}

TEST(ParseCommandLine, BenchAllFlags) {
  Parsed p = parse({"bench", "--runtimes", "python3.12,go", "--memory", "128,1769",
                    "--workloads", "hello,heavy-init", "--cold", "3", "--warm", "7", "--out",
                    "/tmp/x", "--compare", "last.json", "--architecture", "arm64",
                    "--price-gb-second", "0.00002", "--price-request", "0", "--keep",
                    "--snapstart", "--settle-ms", "0"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  const BenchOptions& b = p.outcome.options->lab.bench;
  EXPECT_EQ(b.runtimes, (std::vector<std::string>{"python3.12", "go"}));
  EXPECT_EQ(b.memory_mb, (std::vector<int>{128, 1769}));
  EXPECT_EQ(b.workloads, (std::vector<std::string>{"hello", "heavy-init"}));
  EXPECT_EQ(b.cold, 3);
  EXPECT_EQ(b.warm, 7);
  EXPECT_EQ(b.out, "/tmp/x");
  EXPECT_EQ(b.compare, "last.json");
  EXPECT_EQ(b.prices.architecture, "arm64");
  EXPECT_DOUBLE_EQ(b.prices.gb_second_usd.value_or(0), 0.00002);
  EXPECT_DOUBLE_EQ(b.prices.request_usd.value_or(1), 0);
  EXPECT_TRUE(b.keep);
  EXPECT_TRUE(b.snapstart);
  EXPECT_EQ(b.settle_ms, 0);
}

TEST(ParseCommandLine, BenchAndTuneRejectBadValues) {
  for (auto args : std::vector<std::vector<const char*>>{
           {"bench", "--memory", "64"},            // below Lambda's 128 MB
           {"bench", "--memory", "20000"},         // above 10,240 MB
           {"bench", "--workloads", "sleep"},      // not in the example set
           {"bench", "--architecture", "mips"},
           {"bench", "--cold", "-1"},
           {"bench", "--settle-ms", "-5"},
           {"tune"},                               // FUNCTION is required
           {"tune", "f", "--strategy", "cheap"},
           {"tune", "f", "--weight", "1.5"},
           {"tune", "f", "--invocations", "0"},
           {"report"}}) {
    std::vector<const char*> argv{"kindling"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::ostringstream out, err;
    ParseOutcome o = parseCommandLine(static_cast<int>(argv.size()), argv.data(), out, err);
    EXPECT_FALSE(o.options.has_value()) << args[0] << " " << (args.size() > 1 ? args[1] : "");
    EXPECT_EQ(o.exit_code, 2);
  }
}

TEST(ParseCommandLine, TuneDefaultsFollowPowerTuning) {
  Parsed p = parse({"tune", "my-fn"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  const TuneOptions& t = p.outcome.options->lab.tune;
  EXPECT_EQ(p.outcome.options->lab.command, LabCommand::Tune);
  EXPECT_EQ(t.function, "my-fn");
  EXPECT_EQ(t.memory_mb, (std::vector<int>{128, 256, 512, 1024, 1536, 1769, 3008}));
  EXPECT_EQ(t.strategy, "balanced");
  EXPECT_DOUBLE_EQ(t.weight, 0.5);
  EXPECT_DOUBLE_EQ(t.discard, 0.2);
  EXPECT_FALSE(t.apply);

  Parsed q = parse({"tune", "f", "--memory", "256,512", "--invocations", "20", "--payload",
                    "{\"n\":1}", "--strategy", "cost", "--weight", "0", "--apply", "--out", "d"});
  ASSERT_TRUE(q.outcome.options) << q.err;
  const TuneOptions& u = q.outcome.options->lab.tune;
  EXPECT_EQ(u.memory_mb, (std::vector<int>{256, 512}));
  EXPECT_EQ(u.invocations, 20);
  EXPECT_EQ(u.payload, "{\"n\":1}");
  EXPECT_EQ(u.strategy, "cost");
  EXPECT_TRUE(u.apply);
  EXPECT_EQ(u.out, "d");
}

TEST(ParseCommandLine, Report) {
  Parsed p = parse({"report", "lab/results.json", "--out", "html"});
  ASSERT_TRUE(p.outcome.options) << p.err;
  EXPECT_EQ(p.outcome.options->lab.command, LabCommand::Report);
  EXPECT_EQ(p.outcome.options->lab.report.input, "lab/results.json");
  EXPECT_EQ(p.outcome.options->lab.report.out, "html");
}

}  // namespace
}  // namespace kindling::cli
