// The compiled route table (see route_table.h).
//
// Layout: hosts are hashed into buckets (one per exact hostname, one per wildcard suffix, one for
// routes without hostnames). Every bucket owns a root in one shared path trie of segments; a trie
// node lists the match entries whose Exact path ends there and those whose PathPrefix ends
// there. A node is found by hashing (its bucket's root, its path from the root: "a/b" for
// "/a/b"), not by following its parent, so the probes for all of a request path's prefixes are
// independent: their cache misses overlap (each slot is prefetched first). A lookup hashes the
// host (once per candidate bucket: exact, then each wildcard suffix longest first, then "any
// host"), probes the path's prefixes down the bucket's trie (none below a leaf, so the walk is
// bounded by the config's depth, not the request's), and then tries, in precedence order: the
// Exact entries of the node where the path ends, the PathPrefix entries of that node and of its
// ancestors (deepest first), and finally the bucket's RegularExpression entries. Each list is
// pre-sorted by the remaining tie-breakers (more header matches, more query matches, a method,
// config order), so the first entry whose headers/query/method match wins. Nothing in match()
// allocates (RE2 may grow its own DFA cache for regex entries).
//
// Hosts and edges live in FlatTables (flat_table.h): one cache line per probe, node flags
// (has exact / prefix / regex entries, has children) stored with the edge and with the host, so
// the walk reads no node until it has found one with entries (a host probe yields its bucket's
// root directly).

#include "proxy/router/route_table.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
#include <unordered_map>

#include <re2/re2.h>

#include "common/cooperative_yield.h"
#include "proxy/router/flat_table.h"

namespace fulcrum::router {
namespace {

constexpr size_t kMaxHostBytes = 255; // longer Host values only reach "any host" routes

char toLowerAscii(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
}

bool iequalsAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (toLowerAscii(a[i]) != toLowerAscii(b[i])) {
      return false;
    }
  }
  return true;
}

std::string lowerCopy(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = toLowerAscii(c);
  }
  return out;
}

// Host header value -> the name routes are keyed on: port stripped ("[v6]:port" keeps the
// brackets), one trailing dot dropped, lowercased into `buf`. Empty when it does not fit.
std::string_view canonicalHost(std::string_view host, std::array<char, kMaxHostBytes>& buf) {
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    host = close == std::string_view::npos ? host : host.substr(0, close + 1);
  } else {
    size_t colon = host.find(':');
    if (colon != std::string_view::npos) {
      host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') {
      host.remove_suffix(1);
    }
  }
  if (host.size() > buf.size()) {
    return {};
  }
  for (size_t i = 0; i < host.size(); ++i) {
    buf[i] = toLowerAscii(host[i]);
  }
  return {buf.data(), host.size()};
}

struct StringMatcher {
  std::string name; // header names lowercased; query names as given (case-sensitive)
  std::string value;
  std::shared_ptr<const RE2> regex; // set for RegularExpression matches (shared by later tables)

  bool matches(std::string_view candidate) const {
    return regex ? RE2::FullMatch(candidate, *regex) : candidate == value;
  }
};

// One `matches` entry of one rule (or the implicit match-all of a rule without entries).
struct MatchSpec {
  const CompiledRule* rule = nullptr;
  const config::RouteMatch* match = nullptr;
  config::PathMatchType pathType = config::PathMatchType::PathPrefix;
  std::string pathValue;                // Exact: as given; PathPrefix: without trailing '/'
  std::shared_ptr<const RE2> pathRegex; // shared by later tables that take over the route
  std::vector<StringMatcher> headers;
  std::vector<StringMatcher> query;
  std::string method; // empty = any
  uint64_t order = 0; // config order
};

// Whether `spec` should be tried before `other` when both match the path equally well.
bool precedes(const MatchSpec& spec, const MatchSpec& other) {
  if (spec.headers.size() != other.headers.size()) {
    return spec.headers.size() > other.headers.size();
  }
  if (spec.query.size() != other.query.size()) {
    return spec.query.size() > other.query.size();
  }
  if (spec.method.empty() != other.method.empty()) {
    return !spec.method.empty();
  }
  return spec.order < other.order;
}

// The value of the first query parameter named `name` in `query` ("a=1&b=2"), if any.
bool findQueryParam(std::string_view query, std::string_view name, std::string_view& value) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    size_t eq = pair.find('=');
    std::string_view key = pair.substr(0, eq);
    if (key == name) {
      value = eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1);
      return true;
    }
  }
  return false;
}

// Headers, query parameters and method (the path was matched by the caller).
bool matchesRest(const MatchSpec& spec, const RequestView& request) {
  if (!spec.method.empty() && spec.method != request.method) {
    return false;
  }
  for (const StringMatcher& m : spec.headers) {
    bool found = false;
    for (const http::HeaderField& field : request.headers) {
      if (iequalsAscii(field.name, m.name) && m.matches(field.value)) {
        found = true;
        break;
      }
    }
    if (!found) {
      return false;
    }
  }
  for (const StringMatcher& m : spec.query) {
    std::string_view value;
    if (!findQueryParam(request.query, m.name, value) || !m.matches(value)) {
      return false;
    }
  }
  return true;
}

