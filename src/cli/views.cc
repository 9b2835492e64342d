#include "cli/views.h"

#include <algorithm>

#include <fmt/format.h>

namespace fulcrum::cli {
namespace {

// A scalar field as table text: strings as is, numbers and booleans spelled out, else "".
std::string field(const Json& object, std::string_view name) {
  if (!object.is_object()) {
    return {};
  }
  auto it = object.find(std::string(name));
  if (it == object.end() || it->is_null()) {
    return {};
  }
  if (it->is_string()) {
    return it->get<std::string>();
  }
  if (it->is_primitive()) {
    return it->dump();
  }
  return {};
}

uint64_t number(const Json& object, std::string_view name) {
  if (!object.is_object()) {
    return 0;
  }
  auto it = object.find(std::string(name));
  return it != object.end() && it->is_number_unsigned() ? it->get<uint64_t>() : 0;
}

// A revision number for a cell: "-" for 0 (none).
std::string revisionCell(uint64_t number) {
  return number == 0 ? "-" : std::to_string(number);
}

const Json& items(const Json& answer) {
  static const Json kEmpty = Json::array();
  if (answer.is_object()) {
    auto it = answer.find("items");
    if (it != answer.end() && it->is_array()) {
      return *it;
    }
  }
  return answer.is_array() ? answer : kEmpty;
}

std::string join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (const auto& part : parts) {
    if (!out.empty()) {
      out += separator;
    }
    out += part;
  }
  return out;
}

std::vector<std::string> listenerRow(const Json& l) {
  std::string maxConnections;
  if (auto limits = l.find("limits"); limits != l.end()) {
    maxConnections = field(*limits, "maxConnections");
  }
  return {field(l, "name"), field(l, "address"), field(l, "trustedHops"), field(l, "proxyProtocol"),
          maxConnections};
}

std::vector<std::string> routeRow(const Json& r) {
  std::vector<std::string> hostnames;
  if (auto it = r.find("hostnames"); it != r.end() && it->is_array()) {
    for (const auto& h : *it) {
      hostnames.push_back(h.is_string() ? h.get<std::string>() : h.dump());
    }
  }
  std::vector<std::string> pools;
  size_t rules = 0;
  if (auto it = r.find("rules"); it != r.end() && it->is_array()) {
    rules = it->size();
    for (const auto& rule : *it) {
      auto backends = rule.find("backends");
      if (backends == rule.end() || !backends->is_array()) {
        continue;
      }
      for (const auto& b : *backends) {
        std::string pool = field(b, "pool");
        if (!pool.empty() && std::find(pools.begin(), pools.end(), pool) == pools.end()) {
          pools.push_back(pool);
        }
      }
    }
  }
  return {field(r, "name"), hostnames.empty() ? "*" : join(hostnames, ","), std::to_string(rules),
          pools.empty() ? "-" : join(pools, ",")};
}

std::vector<std::string> poolRow(const Json& p) {
  std::vector<std::string> addresses;
  if (auto it = p.find("endpoints"); it != p.end() && it->is_array()) {
    for (const auto& e : *it) {
      addresses.push_back(field(e, "address"));
    }
  }
  std::string endpoints;
  constexpr size_t kShown = 2;
  if (addresses.size() <= kShown + 1) {
    endpoints = join(addresses, ",");
  } else {
    endpoints = fmt::format(
        "{} (+{})",
        join(std::vector<std::string>(addresses.begin(), addresses.begin() + kShown), ","),
        addresses.size() - kShown);
  }
  std::string health = "-";
  if (auto it = p.find("healthCheck"); it != p.end() && it->is_object()) {
    std::string type = field(*it, "type");
    health = type == "http"
                 ? fmt::format("http {} every {}", field(*it, "path"), field(*it, "interval"))
                 : fmt::format("{} every {}", type, field(*it, "interval"));
  }
  return {field(p, "name"), field(p, "algorithm"), endpoints.empty() ? "-" : endpoints, health};
}

struct KindLayout {
  std::vector<std::string> columns; // the first is the name column
  std::vector<std::string> (*row)(const Json&);
};

std::optional<KindLayout> layout(std::string_view kind) {
  if (kind == "listeners") {
    return KindLayout{{"NAME", "ADDRESS", "TRUSTED HOPS", "PROXY PROTOCOL", "MAX CONNECTIONS"},
                      &listenerRow};
  }
  if (kind == "routes") {
    return KindLayout{{"NAME", "HOSTNAMES", "RULES", "POOLS"}, &routeRow};
  }
  if (kind == "pools") {
    return KindLayout{{"NAME", "ALGORITHM", "ENDPOINTS", "HEALTH CHECK"}, &poolRow};
  }
  return std::nullopt;
}

// `nameColumn` replaces NAME (e.g. ROUTE when kinds are shown together).
Table resourceTable(std::string_view kind, const Json& answer, std::string nameColumn) {
  Table table;
  auto shape = layout(kind);
  if (!shape) {
    return table;
  }
  table.columns = shape->columns;
  table.columns[0] = std::move(nameColumn);
  table.empty = fmt::format("no {}", kind);
  if (answer.is_object()) {
    table.rows.push_back(shape->row(answer));
  }
  for (const auto& item : items(answer)) {
    if (item.is_object()) {
      table.rows.push_back(shape->row(item));
    }
  }
  return table;
}

std::string instanceState(const Json& item, uint64_t current) {
  uint64_t applied = number(item, "appliedRevision");
  uint64_t refused = number(item, "refusedRevision");
  auto alive = item.find("alive");
  if (alive != item.end() && alive->is_boolean() && !alive->get<bool>()) {
    return "down";
  }
  if (refused != 0 && refused > applied && (current == 0 || refused == current)) {
    return "refused";
  }
  if (applied == 0) {
    return "starting";
  }
  if (current != 0 && applied == current) {
    return "current";
  }
  return applied < current ? "behind" : "ahead";
}

} // namespace

