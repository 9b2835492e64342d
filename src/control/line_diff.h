#pragma once

// A line diff (Myers' O(ND) greedy algorithm) printed as a unified diff, for comparing the
// normalized documents of two revisions. Pure functions; any thread.

#include <string>
#include <string_view>
#include <vector>

namespace fulcrum::control {

enum class EditKind { Keep, Insert, Delete };

struct Edit {
  EditKind kind;
  size_t oldLine; // 0-based index into the old lines (Keep, Delete)
  size_t newLine; // 0-based index into the new lines (Keep, Insert)
};

std::vector<std::string_view> splitLines(std::string_view text);

// A shortest edit script turning `a` into `b`, in order.
std::vector<Edit> diffLines(const std::vector<std::string_view>& a,
                            const std::vector<std::string_view>& b);

// `--- oldName` / `+++ newName` and hunks with `context` lines around each change; empty when the
// texts are equal.
std::string unifiedDiff(std::string_view oldText, std::string_view newText,
                        std::string_view oldName, std::string_view newName, size_t context = 3);

} // namespace fulcrum::control