struct Range {
  uint32_t begin = 0;
  uint32_t end = 0;
};

// A trie node's id with flags, as stored in the edge table and in buckets.
constexpr uint32_t kHasExact = 1u << 31;
constexpr uint32_t kHasPrefix = 1u << 30;
constexpr uint32_t kHasChildren = 1u << 29; // no probe below a leaf
constexpr uint32_t kHasRegex = 1u << 28;    // a bucket's root: the bucket has regex entries
constexpr uint32_t kIdMask = kHasRegex - 1;

// The first entry of a node's Exact or PathPrefix list, kept in the node itself (a copy of
// lists_[range.begin]): a lookup whose first candidate has no conditions then reads the node's
// one cache line and no list entry.
struct InlineCandidate {
  static constexpr uint32_t kConditions = 1u << 31; // in `spec`: headers / query / method
  const config::RouteMatch* match = nullptr;
  uint32_t rule = 0; // index into RouteTableImpl::rules_
  uint32_t spec = 0; // index into RouteTableImpl::specs_, | kConditions
};

// One cache line: the ranges and the first entry of both lists a lookup may try here.
struct alignas(64) Node {
  uint32_t parent = UINT32_MAX;
  Range exact;                 // into RouteTableImpl::lists_
  Range prefix;                // into RouteTableImpl::lists_
  Range regex;                 // a bucket's root only: the bucket's RegularExpression entries
  InlineCandidate firstExact;  // lists_[exact.begin] when exact is not empty
  InlineCandidate firstPrefix; // lists_[prefix.begin] when prefix is not empty
};
static_assert(sizeof(Node) == 64);

// Build time only: lookups find a bucket's root (with flags) in the host table.
struct Bucket {
  uint32_t root = 0; // node id
};

// What match() reads per candidate: everything needed when the entry has no header / query /
// method conditions, so the MatchSpec is only touched when it has.
struct Candidate {
  const MatchSpec* spec = nullptr;
  const CompiledRule* rule = nullptr;
  const config::RouteMatch* match = nullptr;
  bool conditions = false;
};

// Prefix nodes remembered on the way down; deeper paths fall back to the parent chain.
constexpr size_t kPrefixStack = 16;
// Path prefixes probed in parallel at the start of a walk; deeper ones one after the other.
constexpr size_t kProbeAhead = 8;

class RouteTableImpl final : public RouteTable {
public:
  const CompiledRule* match(const RequestView& request) const override {
    return lookup(request).rule;
  }

  RouteMatchResult lookup(const RequestView& request) const override {
    RouteMatchResult found;
    // A table without hostnames (or without wildcards) skips what cannot match: the host's
    // canonical form and the probe per label.
    if (hasExactHosts_ || hasWildcardHosts_) {
      std::array<char, kMaxHostBytes> buf;
      const std::string_view host = canonicalHost(request.host, buf);
      if (!host.empty()) {
        if (hasExactHosts_) {
          if (uint32_t root = hosts_.find(kExactScope, host); root != HostTable::kNotFound) {
            found = matchBucket(root, request);
          }
        }
        // Wildcard suffixes, longest first: "a.b.example.org" tries ".b.example.org", then
        // ".example.org", then ".org". The wildcard label must not be empty.
        for (size_t dot = hasWildcardHosts_ ? host.find('.', 1) : std::string_view::npos;
             found.rule == nullptr && dot != std::string_view::npos;
             dot = host.find('.', dot + 1)) {
          if (uint32_t root = hosts_.find(kWildcardScope, host.substr(dot));
              root != HostTable::kNotFound) {
            found = matchBucket(root, request);
          }
        }
      }
    }
    if (found.rule == nullptr && anyHostRoot_ != UINT32_MAX) {
      found = matchBucket(anyHostRoot_, request);
    }
    return found;
  }

  static constexpr uint32_t kExactScope = 0;
  static constexpr uint32_t kWildcardScope = 1;
  using HostTable = detail::FlatTable<42>;
  using EdgeTable = detail::FlatTable<42>; // keys are paths: most fit in the 64-byte slot

  // Build-time state, filled by compileRouteTable().
  detail::LargeVector<CompiledRule> rules_;
  detail::LargeVector<MatchSpec> specs_;
  std::vector<WeightedPool> backends_;      // CompiledRule::backends point into it
  std::vector<uint64_t> cumulativeWeights_; // CompiledRule::cumulativeWeights point into it
  detail::LargeVector<Bucket> buckets_;     // build time; released by finish()
  HostTable hosts_;                         // (scope, host) -> bucket index, then root with flags
  uint32_t anyHost_ = UINT32_MAX;           // bucket index (build time)
  uint32_t anyHostRoot_ = UINT32_MAX;       // root with flags
  bool hasExactHosts_ = false;              // hosts_ holds kExactScope keys
  bool hasWildcardHosts_ = false;           // hosts_ holds kWildcardScope keys
  detail::LargeVector<Node> nodes_;
  EdgeTable edges_; // (bucket root, path from it without the leading '/') -> node id with flags
  uint32_t maxDepth_ = 0;                // segments from a root to the deepest node
  detail::LargeVector<Candidate> lists_; // sorted by precedence within each Range