View resourcesView(std::string_view kind, const Json& answer) {
  View view;
  view.data = answer;
  view.addTable(resourceTable(kind, answer, "NAME"));
  return view;
}

View configView(const Json& document, std::optional<uint64_t> revision) {
  View view;
  view.data = document;
  if (revision) {
    view.addText(fmt::format("revision {}", *revision));
    view.addText("");
  }
  const std::pair<const char*, const char*> kinds[] = {
      {"listeners", "LISTENER"}, {"routes", "ROUTE"}, {"pools", "POOL"}};
  bool first = true;
  for (const auto& [kind, column] : kinds) {
    if (!first) {
      view.addText("");
    }
    first = false;
    Json list = document.is_object() && document.contains(kind) ? document[kind] : Json::array();
    view.addTable(resourceTable(kind, list, column));
  }
  return view;
}

View revisionsView(const Json& answer) {
  View view;
  view.data = answer;
  Table table;
  table.columns = {"REVISION", "TIME", "AUTHOR", "SOURCE", "MESSAGE"};
  table.empty = "no revisions yet";
  for (const auto& meta : items(answer)) {
    table.rows.push_back({field(meta, "number"), field(meta, "time"), field(meta, "author"),
                          field(meta, "source"), field(meta, "message")});
  }
  view.addTable(std::move(table));
  return view;
}

View revisionView(const Json& answer) {
  View view;
  view.data = answer;
  const std::pair<const char*, const char*> rows[] = {
      {"revision", "number"}, {"parent", "parent"},   {"time", "time"}, {"author", "author"},
      {"source", "source"},   {"message", "message"}, {"hash", "hash"}};
  std::string text;
  for (const auto& [label, name] : rows) {
    std::string value = name == std::string_view("parent") ? revisionCell(number(answer, name))
                                                           : field(answer, name);
    std::replace_if(
        value.begin(), value.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; },
        ' ');
    text += fmt::format("{:<9}{}\n", label, value);
  }
  view.addText(std::move(text));
  std::string config = field(answer, "config");
  if (!config.empty()) {
    view.addText("");
    view.addText(std::move(config));
  }
  return view;
}

