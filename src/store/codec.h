#pragma once

// JSON encodings of the store's records, shared by the file and etcd implementations so that both
// hold byte-for-byte the same documents (see docs/store.md). Pure functions; any thread. Decoding
// never throws: malformed input is a Result error.

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/result.h"
#include "store/config_store.h"

namespace fulcrum::store {

// RFC 3339 in UTC with milliseconds: 2024-05-01T12:00:00.123Z.
std::string formatTime(SystemTime time);
std::optional<SystemTime> parseTime(std::string_view text);

nlohmann::ordered_json toJson(const RevisionMeta& meta);
nlohmann::ordered_json toJson(const InstanceStatus& status);
nlohmann::ordered_json toJson(const AuditEntry& entry);

Result<RevisionMeta> decodeRevisionMeta(std::string_view text);
Result<InstanceStatus> decodeInstanceStatus(std::string_view text);
Result<AuditEntry> decodeAuditEntry(std::string_view text);

// Fixed-width decimal so that lexical order (file names, etcd keys) is numeric order.
std::string paddedNumber(RevisionNumber number);

// [A-Za-z0-9._-]{1,128}, not starting with '.': safe as a file name and an etcd key segment.
bool isValidInstanceId(std::string_view id);

} // namespace fulcrum::store