  // What a later compile needs to take over a prefix of this table's routes (compileRouteTable
  // with `previous`): the routes it was compiled from (shared: they cannot be freed and their
  // addresses reused while this table lives, so identity compares are sound), the pool names,
  // the stats slot of each route, and how many rules, specs, nodes, buckets and backends existed
  // before each route (marks_[routes] = all).
  struct RouteMark {
    uint32_t rules = 0;
    uint32_t specs = 0;
    uint32_t nodes = 0;
    uint32_t buckets = 0;
    uint32_t backends = 0;
  };
  config::RouteList sharedRoutes_;
  std::vector<std::string> poolNames_;
  std::vector<uint32_t> routeSlots_;
  std::vector<RouteMark> marks_;

private:
  // The first entry of a node's list (`range`, whose first entry is `first`) that matches.
  RouteMatchResult firstMatching(Range range, const InlineCandidate& first,
                                 const RequestView& request) const {
    if (range.begin == range.end) {
      return {};
    }
    if ((first.spec & InlineCandidate::kConditions) == 0 ||
        matchesRest(specs_[first.spec & ~InlineCandidate::kConditions], request)) {
      return {&rules_[first.rule], first.match};
    }
    for (uint32_t i = range.begin + 1; i < range.end; ++i) {
      const Candidate& c = lists_[i];
      if (!c.conditions || matchesRest(*c.spec, request)) {
        return {c.rule, c.match};
      }
    }
    return {};
  }
  RouteMatchResult firstExact(const Node& node, const RequestView& request) const {
    return firstMatching(node.exact, node.firstExact, request);
  }
  RouteMatchResult firstPrefix(const Node& node, const RequestView& request) const {
    return firstMatching(node.prefix, node.firstPrefix, request);
  }

  // `root`: a bucket's root node id with flags.
  RouteMatchResult matchBucket(uint32_t root, const RequestView& request) const {
    // Walk the path's segments: "/a/b" -> "a", "b"; "/" -> ""; "/a/" -> "a", "".
    std::string_view path = request.path;
    uint32_t node = root;
    std::array<uint32_t, kPrefixStack> prefixes;
    size_t depth = 0;
    bool overflow = false;
    auto remember = [&](uint32_t n) {
      if ((n & kHasPrefix) == 0) {
        return;
      }
      if (depth < prefixes.size()) {
        prefixes[depth++] = n & kIdMask;
      } else {
        overflow = true;
      }
    };
    remember(node);
    bool consumed = false;
    if (!path.empty() && path.front() == '/' && (node & kHasChildren) != 0) {
      // The keys of the first prefixes ("a", "a/b", ... of "/a/b/c"; no more than the deepest
      // node's depth or kProbeAhead), hashed and prefetched before the first probe.
      const std::string_view rest = path.substr(1);
      const uint32_t scope = root & kIdMask;
      std::array<uint32_t, kProbeAhead> ends;
      std::array<uint64_t, kProbeAhead> hashes;
      const size_t probes = std::min<size_t>(kProbeAhead, maxDepth_);
      size_t ahead = 0;
      for (size_t from = 0; ahead < probes;) {
        const size_t slash = rest.find('/', from);
        ends[ahead] = static_cast<uint32_t>(slash == std::string_view::npos ? rest.size() : slash);
        hashes[ahead] = EdgeTable::hash(scope, rest.substr(0, ends[ahead]));
        edges_.prefetch(hashes[ahead]);
        ++ahead;
        if (slash == std::string_view::npos) {
          break;
        }
        from = slash + 1;
      }
      size_t end = 0;
      for (size_t k = 0; (node & kHasChildren) != 0; ++k) {
        uint32_t child = EdgeTable::kNotFound;
        if (k < ahead) {
          end = ends[k];
          child = edges_.find(hashes[k], scope, rest.substr(0, end));
        } else {
          end = std::min(rest.find('/', end + 1), rest.size());
          child = edges_.find(scope, rest.substr(0, end));
        }
        if (child == EdgeTable::kNotFound) {
          break;
        }
        node = child;
        remember(node);
        if (end == rest.size()) {
          consumed = true;
          break;
        }
      }
    }
    if (consumed && (node & kHasExact) != 0) {
      if (RouteMatchResult hit = firstExact(nodes_[node & kIdMask], request); hit.rule != nullptr) {
        return hit;
      }
    }
    if (overflow) {
      for (uint32_t n = node & kIdMask; n != UINT32_MAX; n = nodes_[n].parent) {
        if (RouteMatchResult hit = firstPrefix(nodes_[n], request); hit.rule != nullptr) {
          return hit;
        }
      }
    } else {
      while (depth > 0) {
        if (RouteMatchResult hit = firstPrefix(nodes_[prefixes[--depth]], request);
            hit.rule != nullptr) {
          return hit;
        }
      }
    }
    if ((root & kHasRegex) == 0) {
      return {};
    }
    const Range regex = nodes_[root & kIdMask].regex;
    for (uint32_t i = regex.begin; i < regex.end; ++i) {
      const Candidate& c = lists_[i];
      if (RE2::FullMatch(path, *c.spec->pathRegex) &&
          (!c.conditions || matchesRest(*c.spec, request))) {
        return {c.rule, c.match};
      }
    }
    return {};
  }
};