View instancesView(const Json& answer) {
  View view;
  view.data = answer;
  uint64_t current = number(answer, "current");
  view.addText(current == 0 ? std::string("current revision: none")
                            : fmt::format("current revision: {}", current));
  Table table;
  table.columns = {"ID", "STATE", "REVISION", "REFUSED", "ADMIN", "LAST SEEN", "VERSION"};
  table.empty = "no proxy instances registered";
  std::string refusals;
  for (const auto& item : items(answer)) {
    table.rows.push_back({field(item, "id"), instanceState(item, current),
                          revisionCell(number(item, "appliedRevision")),
                          revisionCell(number(item, "refusedRevision")),
                          field(item, "adminAddress"), field(item, "lastSeen"),
                          field(item, "version")});
    auto errors = item.find("errors");
    if (number(item, "refusedRevision") != 0 && errors != item.end() && errors->is_array() &&
        !errors->empty()) {
      refusals += fmt::format("{} refused revision {}:\n", field(item, "id"),
                              number(item, "refusedRevision"));
      for (const auto& e : *errors) {
        refusals += "  " + (e.is_string() ? e.get<std::string>() : e.dump()) + "\n";
      }
    }
  }
  view.addTable(std::move(table));
  if (!refusals.empty()) {
    view.addText("");
    view.addText(std::move(refusals));
  }
  return view;
}

View auditView(const Json& answer) {
  View view;
  view.data = answer;
  Table table;
  table.columns = {"TIME", "ACTOR", "ACTION", "OUTCOME", "REVISION", "SOURCE", "DETAIL"};
  table.empty = "no audit entries";
  for (const auto& e : items(answer)) {
    table.rows.push_back({field(e, "time"), field(e, "actor"), field(e, "action"),
                          field(e, "outcome"), revisionCell(number(e, "revision")),
                          field(e, "source"), field(e, "detail")});
  }
  view.addTable(std::move(table));
  return view;
}

std::pair<size_t, size_t> diffStat(std::string_view diff) {
  size_t added = 0;
  size_t removed = 0;
  while (!diff.empty()) {
    size_t newline = diff.find('\n');
    std::string_view line = diff.substr(0, newline);
    if (line.starts_with("+") && !line.starts_with("+++")) {
      ++added;
    } else if (line.starts_with("-") && !line.starts_with("---")) {
      ++removed;
    }
    diff = newline == std::string_view::npos ? std::string_view() : diff.substr(newline + 1);
  }
  return {added, removed};
}

View writeView(const Json& answer, std::string_view done) {
  View view;
  view.data = answer;
  std::string diff = field(answer, "diff");
  uint64_t current = number(answer, "current");
  auto flag = [&](const char* name) {
    auto it = answer.find(name);
    return it != answer.end() && it->is_boolean() && it->get<bool>();
  };
  auto [added, removed] = diffStat(diff);
  std::string against =
      current == 0 ? std::string("an empty store") : fmt::format("revision {}", current);
  if (flag("unchanged")) {
    view.addText(fmt::format("unchanged: {} already holds this config", against));
  } else if (flag("dryRun")) {
    if (!diff.empty()) {
      view.addText(diff);
    }
    view.addText(added + removed == 0
                     ? fmt::format("dry run: valid, no changes against {}; nothing stored", against)
                     : fmt::format("dry run: valid, +{} -{} lines against {}; nothing stored",
                                   added, removed, against));
  } else {
    const Json& meta = answer.contains("revision") ? answer["revision"] : Json();
    std::string message = field(meta, "message");
    std::replace_if(
        message.begin(), message.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; },
        ' ');
    view.addText(fmt::format("revision {} {} (+{} -{} lines) by {}: {}", field(meta, "number"),
                             done, added, removed, field(meta, "author"), message));
  }
  return view;
}

View diffView(const Json& answer) {
  View view;
  view.data = answer;
  std::string diff = field(answer, "diff");
  if (!diff.empty()) {
    view.addText(std::move(diff));
  }
  return view;
}

} // namespace fulcrum::cli
