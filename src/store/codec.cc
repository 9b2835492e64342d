#include "store/codec.h"

#include <cstdio>
#include <ctime>

#include <fmt/format.h>

namespace fulcrum::store {
namespace {

using Json = nlohmann::ordered_json;

bool isHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// Parses `text` as a JSON object; nullopt (with `problem`) when it is not one.
std::optional<Json> parseObject(std::string_view text, std::string& problem) {
  Json json = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) {
    problem = "not a JSON object";
    return std::nullopt;
  }
  return json;
}

std::string stringField(const Json& json, const char* key) {
  auto it = json.find(key);
  return it != json.end() && it->is_string() ? it->get<std::string>() : std::string();
}

uint64_t numberField(const Json& json, const char* key) {
  auto it = json.find(key);
  return it != json.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

SystemTime timeField(const Json& json, const char* key) {
  auto parsed = parseTime(stringField(json, key));
  return parsed ? *parsed : SystemTime{};
}

} // namespace

bool isValidSource(std::string_view source) {
  if (source == "api" || source == "ui" || source == "cli") {
    return true;
  }
  if (source.substr(0, 4) != "git:") {
    return false;
  }
  auto sha = source.substr(4);
  if (sha.size() < 7 || sha.size() > 40) {
    return false;
  }
  for (char c : sha) {
    if (!isHex(c)) {
      return false;
    }
  }
  return true;
}

std::string formatTime(SystemTime time) {
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(time.time_since_epoch()).count();
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  int millis = static_cast<int>(ms % 1000);
  if (millis < 0) {
    millis += 1000;
    --seconds;
  }
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
}

std::optional<SystemTime> parseTime(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, millis = 0;
  std::string copy(text);
  char z = 0;
  if (std::sscanf(copy.c_str(), "%4d-%2d-%2dT%2d:%2d:%2d.%3d%c", &year, &month, &day, &hour,
                  &minute, &second, &millis, &z) != 8 ||
      z != 'Z') {
    return std::nullopt;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  std::time_t seconds = timegm(&tm);
  return SystemTime{} + std::chrono::seconds(seconds) + std::chrono::milliseconds(millis);
}

Json toJson(const RevisionMeta& meta) {
  return Json{{"number", meta.number},   {"author", meta.author}, {"time", formatTime(meta.time)},
              {"message", meta.message}, {"source", meta.source}, {"hash", meta.hash},
              {"parent", meta.parent}};
}

Json toJson(const InstanceStatus& status) {
  return Json{{"id", status.id},
              {"adminAddress", status.adminAddress},
              {"appliedRevision", status.appliedRevision},
              {"refusedRevision", status.refusedRevision},
              {"errors", status.errors},
              {"version", status.version}};
}

Json toJson(const AuditEntry& entry) {
  return Json{{"time", formatTime(entry.time)}, {"actor", entry.actor},
              {"action", entry.action},         {"outcome", entry.outcome},
              {"revision", entry.revision},     {"source", entry.source},
              {"detail", entry.detail}};
}

Result<RevisionMeta> decodeRevisionMeta(std::string_view text) {
  std::string problem;
  auto json = parseObject(text, problem);
  if (!json) {
    return Error{"revision metadata: " + problem};
  }
  RevisionMeta meta;
  meta.number = numberField(*json, "number");
  if (meta.number == 0) {
    return Error{"revision metadata: no number"};
  }
  meta.author = stringField(*json, "author");
  meta.time = timeField(*json, "time");
  meta.message = stringField(*json, "message");
  meta.source = stringField(*json, "source");
  meta.hash = stringField(*json, "hash");
  meta.parent = numberField(*json, "parent");
  return meta;
}

Result<InstanceStatus> decodeInstanceStatus(std::string_view text) {
  std::string problem;
  auto json = parseObject(text, problem);
  if (!json) {
    return Error{"instance: " + problem};
  }
  InstanceStatus status;
  status.id = stringField(*json, "id");
  if (!isValidInstanceId(status.id)) {
    return Error{"instance: bad id"};
  }
  status.adminAddress = stringField(*json, "adminAddress");
  status.appliedRevision = numberField(*json, "appliedRevision");
  status.refusedRevision = numberField(*json, "refusedRevision");
  if (auto it = json->find("errors"); it != json->end() && it->is_array()) {
    for (const auto& e : *it) {
      if (e.is_string()) {
        status.errors.push_back(e.get<std::string>());
      }
    }
  }
  status.version = stringField(*json, "version");
  return status;
}

Result<AuditEntry> decodeAuditEntry(std::string_view text) {
  std::string problem;
  auto json = parseObject(text, problem);
  if (!json) {
    return Error{"audit entry: " + problem};
  }
  AuditEntry entry;
  entry.time = timeField(*json, "time");
  entry.actor = stringField(*json, "actor");
  entry.action = stringField(*json, "action");
  entry.outcome = stringField(*json, "outcome");
  entry.revision = numberField(*json, "revision");
  entry.source = stringField(*json, "source");
  entry.detail = stringField(*json, "detail");
  return entry;
}

std::string paddedNumber(RevisionNumber number) {
  return fmt::format("{:020}", number);
}

bool isValidInstanceId(std::string_view id) {
  if (id.empty() || id.size() > 128 || id.front() == '.') {
    return false;
  }
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

} // namespace fulcrum::store