// Build time: the lists a node can own, as `node * kListKinds + kind`. Regex lists belong to
// a bucket's root.
constexpr uint32_t kExactList = 0;
constexpr uint32_t kPrefixList = 1;
constexpr uint32_t kRegexList = 2;
constexpr uint32_t kListKinds = 3;

// One entry of one list, before the lists are grouped and sorted (Builder::finish).
struct PendingEntry {
  uint32_t list = 0; // node * kListKinds + kind
  uint32_t spec = 0; // index into RouteTableImpl::specs_
};

// Fills a RouteTableImpl. Allocation-lean: list entries are collected in one vector and grouped
// by a counting sort at the end (no vector per node or bucket), and the caller reserves the
// tables up front (no rehash while building).
class Builder {
public:
  explicit Builder(RouteTableImpl& table) : t_(table) {}

  // Capacity for `hosts` host keys, `edges` trie edges and `entries` list entries (estimates).
  void reserve(size_t hosts, size_t edges, size_t entries) {
    t_.hosts_.reserve(hosts);
    t_.edges_.reserve(edges);
    t_.nodes_.reserve(hosts + edges + 1);
    hasChildren_.reserve(hosts + edges + 1);
    pending_.reserve(entries);
  }

  // Takes over the trie, hosts and list entries the first routes of `old` made (those before
  // `mark`): the state this builder would have after adding the same routes. Into an empty table.
  void adopt(const RouteTableImpl& old, const RouteTableImpl::RouteMark& mark) {
    constexpr uint32_t kNotFound = RouteTableImpl::EdgeTable::kNotFound;
    t_.nodes_.resize(mark.nodes);
    std::vector<uint32_t> depth(mark.nodes, 0); // a parent is made before its children
    for (uint32_t i = 0; i < mark.nodes; ++i) {
      yieldPoint();
      const uint32_t parent = old.nodes_[i].parent;
      t_.nodes_[i].parent = parent;
      if (parent != UINT32_MAX) {
        depth[i] = depth[parent] + 1;
        t_.maxDepth_ = std::max(t_.maxDepth_, depth[i]);
      }
    }
    hasChildren_.assign(mark.nodes, 0);
    t_.buckets_.assign(old.buckets_.begin(), old.buckets_.begin() + mark.buckets);
    if (old.anyHost_ < mark.buckets) {
      t_.anyHost_ = old.anyHost_;
    }
    // The bucket a root belongs to (hosts map to roots once a table is finished).
    std::vector<uint32_t> bucketOfRoot(mark.nodes, 0);
    for (uint32_t b = 0; b < mark.buckets; ++b) {
      bucketOfRoot[t_.buckets_[b].root] = b;
    }
    t_.edges_.copyFrom(old.edges_, [&](uint32_t /*root*/, uint32_t child) {
      const uint32_t id = child & kIdMask;
      if (id >= mark.nodes) {
        return kNotFound;
      }
      hasChildren_[old.nodes_[id].parent] = 1;
      return id;
    });
    t_.hosts_.copyFrom(old.hosts_, [&](uint32_t scope, uint32_t root) {
      const uint32_t id = root & kIdMask;
      if (id >= mark.nodes) {
        return kNotFound;
      }
      (scope == RouteTableImpl::kWildcardScope ? t_.hasWildcardHosts_ : t_.hasExactHosts_) = true;
      return bucketOfRoot[id];
    });
    auto entries = [&](Range range, uint32_t list) {
      for (uint32_t i = range.begin; i < range.end; ++i) {
        const auto spec = static_cast<uint32_t>(old.lists_[i].spec - old.specs_.data());
        if (spec < mark.specs) {
          pending_.push_back({list, spec});
        }
      }
    };
    for (uint32_t n = 0; n < mark.nodes; ++n) {
      yieldPoint();
      const Node& node = old.nodes_[n];
      entries(node.exact, n * kListKinds + kExactList);
      entries(node.prefix, n * kListKinds + kPrefixList);
      entries(node.regex, n * kListKinds + kRegexList);
    }
  }

