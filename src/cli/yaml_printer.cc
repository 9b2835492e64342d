#include <ostream>
#include <string_view>

#include <fmt/format.h>
#include <re2/re2.h>

#include "cli/printer.h"

namespace fulcrum::cli {
namespace {

// Plain scalars that some reader would resolve to something other than a string: the YAML 1.2
// core schema, and YAML 1.1 as PyYAML and yaml-cpp implement it (booleans such as `on`,
// sexagesimal numbers such as `1:30`, timestamps, the merge key).
bool resolvesToNonString(const std::string& s) {
  static const RE2 kNull(R"(~|null|Null|NULL)");
  static const RE2 kBool(R"(y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|)"
                         R"(on|On|ON|off|Off|OFF)");
  static const RE2 kInt(R"([-+]?(0b[0-1_]+|0o?[0-7_]+|0x[0-9a-fA-F_]+|[0-9][0-9_]*|)"
                        R"([1-9][0-9_]*(:[0-5]?[0-9])+))");
  static const RE2 kFloat(R"([-+]?([0-9][0-9_]*)?\.[0-9_]*([eE][-+]?[0-9]+)?|)"
                          R"([-+]?[0-9][0-9_]*([eE][-+]?[0-9]+)|)"
                          R"([-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*|)"
                          R"([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))");
  static const RE2 kTimestamp(R"([0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?.*)");
  return RE2::FullMatch(s, kNull) || RE2::FullMatch(s, kBool) || RE2::FullMatch(s, kInt) ||
         RE2::FullMatch(s, kFloat) || RE2::FullMatch(s, kTimestamp) || s == "<<" || s == "=";
}

bool isControl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

// Whether `s` may be written as a plain (unquoted) scalar in block context and read back as
// the same string. Conservative: anything unusual (non-ASCII included) is quoted.
bool plainSafe(const std::string& s) {
  if (s.empty() || resolvesToNonString(s)) {
    return false;
  }
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (isControl(u) || u >= 0x80) {
      return false;
    }
  }
  constexpr std::string_view kIndicators = "?:,[]{}#&*!|>'\"%@`";
  if (kIndicators.find(s.front()) != std::string_view::npos || s.front() == ' ' ||
      s.back() == ' ' || s.back() == ':') {
    return false;
  }
  if (s.front() == '-' && (s.size() == 1 || s[1] == ' ')) {
    return false;
  }
  if (s.starts_with("---") || s.starts_with("...")) {
    return false;
  }
  return s.find(": ") == std::string::npos && s.find(" #") == std::string::npos;
}

// Valid UTF-8 without control characters other than newline and tab, and without the C1 controls
// (U+0080..U+009F): what a literal block may hold verbatim.
bool literalSafe(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (isControl(c) && c != '\n' && c != '\t') {
        return false;
      }
      ++i;
      continue;
    }
    size_t length = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (length == 0 || i + length > s.size() || c == 0xC0 || c == 0xC1 || c > 0xF4) {
      return false;
    }
    for (size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) {
        return false;
      }
    }
    if (c == 0xC2 && static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return false;
    }
    if (c == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBB &&
        static_cast<unsigned char>(s[i + 2]) == 0xBF) {
      return false; // a byte-order mark
    }
    i += length;
  }
  return true;
}

