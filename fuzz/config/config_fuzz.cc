// Fuzzes the config loader: arbitrary bytes through loadString must never crash, hang or leak,
// and the loader's contract must hold for every input:
//   - a config is returned exactly when there are no errors;
//   - errors come in document order and every one is located (line and column, or none at all);
//   - a loaded config serializes to a document that loads again to the same config;
//   - the JSON fast path builds the tree yaml-cpp builds, or both report an error;
//   - loading through a DecodeCache (unchanged JSON routes skipped by the parser, decoded routes
//     reused) gives what a fresh load gives: the input, split at NUL bytes into revisions
//     (at most 4), is loaded revision by revision, then once more;
//   - the route table of each loaded revision compiled with the previous revision's table
//     (taking over the routes the two share through the cache) answers every probe request as a
//     table compiled from scratch does.

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "config/decode_cache.h"
#include "config/document.h"
#include "config/loader.h"
#include "config/serialize.h"
#include "proxy/router/route_table.h"

namespace {

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

std::string where(const fulcrum::config::Location& l) {
  return l.file + ":" + std::to_string(l.line) + ":" + std::to_string(l.column);
}

// The loads' errors, and their configs with every route location.
std::string outcome(const fulcrum::config::LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors) {
    out += e.format() + "\n";
  }
  if (!r.ok()) {
    return out;
  }
  try {
    out += fulcrum::config::toJson(*r.config).dump();
  } catch (const nlohmann::json::type_error&) {
    out += "(not UTF-8)";
  }
  for (const auto& route : r.config->routes) {
    out += "\n" + where(route.location);
    for (const auto& rule : route.rules) {
      out += " " + where(rule.location);
      for (const auto& m : rule.matches) {
        out += " " + where(m.location);
      }
      for (const auto& b : rule.backends) {
        out += " " + where(b.location);
      }
      for (const auto& f : rule.filters) {
        out += " " + where(f.location);
      }
    }
  }
  return out;
}

std::string describe(const fulcrum::router::RouteMatchResult& r) {
  if (r.rule == nullptr) {
    return "none";
  }
  return std::to_string(r.rule->routeIndex) + "/" + std::to_string(r.rule->ruleIndex) + "/" +
         std::to_string(reinterpret_cast<uintptr_t>(r.match)) + "/" +
         std::to_string(r.rule->statsSlot) + "/" +
         std::to_string(fulcrum::router::pickBackend(*r.rule, 7));
}

// Compiles `config` from scratch and with `previousTable`, compares lookups of probes made from
// the config's hostnames and paths, then keeps `config` and the incremental table as previous.
void checkIncrementalTable(const fulcrum::config::Config& config,
                           fulcrum::config::Config& previousConfig,
                           fulcrum::router::RouteTablePtr& previousTable) {
  std::vector<uint32_t> slots;
  for (size_t i = 0; i < config.routes.size(); ++i) {
    slots.push_back(static_cast<uint32_t>(1 + i % 5)); // shared routes may move slots
  }
  auto fresh = fulcrum::router::compileRouteTable(config, slots);
  auto incremental = fulcrum::router::compileRouteTable(config, slots, previousTable.get());
  check(fresh.ok() == incremental.ok());
  if (!fresh.ok()) {
    return;
  }
  std::vector<std::string> hosts{"", "x.example", "[::1]:80"};
  std::vector<std::string> paths{"/", "/x", "*"};
  for (const auto& route : config.routes) {
    for (const auto& host : route.hostnames) {
      hosts.push_back(host.size() > 1 && host[0] == '*' ? "a" + host.substr(1) : host);
    }
    for (const auto& rule : route.rules) {
      for (const auto& m : rule.matches) {
        if (m.path) {
          paths.push_back(m.path->value);
          paths.push_back(m.path->value + "/x");
        }
      }
    }
  }
  hosts.resize(std::min<size_t>(hosts.size(), 16));
  paths.resize(std::min<size_t>(paths.size(), 16));
  for (const auto& host : hosts) {
    for (const auto& path : paths) {
      for (const char* method : {"GET", "POST"}) {
        fulcrum::router::RequestView view{host, path, "", method, {}};
        check(describe(fresh.value()->lookup(view)) == describe(incremental.value()->lookup(view)));
      }
    }
  }
  previousTable.reset();
  previousConfig = config;
  // The copy shares the routes (and so the rules the table points into) with `config`.
  previousTable = std::move(incremental.value());
}

void checkIncremental(std::string_view text) {
  std::vector<std::string_view> revisions;
  size_t start = 0;
  while (revisions.size() < 3) {
    const size_t nul = text.find('\0', start);
    if (nul == std::string_view::npos) {
      break;
    }
    revisions.push_back(text.substr(start, nul - start));
    start = nul + 1;
  }
  revisions.push_back(text.substr(start));
  revisions.push_back(revisions.back());
  fulcrum::config::DecodeCache cache;
  // The last compiled revision (its table points into its config).
  fulcrum::config::Config previousConfig;
  fulcrum::router::RouteTablePtr previousTable;
  for (auto revision : revisions) {
    auto cached = fulcrum::config::loadString(revision, "fuzz.json", cache);
    auto fresh = fulcrum::config::loadString(revision, "fuzz.json");
    check(outcome(cached) == outcome(fresh));
    if (cached.ok()) {
      checkIncrementalTable(*cached.config, previousConfig, previousTable);
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // Documents are bounded by the loader itself (64 MiB); the fuzzer only needs small inputs.
  if (size > (1 << 20)) {
    return 0;
  }
  std::string_view text(reinterpret_cast<const char*>(data), size);
  {
    auto fast = fulcrum::config::parseYaml(text);
    auto reference = fulcrum::config::parseYamlStream(text);
    if (!fast.error && !reference.error) {
      check(fulcrum::config::sameTree(*fast.tree, *reference.tree));
    } else {
      check(fast.error.has_value() == reference.error.has_value());
    }
  }
  checkIncremental(text);
  auto result = fulcrum::config::loadString(text, "fuzz.yaml");
  check(result.ok() == result.errors.empty());
  check(result.hash.size() == 16);
  int lastLine = 0;
  int lastColumn = 0;
  for (const auto& e : result.errors) {
    check(e.file == "fuzz.yaml");
    check(!e.message.empty());
    check((e.line == 0) == (e.column == 0));
    check(e.line > lastLine || (e.line == lastLine && e.column >= lastColumn));
    lastLine = e.line;
    lastColumn = e.column;
    (void)e.format();
  }
  if (!result.ok()) {
    return 0;
  }
  std::string json;
  try {
    json = fulcrum::config::toJson(*result.config).dump();
  } catch (const nlohmann::json::type_error&) {
    return 0; // strings that are not UTF-8 cannot be written as JSON; YAML accepted them as bytes
  }
  auto again = fulcrum::config::loadString(json, "roundtrip.json");
  check(again.ok());
  check(fulcrum::config::toJson(*again.config).dump() == json);
  return 0;
}