  uint32_t bucketFor(std::string_view hostname) {
    // Config hostnames are lowercase already (the decoder folds them): copy only when not.
    std::string lowered;
    std::string_view host = hostname;
    if (std::any_of(hostname.begin(), hostname.end(),
                    [](char c) { return c >= 'A' && c <= 'Z'; })) {
      lowered = lowerCopy(hostname);
      host = lowered;
    }
    if (host.empty() || host == "*") {
      if (t_.anyHost_ == UINT32_MAX) {
        t_.anyHost_ = newBucket();
      }
      return t_.anyHost_;
    }
    bool wildcard = host.size() > 2 && host[0] == '*' && host[1] == '.';
    std::string_view key = wildcard ? host.substr(1) : host;
    (wildcard ? t_.hasWildcardHosts_ : t_.hasExactHosts_) = true;
    uint32_t& bucket = t_.hosts_.insert(
        wildcard ? RouteTableImpl::kWildcardScope : RouteTableImpl::kExactScope, key);
    if (bucket == RouteTableImpl::HostTable::kNotFound) {
      bucket = newBucket(); // does not touch t_.hosts_: `bucket` stays valid
    }
    return bucket;
  }

  void add(uint32_t bucket, uint32_t specIndex) {
    const MatchSpec& spec = t_.specs_[specIndex];
    const uint32_t root = t_.buckets_[bucket].root;
    switch (spec.pathType) {
    case config::PathMatchType::RegularExpression:
      pending_.push_back({root * kListKinds + kRegexList, specIndex});
      break;
    case config::PathMatchType::Exact:
      pending_.push_back({nodeFor(root, spec.pathValue) * kListKinds + kExactList, specIndex});
      break;
    case config::PathMatchType::PathPrefix:
      pending_.push_back({nodeFor(root, spec.pathValue) * kListKinds + kPrefixList, specIndex});
      break;
    }
  }

  void finish() {
    // Group the entries by list (counting sort, stable: config order within a list), then sort
    // each list by precedence. `order` is unique per spec and a spec is in a list at most once,
    // so an unstable sort on the full precedence gives the one order a stable sort would.
    const size_t lists = t_.nodes_.size() * kListKinds;
    std::vector<uint32_t> begin(lists + 1, 0);
    for (const PendingEntry& e : pending_) {
      ++begin[e.list + 1];
    }
    for (size_t i = 1; i <= lists; ++i) {
      begin[i] += begin[i - 1];
    }
    std::vector<uint32_t> grouped(pending_.size());
    {
      std::vector<uint32_t> next(begin.begin(), begin.end() - 1);
      for (const PendingEntry& e : pending_) {
        grouped[next[e.list]++] = e.spec;
      }
    }
    std::vector<PendingEntry>().swap(pending_);
    // `grouped` is in the order of lists_ (node by node, kinds in order): list L is
    // lists_[begin[L], begin[L + 1]).
    for (size_t list = 0; list < lists; ++list) {
      if (begin[list + 1] - begin[list] > 1) {
        std::sort(grouped.begin() + begin[list], grouped.begin() + begin[list + 1],
                  [this](uint32_t a, uint32_t b) { return precedes(t_.specs_[a], t_.specs_[b]); });
      }
    }
    t_.lists_.reserve(grouped.size());
    for (uint32_t index : grouped) {
      yieldPoint();
      const MatchSpec& spec = t_.specs_[index];
      bool conditions = !spec.headers.empty() || !spec.query.empty() || !spec.method.empty();
      t_.lists_.push_back(Candidate{&spec, spec.rule, spec.match, conditions});
    }
    for (size_t i = 0; i < t_.nodes_.size(); ++i) {
      yieldPoint();
      const size_t list = i * kListKinds;
      Node& node = t_.nodes_[i];
      node.exact = Range{begin[list + kExactList], begin[list + kExactList + 1]};
      node.prefix = Range{begin[list + kPrefixList], begin[list + kPrefixList + 1]};
      node.regex = Range{begin[list + kRegexList], begin[list + kRegexList + 1]};
      node.firstExact = inlineCopy(node.exact);
      node.firstPrefix = inlineCopy(node.prefix);
    }
    // Node flags, as lookups see them: in the edge table, and bucket roots in the host table.
    t_.edges_.updateValues([this](uint32_t child) { return child | flagsOf(child); });
    t_.hosts_.updateValues(
        [this](uint32_t bucket) { return rootWithFlags(t_.buckets_[bucket].root); });
    if (t_.anyHost_ != UINT32_MAX) {
      t_.anyHostRoot_ = rootWithFlags(t_.buckets_[t_.anyHost_].root);
    }
    t_.lists_.shrink_to_fit();
    t_.nodes_.shrink_to_fit();
    t_.edges_.finish();
    t_.hosts_.finish();
  }

private:
  InlineCandidate inlineCopy(Range range) const {
    if (range.begin == range.end) {
      return {};
    }
    const Candidate& c = t_.lists_[range.begin];
    auto spec = static_cast<uint32_t>(c.spec - t_.specs_.data());
    return {c.match, static_cast<uint32_t>(c.rule - t_.rules_.data()),
            spec | (c.conditions ? InlineCandidate::kConditions : 0)};
  }

