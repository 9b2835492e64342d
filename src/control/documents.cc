#include "control/documents.h"

#include <cerrno>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config/document.h"
#include "config/serialize.h"

namespace fulcrum::control {
namespace {

// YAML 1.2 core schema resolution of plain scalars: [-+]?[0-9]+
bool isInteger(std::string_view s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) {
    return false;
  }
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') {
      return false;
    }
  }
  return true;
}

// [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool isFloat(std::string_view s) {
  size_t i = !s.empty() && (s[0] == '-' || s[0] == '+') ? 1 : 0;
  auto digits = [&] {
    size_t start = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      ++i;
    }
    return i - start;
  };
  size_t whole = digits();
  size_t fraction = 0;
  if (i < s.size() && s[i] == '.') {
    ++i;
    fraction = digits();
  }
  if (whole == 0 && fraction == 0) {
    return false;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '-' || s[i] == '+')) {
      ++i;
    }
    if (digits() == 0) {
      return false;
    }
  }
  return i == s.size();
}

bool isNullWord(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}
bool isTrue(std::string_view s) {
  return s == "true" || s == "True" || s == "TRUE";
}
bool isFalse(std::string_view s) {
  return s == "false" || s == "False" || s == "FALSE";
}

Json scalarValue(std::string_view text) {
  std::string s(text);
  if (isNullWord(s)) {
    return nullptr;
  }
  if (isTrue(s)) {
    return true;
  }
  if (isFalse(s)) {
    return false;
  }
  if (isInteger(s)) {
    errno = 0;
    if (s[0] == '-') {
      long long v = std::strtoll(s.c_str(), nullptr, 10);
      if (errno == 0) {
        return v;
      }
    } else {
      unsigned long long v = std::strtoull(s.c_str(), nullptr, 10);
      if (errno == 0) {
        return v;
      }
    }
    return s; // out of range: keep the text, the validator reports it
  }
  if (isFloat(s)) {
    return std::strtod(s.c_str(), nullptr);
  }
  return s;
}

struct ConvertError {
  std::string message;
};

Json convert(config::NodeRef node) {
  switch (node.kind()) {
  case config::NodeKind::Null:
    return nullptr;
  case config::NodeKind::Scalar:
    return node.quoted() ? Json(std::string(node.scalar())) : scalarValue(node.scalar());
  case config::NodeKind::Sequence: {
    Json array = Json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      array.push_back(convert(node.item(i)));
    }
    return array;
  }
  case config::NodeKind::Map: {
    Json object = Json::object();
    for (size_t i = 0; i < node.size(); ++i) {
      auto key = node.key(i);
      if (!key.isScalar()) {
        throw ConvertError{
            fmt::format("{}:{}: map keys must be scalars", key.mark().line, key.mark().column)};
      }
      std::string name(key.scalar());
      if (object.contains(name)) {
        throw ConvertError{
            fmt::format("{}:{}: duplicate key \"{}\"", key.mark().line, key.mark().column, name)};
      }
      object[name] = convert(node.value(i));
    }
    return object;
  }
  }
  return nullptr;
}

bool needsQuotes(const std::string& s) {
  if (isNullWord(s) || isTrue(s) || isFalse(s) || isInteger(s) || isFloat(s)) {
    return true;
  }
  // YAML 1.1 booleans, which yaml-cpp and many other readers still resolve.
  static const std::set<std::string> kYaml11 = {"y",   "Y",   "yes",  "Yes",  "YES", "n",  "N",
                                                "no",  "No",  "NO",   "on",   "On",  "ON", "off",
                                                "Off", "OFF", ".inf", ".nan", ".NaN"};
  return kYaml11.count(s) != 0;
}

void emit(YAML::Emitter& out, const Json& json) {
  switch (json.type()) {
  case Json::value_t::object:
    out << YAML::BeginMap;
    for (const auto& [key, value] : json.items()) {
      out << YAML::Key;
      if (needsQuotes(key)) {
        out << YAML::DoubleQuoted;
      }
      out << key << YAML::Value;
      emit(out, value);
    }
    out << YAML::EndMap;
    break;
  case Json::value_t::array:
    if (json.empty()) {
      out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
      break;
    }
    out << YAML::BeginSeq;
    for (const auto& value : json) {
      emit(out, value);
    }
    out << YAML::EndSeq;
    break;
  case Json::value_t::string: {
    const auto& s = json.get_ref<const std::string&>();
    if (needsQuotes(s)) {
      out << YAML::DoubleQuoted;
    }
    out << s;
    break;
  }
  case Json::value_t::boolean:
    out << (json.get<bool>() ? "true" : "false");
    break;
  case Json::value_t::null:
  case Json::value_t::discarded:
    out << YAML::Null;
    break;
  default: // numbers: JSON's spelling is valid YAML
    out << json.dump();
    break;
  }
}

} // namespace

ParsedBody parseDocument(std::string_view text) {
  ParsedBody body;
  auto parsed = config::parseYaml(text);
  if (parsed.error) {
    body.error = fmt::format("{}:{}: {}", parsed.error->mark.line, parsed.error->mark.column,
                             parsed.error->message);
    return body;
  }
  const auto& documents = parsed.tree->documents();
  if (documents.size() != 1) {
    body.error = documents.empty() ? "1:1: empty document"
                                   : fmt::format("{}:{}: expected one document, found {}",
                                                 documents[1].mark().line,
                                                 documents[1].mark().column, documents.size());
    return body;
  }
  try {
    body.value = convert(documents[0]);
  } catch (const ConvertError& e) {
    body.error = e.message;
  }
  return body;
}

std::string toYaml(const Json& json) {
  YAML::Emitter out;
  out.SetIndent(2);
  emit(out, json);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') {
    text += '\n';
  }
  return text;
}

Json normalized(const config::Config& config) {
  return config::toJson(config);
}

} // namespace fulcrum::control
