#pragma once

// The two unit-bearing scalar types of the config language.
//
// Durations: one or more `<number><unit>` parts, unit ms | s | m | h, e.g. `250ms`, `2s`, `1m30s`,
// `1.5s`. A unit is required (a bare `5` is ambiguous and rejected); the resolution is one
// millisecond. Sizes: `<integer><unit>` with unit B | KiB | MiB | GiB | TiB, or a plain integer
// meaning bytes.
//
// Pure functions; any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/schema.h"

namespace fulcrum::config {

// Parses a duration; the error message is complete and names the input.
Result<Duration> parseDuration(std::string_view text);

// Parses a size in bytes; the error message is complete and names the input.
Result<uint64_t> parseSize(std::string_view text);

// The canonical spelling that parseDuration reads back: `1h2m3s4ms`, `250ms`, `0s`.
std::string formatDuration(Duration duration);

// The canonical spelling that parseSize reads back: the largest exact binary unit (`16KiB`), else
// plain bytes (`1000`).
std::string formatSize(uint64_t bytes);

} // namespace fulcrum::config