  uint32_t rootWithFlags(uint32_t id) const {
    const Node& n = t_.nodes_[id];
    return id | flagsOf(id) | (n.regex.end > n.regex.begin ? kHasRegex : 0);
  }

  uint32_t flagsOf(uint32_t id) const {
    const Node& n = t_.nodes_[id];
    return (n.exact.end > n.exact.begin ? kHasExact : 0) |
           (n.prefix.end > n.prefix.begin ? kHasPrefix : 0) | (hasChildren_[id] ? kHasChildren : 0);
  }

  uint32_t newNode(uint32_t parent) {
    if (parent != UINT32_MAX) {
      hasChildren_[parent] = 1;
    }
    hasChildren_.push_back(0);
    Node& node = t_.nodes_.emplace_back();
    node.parent = parent;
    return static_cast<uint32_t>(t_.nodes_.size() - 1);
  }

  uint32_t newBucket() {
    t_.buckets_.push_back(Bucket{newNode(UINT32_MAX)});
    return static_cast<uint32_t>(t_.buckets_.size() - 1);
  }

  // The node for `path` ("" = the root, else "/seg/seg...") under `root`, created as needed.
  uint32_t nodeFor(uint32_t root, std::string_view path) {
    const uint32_t scope = root & kIdMask;
    uint32_t node = scope;
    if (path.empty()) {
      return node;
    }
    const std::string_view rest = path.substr(1);
    for (uint32_t depth = 1, from = 0;; ++depth) {
      const size_t slash = rest.find('/', from);
      t_.maxDepth_ = std::max(t_.maxDepth_, depth);
      uint32_t& child = t_.edges_.insert(scope, rest.substr(0, slash));
      if (child == RouteTableImpl::EdgeTable::kNotFound) {
        uint32_t id = newNode(node); // does not touch t_.edges_: `child` stays valid
        child = id;
        node = id;
      } else {
        node = child & kIdMask;
      }
      if (slash == std::string_view::npos) {
        return node;
      }
      from = static_cast<uint32_t>(slash + 1);
    }
  }

  RouteTableImpl& t_;
  std::vector<PendingEntry> pending_;
  std::vector<uint8_t> hasChildren_;
};

Result<std::shared_ptr<const RE2>> compileRegex(const std::string& pattern, std::string_view what) {
  RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_unique<RE2>(pattern, options);
  if (!re->ok()) {
    return Error{std::string(what) + ": invalid regular expression \"" + pattern +
                 "\": " + re->error()};
  }
  return std::shared_ptr<const RE2>(std::move(re));
}

Result<StringMatcher> compileStringMatch(const std::string& name, config::StringMatchType type,
                                         const std::string& value, bool lowerName) {
  StringMatcher m;
  m.name = lowerName ? lowerCopy(name) : name;
  m.value = value;
  if (type == config::StringMatchType::RegularExpression) {
    auto re = compileRegex(value, name);
    if (!re) {
      return re.error();
    }
    m.regex = std::move(re.value());
  }
  return m;
}

// Fills `spec` (default-constructed) for one `matches` entry (nullptr: match-all). Returns the
// error, if any.
std::optional<Error> compileMatch(const CompiledRule* rule, const config::RouteMatch* match,
                                  MatchSpec& spec) {
  spec.rule = rule;
  spec.match = match;
  spec.pathType = config::PathMatchType::PathPrefix;
  if (match == nullptr) {
    return std::nullopt; // match-all: PathPrefix "/"
  }
  if (match->path) {
    spec.pathType = match->path->type;
    spec.pathValue = match->path->value;
    if (spec.pathValue.size() > RouteTableImpl::EdgeTable::kMaxKey) {
      return Error{"path longer than 65535 bytes"};
    }
  }
  switch (spec.pathType) {
  case config::PathMatchType::PathPrefix:
    while (!spec.pathValue.empty() && spec.pathValue.back() == '/') {
      spec.pathValue.pop_back();
    }
    if (!spec.pathValue.empty() && spec.pathValue.front() != '/') {
      return Error{"path prefix \"" + spec.pathValue + "\" must start with '/'"};
    }
    break;
  case config::PathMatchType::Exact:
    if (spec.pathValue.empty() || spec.pathValue.front() != '/') {
      return Error{"exact path \"" + spec.pathValue + "\" must start with '/'"};
    }
    break;
  case config::PathMatchType::RegularExpression: {
    auto re = compileRegex(spec.pathValue, "path");
    if (!re) {
      return re.error();
    }
    spec.pathRegex = std::move(re.value());
    break;
  }
  }
  for (const config::HeaderMatch& h : match->headers) {
    auto m = compileStringMatch(h.name, h.type, h.value, true);
    if (!m) {
      return m.error();
    }
    spec.headers.push_back(std::move(m.value()));
  }
  for (const config::QueryParamMatch& q : match->queryParams) {
    auto m = compileStringMatch(q.name, q.type, q.value, false);
    if (!m) {
      return m.error();
    }
    spec.query.push_back(std::move(m.value()));
  }
  if (match->method) {
    spec.method = *match->method;
  }
  return std::nullopt;
}

} // namespace

