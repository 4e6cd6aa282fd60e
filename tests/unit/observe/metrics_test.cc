#include "observe/metrics.h"

#include <cmath>
#include <map>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace kindling::observe {
namespace {

// A minimal parser for the text exposition format: "name{l1="v1",l2="v2"} value" lines, with
// label values unescaped. Keys are "name{labels as written}" after unescaping; also records
// HELP/TYPE lines and checks that every sample belongs to a family declared before it.
struct Parsed {
  std::map<std::string, double> samples;          // key -> value
  std::map<std::string, std::string> types;       // family -> type
  std::vector<std::string> errors;
};

Parsed parse(const std::string& text) {
  Parsed p;
  std::istringstream in(text);
  std::string line;
  std::string current_family;
  while (std::getline(in, line)) {
    if (line.empty()) {
      p.errors.push_back("empty line");
      continue;
    }
    if (line.rfind("# HELP ", 0) == 0) continue;
    if (line.rfind("# TYPE ", 0) == 0) {
      std::istringstream ls(line.substr(7));
      std::string name, type;
      ls >> name >> type;
      if (p.types.count(name)) p.errors.push_back("duplicate TYPE " + name);
      p.types[name] = type;
      current_family = name;
      continue;
    }
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    const std::string name = line.substr(0, i);
    std::string labels;
    if (i < line.size() && line[i] == '{') {
      ++i;
      bool first = true;
      while (i < line.size() && line[i] != '}') {
        if (!first) {
          if (line[i] != ',') p.errors.push_back("expected , in " + line);
          ++i;
        }
        first = false;
        const size_t eq = line.find('=', i);
        const std::string lname = line.substr(i, eq - i);
        i = eq + 1;
        if (line[i] != '"') p.errors.push_back("expected quote in " + line);
        ++i;
        std::string value;
        while (i < line.size() && line[i] != '"') {
          if (line[i] == '\\') {
            ++i;
            value.push_back(line[i] == 'n' ? '\n' : line[i]);
          } else {
            value.push_back(line[i]);
          }
          ++i;
        }
        ++i;  // closing quote
        labels += (labels.empty() ? "" : ",") + lname + "=" + value;
      }
      ++i;  // '}'
    }
    if (i >= line.size() || line[i] != ' ') {
      p.errors.push_back("no value in " + line);
      continue;
    }
    const std::string value_text = line.substr(i + 1);
    size_t used = 0;
    const double value = std::stod(value_text, &used);
    if (used != value_text.size()) p.errors.push_back("bad value in " + line);
    if (name.rfind(current_family, 0) != 0) p.errors.push_back("sample outside family: " + line);
    p.samples[name + "{" + labels + "}"] = value;
  }
  return p;
}

TEST(MetricsTest, HistogramBucketsAreLessOrEqual) {
  Histogram h;
  h.observe(0.0001);  // exactly on the first bound
  h.observe(0.00011);
  h.observe(1.0);
  h.observe(1000.0);  // +Inf only
  h.observe(-1.0);    // counts as 0
  h.observe(std::nan(""));
  const auto s = h.snapshot();
  EXPECT_EQ(s.count, 5u);
  EXPECT_EQ(s.cumulative[0], 2u);   // le=0.0001: 0.0001 and the clamped -1
  EXPECT_EQ(s.cumulative[1], 3u);   // le=0.00025
  EXPECT_EQ(s.cumulative[11], 3u);  // le=0.5
  EXPECT_EQ(s.cumulative[12], 4u);  // le=1
  EXPECT_EQ(s.cumulative[19], 4u);  // le=900
  EXPECT_EQ(s.cumulative[20], 5u);  // +Inf
  EXPECT_NEAR(s.sum_seconds, 0.0001 + 0.00011 + 1.0 + 1000.0, 1e-9);
}

TEST(MetricsTest, RegistryReturnsTheSameObjectPerFunction) {
  MetricsRegistry reg;
  auto a = reg.function("a");
  EXPECT_EQ(a, reg.function("a"));
  EXPECT_NE(a, reg.function("b"));
  reg.removeFunction("a");
  EXPECT_NE(a, reg.function("a"));  // recreated fresh
  a->invocations.fetch_add(1);      // a removed function's holders can still update harmlessly
}

TEST(MetricsTest, PrometheusOutputParsesBack) {
  MetricsRegistry reg;
  auto f = reg.function("my-fn");
  f->invocations.fetch_add(7);
  f->throttles.fetch_add(2);
  f->cold_starts.fetch_add(1);
  f->concurrent_executions.fetch_add(3);
  f->concurrent_executions.fetch_sub(1);
  f->environmentsIn(EnvStateLabel::Idle).fetch_add(4);
  f->environmentsIn(EnvStateLabel::Busy).fetch_add(2);
  f->addError("Unhandled");
  f->addError("Unhandled");
  f->addError("Runtime.ExitError");
  f->duration.observe(0.003);
  f->duration.observe(0.02);
  f->duration.observe(2.0);
  f->init_duration.observe(0.11786);
  auto g = reg.function("weird\"name\\with\nnewline");
  g->invocations.fetch_add(1);
  g->addError("Sandbox.Timedout");

  const std::string text = reg.renderPrometheus();
  const Parsed p = parse(text);
  EXPECT_TRUE(p.errors.empty()) << ::testing::PrintToString(p.errors) << "\n" << text;

  EXPECT_EQ(p.types.at("kindling_invocations_total"), "counter");
  EXPECT_EQ(p.types.at("kindling_invocation_errors_total"), "counter");
  EXPECT_EQ(p.types.at("kindling_throttles_total"), "counter");
  EXPECT_EQ(p.types.at("kindling_cold_starts_total"), "counter");
  EXPECT_EQ(p.types.at("kindling_invoke_duration_seconds"), "histogram");
  EXPECT_EQ(p.types.at("kindling_init_duration_seconds"), "histogram");
  EXPECT_EQ(p.types.at("kindling_concurrent_executions"), "gauge");
  EXPECT_EQ(p.types.at("kindling_environments"), "gauge");
  EXPECT_NE(text.find("# HELP kindling_invocations_total "), std::string::npos);

  const auto& s = p.samples;
  EXPECT_EQ(s.at("kindling_invocations_total{function=my-fn}"), 7);
  EXPECT_EQ(s.at("kindling_throttles_total{function=my-fn}"), 2);
  EXPECT_EQ(s.at("kindling_cold_starts_total{function=my-fn}"), 1);
  EXPECT_EQ(s.at("kindling_concurrent_executions{function=my-fn}"), 2);
  EXPECT_EQ(s.at("kindling_environments{function=my-fn,state=idle}"), 4);
  EXPECT_EQ(s.at("kindling_environments{function=my-fn,state=busy}"), 2);
  EXPECT_EQ(s.at("kindling_environments{function=my-fn,state=starting}"), 0);
  EXPECT_EQ(s.at("kindling_environments{function=my-fn,state=initializing}"), 0);
  EXPECT_EQ(s.at("kindling_environments{function=my-fn,state=dead}"), 0);
  EXPECT_EQ(s.at("kindling_invocation_errors_total{function=my-fn,error_type=Unhandled}"), 2);
  EXPECT_EQ(s.at("kindling_invocation_errors_total{function=my-fn,error_type=Runtime.ExitError}"),
            1);

  // The escaped function name round-trips.
  const std::string weird = "weird\"name\\with\nnewline";
  EXPECT_EQ(s.at("kindling_invocations_total{function=" + weird + "}"), 1);
  EXPECT_EQ(s.at("kindling_invocation_errors_total{function=" + weird +
                 ",error_type=Sandbox.Timedout}"),
            1);
  EXPECT_NE(text.find("function=\"weird\\\"name\\\\with\\nnewline\""), std::string::npos);

  // Histogram: cumulative, monotonic, +Inf == _count, _sum.
  const std::string h = "kindling_invoke_duration_seconds";
  double prev = 0;
  for (std::string le : {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005", "0.01",
                         "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "30", "60",
                         "300", "900", "+Inf"}) {
    const double v = s.at(h + "_bucket{function=my-fn,le=" + le + "}");
    EXPECT_GE(v, prev) << le;
    prev = v;
  }
  EXPECT_EQ(s.at(h + "_bucket{function=my-fn,le=0.0025}"), 0);
  EXPECT_EQ(s.at(h + "_bucket{function=my-fn,le=0.005}"), 1);
  EXPECT_EQ(s.at(h + "_bucket{function=my-fn,le=0.025}"), 2);
  EXPECT_EQ(s.at(h + "_bucket{function=my-fn,le=1}"), 2);
  EXPECT_EQ(s.at(h + "_bucket{function=my-fn,le=2.5}"), 3);
  EXPECT_EQ(s.at(h + "_bucket{function=my-fn,le=+Inf}"), 3);
  EXPECT_EQ(s.at(h + "_count{function=my-fn}"), 3);
  EXPECT_NEAR(s.at(h + "_sum{function=my-fn}"), 2.023, 1e-9);
  const std::string i = "kindling_init_duration_seconds";
  EXPECT_EQ(s.at(i + "_bucket{function=my-fn,le=0.1}"), 0);
  EXPECT_EQ(s.at(i + "_bucket{function=my-fn,le=0.25}"), 1);
  EXPECT_EQ(s.at(i + "_count{function=my-fn}"), 1);
  EXPECT_NEAR(s.at(i + "_sum{function=my-fn}"), 0.11786, 1e-9);
  // The other function has an empty histogram.
  EXPECT_EQ(s.at(h + "_count{function=" + weird + "}"), 0);
  EXPECT_EQ(s.at(h + "_sum{function=" + weird + "}"), 0);

  reg.removeFunction("my-fn");
  const Parsed after = parse(reg.renderPrometheus());
  EXPECT_EQ(after.samples.count("kindling_invocations_total{function=my-fn}"), 0u);
  EXPECT_EQ(after.samples.count("kindling_invocations_total{function=" + weird + "}"), 1u);
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  MetricsRegistry reg;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&reg, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto m = reg.function(i % 2 ? "odd" : "even");
        m->invocations.fetch_add(1, std::memory_order_relaxed);
        m->duration.observe(0.001 * (t + 1));
        if (i % 1000 == 0) m->addError("Unhandled");
      }
    });
  }
  for (auto& th : threads) th.join();
  const Parsed p = parse(reg.renderPrometheus());
  EXPECT_EQ(p.samples.at("kindling_invocations_total{function=odd}"), kThreads * kPerThread / 2);
  EXPECT_EQ(p.samples.at("kindling_invoke_duration_seconds_count{function=even}"),
            kThreads * kPerThread / 2);
  EXPECT_EQ(p.samples.at("kindling_invocation_errors_total{function=even,error_type=Unhandled}"),
            kThreads * kPerThread / 1000);
  // Sums are exact integers of nanoseconds: (1+2+3+4) ms * 10000 per function = 100 s.
  EXPECT_NEAR(p.samples.at("kindling_invoke_duration_seconds_sum{function=odd}"), 100.0, 1e-9);
}

}  // namespace
}  // namespace kindling::observe
