#pragma once

// Conversions between the document forms the control plane speaks: YAML or JSON request bodies,
// the generic JSON tree the REST resources edit, and the normalized document (every field, the
// defaults included) that GET returns and diffs compare. Pure functions; any thread.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "config/schema.h"

namespace fulcrum::control {

using Json = nlohmann::ordered_json;

struct ParsedBody {
  std::optional<Json> value; // set when the text is one well-formed YAML/JSON document
  std::string error;         // else `line:col: message`
};

// Parses YAML or JSON (JSON is YAML flow style) into a JSON tree. Plain scalars get YAML 1.2 core
// types (null, booleans, integers, floats); quoted ones stay strings. Duplicate keys and more
// than one document are errors.
ParsedBody parseDocument(std::string_view text);

// Block-style YAML for a JSON tree; strings that would read back as another type are quoted.
std::string toYaml(const Json& json);

// The normalized document of a config: config::toJson, i.e. every field with its effective value.
Json normalized(const config::Config& config);

} // namespace fulcrum::control