uint32_t pickBackend(const CompiledRule& rule, uint64_t random) {
  if (rule.singlePool != kNoBackend) {
    return rule.singlePool; // no split: the vectors below are not touched
  }
  if (rule.totalWeight == 0 || rule.cumulativeWeights.size() != rule.backends.size()) {
    return kNoBackend;
  }
  uint64_t target = random % rule.totalWeight;
  auto it = std::upper_bound(rule.cumulativeWeights.begin(), rule.cumulativeWeights.end(), target);
  return rule.backends[static_cast<size_t>(it - rule.cumulativeWeights.begin())].poolIndex;
}

namespace {

// How many leading routes `config` shares with the config `old` was compiled from: the same
// Route objects (RouteList sharing) at the same indices with the same stats slots, and the same
// pools in the same order (backends resolve to the same indices). 0 when `old` cannot be used.
size_t sharedPrefix(const RouteTableImpl& old, const config::Config& config,
                    std::span<const uint32_t> routeStatsSlots) {
  if (old.poolNames_.size() != config.pools.size()) {
    return 0;
  }
  for (size_t i = 0; i < config.pools.size(); ++i) {
    if (old.poolNames_[i] != config.pools[i].name) {
      return 0;
    }
  }
  const size_t n = std::min(old.sharedRoutes_.size(), config.routes.size());
  size_t k = 0;
  while (k < n && old.sharedRoutes_.shared(k) == config.routes.shared(k) &&
         old.routeSlots_[k] == (k < routeStatsSlots.size() ? routeStatsSlots[k] : 0)) {
    ++k;
  }
  return k;
}

// Copies the rules, specs and backends the first `mark` routes of `old` compiled to, with their
// pointers moved to `table`'s arrays (reserved: nothing reallocates).
void adoptRules(RouteTableImpl& table, const RouteTableImpl& old,
                const RouteTableImpl::RouteMark& mark) {
  table.backends_.insert(table.backends_.end(), old.backends_.begin(),
                         old.backends_.begin() + mark.backends);
  table.cumulativeWeights_.insert(table.cumulativeWeights_.end(), old.cumulativeWeights_.begin(),
                                  old.cumulativeWeights_.begin() + mark.backends);
  for (uint32_t i = 0; i < mark.rules; ++i) {
    yieldPoint();
    CompiledRule& rule = table.rules_.emplace_back(old.rules_[i]);
    rule.backends = {table.backends_.data() + (rule.backends.data() - old.backends_.data()),
                     rule.backends.size()};
    rule.cumulativeWeights = {table.cumulativeWeights_.data() +
                                  (rule.cumulativeWeights.data() - old.cumulativeWeights_.data()),
                              rule.cumulativeWeights.size()};
  }
  for (uint32_t i = 0; i < mark.specs; ++i) {
    yieldPoint();
    MatchSpec& spec = table.specs_.emplace_back(old.specs_[i]);
    spec.rule = table.rules_.data() + (spec.rule - old.rules_.data());
  }
}

} // namespace

