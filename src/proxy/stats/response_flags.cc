#include "proxy/stats/response_flags.h"

#include <array>

namespace fulcrum::stats {

namespace {

struct FlagInfo {
  std::string_view code;
  std::string_view help;
};

constexpr std::array<FlagInfo, kResponseFlagCount> kFlags = {
    {{"-", "no flag"},
#define FULCRUM_FLAG_INFO(name, code, help) {code, help},
     FULCRUM_RESPONSE_FLAGS(FULCRUM_FLAG_INFO)
#undef FULCRUM_FLAG_INFO
    }};

} // namespace

std::string_view shortName(ResponseFlag flag) {
  return kFlags[static_cast<size_t>(flag)].code;
}

std::string_view describe(ResponseFlag flag) {
  return kFlags[static_cast<size_t>(flag)].help;
}

} // namespace fulcrum::stats
