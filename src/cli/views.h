#pragma once

// Views of the REST API's answers for the printers: `data` is the answer as the server sent it
// (what -o json and -o yaml print), the sections are the table format's rendering. Shared by the
// verbs, so that `get revisions` and `history`, `get instances` and `status` print alike.
// Pure functions; any thread.

#include <optional>
#include <string_view>

#include "cli/printer.h"

namespace fulcrum::cli {

// GET /{listeners,routes,pools}: an array; GET /{kind}/{name}: one object. `kind` is plural.
View resourcesView(std::string_view kind, const Json& answer);

// GET /config: the normalized document; `revision` from its ETag.
View configView(const Json& document, std::optional<uint64_t> revision);

// GET /revisions: {current, items: [meta...]}.
View revisionsView(const Json& answer);

// GET /revisions/N: meta plus `config` (the text as stored).
View revisionView(const Json& answer);

// GET /instances: {current, items: [...]}; `data` is the answer, possibly filtered by the caller.
View instancesView(const Json& answer);

// GET /audit: {items: [...]}.
View auditView(const Json& answer);

// A write's answer {revision, current, dryRun, unchanged, created, diff}: what happened, e.g.
// `revision 4 applied (+3 -1 lines) by ada: first cut`; `done` names the action ("applied").
View writeView(const Json& answer, std::string_view done);

// POST /validate's answer {valid, hash, current, diff} as `diff` shows it: the unified diff.
View diffView(const Json& answer);

// Lines added and removed by a unified diff (headers not counted).
std::pair<size_t, size_t> diffStat(std::string_view diff);

} // namespace fulcrum::cli
