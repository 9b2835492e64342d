#pragma once

// The decoder turns located YAML trees into a Config and is where the validator's per-field and
// per-object rules live: unknown fields, duplicate keys, wrong types, ranges, formats, regexes,
// contradicting timeouts, weights. Cross-object rules are delegated to CrossChecks as it goes.
// Every problem is reported and decoding carries on, so one pass finds all errors.
//
// Not thread-safe: one Decoder per load.

#include <string>
#include <string_view>

#include "config/cross_checks.h"
#include "config/decode_cache.h"
#include "config/reporter.h"
#include "config/schema.h"

namespace fulcrum::config {

class Decoder {
public:
  // With a `cache`, routes identical to ones of the cache's previous load are reused instead of
  // decoded (decode_cache.h); the outcome is the same.
  Decoder(Reporter& reporter, CrossChecks& checks, Config& config, DecodeCache* cache = nullptr)
      : reporter_(reporter), checks_(checks), config_(config), cache_(cache) {}

  // Parses `text` (a YAML or JSON stream of one or more documents) and appends the listeners,
  // routes and pools it defines to the config. `file` names the text in diagnostics.
  void decodeText(std::string_view text, const std::string& file);

private:
  Reporter& reporter_;
  CrossChecks& checks_;
  Config& config_;
  DecodeCache* cache_;
};

} // namespace fulcrum::config