// A double-quoted scalar. JSON's escapes are all valid YAML escapes; DEL and the C1 controls,
// which JSON leaves raw but YAML does not allow, are escaped too. Invalid UTF-8 is replaced.
std::string quoted(const std::string& s) {
  std::string json = Json(s).dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    auto c = static_cast<unsigned char>(json[i]);
    auto next = i + 1 < json.size() ? static_cast<unsigned char>(json[i + 1]) : 0;
    if (c == 0x7f) {
      out += "\\x7f";
    } else if (c == 0xC2 && next >= 0x80 && next <= 0x9F) {
      out += fmt::format("\\x{:02x}", next);
      ++i;
    } else if (c == 0xEF && next == 0xBB && i + 2 < json.size() &&
               static_cast<unsigned char>(json[i + 2]) == 0xBF) {
      out += "\\ufeff";
      i += 2;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A literal block scalar (`|`) for multi-line text, its lines indented to `indent`. The chomping
// indicator keeps the final newlines exactly; the indentation indicator is given when the first
// line starts with a space or is empty (where a reader could not infer it).
std::string literal(const std::string& s, size_t indent) {
  size_t trailing = 0;
  while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') {
    ++trailing;
  }
  std::string out = "|";
  if (s.front() == ' ' || s.front() == '\n') {
    out += "2";
  }
  out += trailing == 0 ? "-" : trailing == 1 ? "" : "+";
  out += '\n';
  std::string_view body(s.data(), s.size() - trailing);
  const std::string pad(indent, ' ');
  while (true) {
    size_t newline = body.find('\n');
    std::string_view line = body.substr(0, newline);
    if (!line.empty()) {
      out += pad;
      out += line;
    }
    out += '\n';
    if (newline == std::string_view::npos) {
      break;
    }
    body.remove_prefix(newline + 1);
  }
  for (size_t k = 1; k < trailing; ++k) {
    out += '\n';
  }
  return out;
}

std::string number(const Json& value) {
  std::string text = value.dump();
  // YAML 1.1 readers want a dot in a float with an exponent.
  if (value.is_number_float() && text.find('.') == std::string::npos) {
    size_t e = text.find_first_of("eE");
    text.insert(e == std::string::npos ? text.size() : e, ".0");
  }
  return text;
}

std::string key(const std::string& name) {
  return plainSafe(name) ? name : quoted(name);
}

// A scalar (or an empty collection) and its newline; `indent` is where a literal block's lines go.
std::string scalar(const Json& value, size_t indent) {
  switch (value.type()) {
  case Json::value_t::string: {
    const auto& s = value.get_ref<const std::string&>();
    if (plainSafe(s)) {
      return s + '\n';
    }
    if (s.find('\n') != std::string::npos && s.find_first_not_of('\n') != std::string::npos &&
        literalSafe(s)) {
      return literal(s, indent);
    }
    return quoted(s) + '\n';
  }
  case Json::value_t::boolean:
    return value.get<bool>() ? "true\n" : "false\n";
  case Json::value_t::number_integer:
  case Json::value_t::number_unsigned:
  case Json::value_t::number_float:
    return number(value) + '\n';
  case Json::value_t::object:
    return "{}\n";
  case Json::value_t::array:
    return "[]\n";
  default:
    return "null\n";
  }
}

void sequence(std::string& out, const Json& items, size_t indent, bool inlineFirst);

// The entries of a non-empty map at `indent`; with `inlineFirst` the first key continues the
// current line (after `- `).
void mapping(std::string& out, const Json& map, size_t indent, bool inlineFirst) {
  bool first = true;
  for (const auto& [name, value] : map.items()) {
    if (!(first && inlineFirst)) {
      out.append(indent, ' ');
    }
    first = false;
    out += key(name);
    if (value.is_object() && !value.empty()) {
      out += ":\n";
      mapping(out, value, indent + 2, false);
    } else if (value.is_array() && !value.empty()) {
      out += ":\n";
      sequence(out, value, indent + 2, false);
    } else {
      out += ": ";
      out += scalar(value, indent + 2);
    }
  }
}

void sequence(std::string& out, const Json& items, size_t indent, bool inlineFirst) {
  bool first = true;
  for (const auto& item : items) {
    if (!(first && inlineFirst)) {
      out.append(indent, ' ');
    }
    first = false;
    out += "- ";
    if (item.is_object() && !item.empty()) {
      mapping(out, item, indent + 2, true);
    } else if (item.is_array() && !item.empty()) {
      sequence(out, item, indent + 2, true);
    } else {
      out += scalar(item, indent + 2);
    }
  }
}

class YamlPrinter : public Printer {
public:
  explicit YamlPrinter(std::ostream& out) : out_(out) {}

  void printDiagnostics(const std::vector<config::Diagnostic>& errors) override {
    out_ << formatYaml(diagnosticsJson(errors));
  }

  void printValid(const config::Config&, const std::string&) override { out_ << "[]\n"; }

  void print(const View& view) override { out_ << formatYaml(view.data); }

private:
  std::ostream& out_;
};

} // namespace

std::string formatYaml(const Json& value) {
  std::string out;
  if (value.is_object() && !value.empty()) {
    mapping(out, value, 0, false);
  } else if (value.is_array() && !value.empty()) {
    sequence(out, value, 0, false);
  } else {
    out = scalar(value, 2);
  }
  return out;
}

PrinterPtr makeYamlPrinter(std::ostream& out) {
  return std::make_unique<YamlPrinter>(out);
}

} // namespace fulcrum::cli