Result<RouteTablePtr> compileRouteTable(const config::Config& config,
                                        std::span<const uint32_t> routeStatsSlots,
                                        const RouteTable* previous) {
  auto table = std::make_unique<RouteTableImpl>();
  table->sharedRoutes_ = config.routes;
  for (const config::Pool& pool : config.pools) {
    table->poolNames_.push_back(pool.name);
  }
  table->routeSlots_.reserve(config.routes.size());
  for (size_t r = 0; r < config.routes.size(); ++r) {
    table->routeSlots_.push_back(r < routeStatsSlots.size() ? routeStatsSlots[r] : 0);
  }
  std::unordered_map<std::string_view, uint32_t> poolIndex;
  for (size_t i = 0; i < config.pools.size(); ++i) {
    poolIndex.emplace(config.pools[i].name, static_cast<uint32_t>(i));
  }

  // Sizes first, so that nothing below reallocates: CompiledRule and backend pointers stay
  // valid, and the hash tables do not rehash.
  size_t ruleCount = 0;
  size_t matchCount = 0;
  size_t backendCount = 0;
  size_t hostCount = 0;
  size_t edgeCount = 0;  // an upper bound: path segments per match entry and host
  size_t entryCount = 0; // list entries: match entries x hosts
  for (const config::Route& route : config.routes) {
    const size_t hosts = std::max<size_t>(route.hostnames.size(), 1);
    hostCount += route.hostnames.size();
    ruleCount += route.rules.size();
    for (const config::Rule& rule : route.rules) {
      backendCount += rule.backends.size();
      const size_t entries = std::max<size_t>(rule.matches.size(), 1);
      matchCount += entries;
      entryCount += entries * hosts;
      for (const config::RouteMatch& m : rule.matches) {
        if (m.path && m.path->type != config::PathMatchType::RegularExpression) {
          edgeCount += hosts * static_cast<size_t>(
                                   std::count(m.path->value.begin(), m.path->value.end(), '/'));
        }
      }
    }
  }
  table->rules_.reserve(ruleCount);
  table->specs_.reserve(matchCount);
  table->backends_.reserve(backendCount);
  table->cumulativeWeights_.reserve(backendCount);

  Builder builder(*table);
  builder.reserve(hostCount, edgeCount, entryCount);
  table->marks_.reserve(config.routes.size() + 1);
  uint64_t order = 0;
  size_t first = 0;
  // RouteTableImpl is the only RouteTable.
  if (const auto* old = static_cast<const RouteTableImpl*>(previous)) {
    first = sharedPrefix(*old, config, routeStatsSlots);
    if (first > 0) {
      const RouteTableImpl::RouteMark& mark = old->marks_[first];
      adoptRules(*table, *old, mark);
      builder.adopt(*old, mark);
      table->marks_.assign(old->marks_.begin(), old->marks_.begin() + first);
      order = mark.specs; // one order per spec, in config order
    }
  }
  auto markNow = [&] {
    table->marks_.push_back(
        {static_cast<uint32_t>(table->rules_.size()), static_cast<uint32_t>(table->specs_.size()),
         static_cast<uint32_t>(table->nodes_.size()), static_cast<uint32_t>(table->buckets_.size()),
         static_cast<uint32_t>(table->backends_.size())});
  };
  std::vector<uint32_t> buckets;
  for (size_t r = first; r < config.routes.size(); ++r) {
    yieldPoint();
    markNow();
    const config::Route& route = config.routes[r];
    // Error context, built only when there is an error (the compile runs once per route).
    auto where = [&] { return "routes[" + std::to_string(r) + "] (" + route.name + ")"; };
    buckets.clear();
    if (route.hostnames.empty()) {
      buckets.push_back(builder.bucketFor(""));
    }
    for (const std::string& hostname : route.hostnames) {
      if (hostname.size() > kMaxHostBytes) {
        return Error{where() + ": hostname longer than 255 bytes"};
      }
      uint32_t b = builder.bucketFor(hostname);
      if (std::find(buckets.begin(), buckets.end(), b) == buckets.end()) {
        buckets.push_back(b);
      }
    }
    for (size_t k = 0; k < route.rules.size(); ++k) {
      const config::Rule& rule = route.rules[k];
      CompiledRule& compiled = table->rules_.emplace_back();
      compiled.routeIndex = static_cast<uint32_t>(r);
      compiled.ruleIndex = static_cast<uint32_t>(k);
      compiled.routeName = route.name;
      compiled.rule = &rule;
      compiled.statsSlot = r < routeStatsSlots.size() ? routeStatsSlots[r] : 0;
      compiled.hasFilters = !rule.filters.empty();
      const config::Timeouts& t = rule.timeouts;
      if (t.request || t.backendRequest || t.connect || t.idle) {
        compiled.timeouts = &t;
      }
      compiled.retry = rule.retry ? &*rule.retry : nullptr;
      const size_t firstBackend = table->backends_.size();
      for (const config::BackendRef& backend : rule.backends) {
        auto it = poolIndex.find(backend.pool);
        if (it == poolIndex.end()) {
          return Error{where() + ".rules[" + std::to_string(k) + "]: unknown pool \"" +
                       backend.pool + "\""};
        }
        if (backend.weight == 0) {
          continue;
        }
        compiled.totalWeight += backend.weight;
        table->backends_.push_back(WeightedPool{it->second, backend.weight});
        table->cumulativeWeights_.push_back(compiled.totalWeight);
      }
      const size_t backends = table->backends_.size() - firstBackend;
      compiled.backends = {table->backends_.data() + firstBackend, backends};
      compiled.cumulativeWeights = {table->cumulativeWeights_.data() + firstBackend, backends};
      if (backends == 1) {
        compiled.singlePool = compiled.backends.front().poolIndex;
      }
      size_t entries = std::max<size_t>(rule.matches.size(), 1);
      for (size_t m = 0; m < entries; ++m) {
        const config::RouteMatch* match = rule.matches.empty() ? nullptr : &rule.matches[m];
        MatchSpec& spec = table->specs_.emplace_back();
        if (auto error = compileMatch(&compiled, match, spec)) {
          return Error{where() + ".rules[" + std::to_string(k) + "].matches[" + std::to_string(m) +
                       "]: " + error->message};
        }
        spec.order = order++;
        auto specIndex = static_cast<uint32_t>(table->specs_.size() - 1);
        for (uint32_t b : buckets) {
          builder.add(b, specIndex);
        }
      }
    }
  }
  markNow();
  if (table->nodes_.size() > kIdMask) {
    return Error{"route table too large: more than 2^28 path segments"};
  }
  if (table->specs_.size() >= InlineCandidate::kConditions) {
    return Error{"route table too large: more than 2^31 match entries"};
  }
  builder.finish();
  return RouteTablePtr(std::move(table));
}

} // namespace fulcrum::router
