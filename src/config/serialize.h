#pragma once

// Serializes a Config back into the document form the loader reads (JSON, which is also YAML).
// Every field is written out, defaults included, so the output is the complete effective config:
// what the proxy's /config endpoint and `fulcrumctl get` show, and what diff compares.
// loadString(toJson(c).dump()) yields c again (locations aside).
//
// Pure function; any thread.

#include <nlohmann/json.hpp>

#include "config/schema.h"

namespace fulcrum::config {

nlohmann::ordered_json toJson(const Config& config);

} // namespace fulcrum::config
