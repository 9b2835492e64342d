#pragma once

// A located, read-only YAML tree built from yaml-cpp's event stream (JSON is YAML flow style, so
// it parses here too). Unlike YAML::Node it keeps duplicate map keys (the validator reports them),
// records the position of every node, and bounds the work an input can cause: document size,
// nesting depth and alias expansion are limited, so untrusted text cannot exhaust the stack or
// memory.
//
// Ownership: a Tree owns all nodes; NodeRefs point into it and must not outlive it. Thread-safety:
// a finished Tree is immutable and may be read from any thread.

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace fulcrum::config {

inline constexpr size_t kMaxDocumentBytes = size_t{64} << 20;
inline constexpr size_t kMaxNestingDepth = 64;

// 1-based position; 0 when unknown.
struct Mark {
  int line = 0;
  int column = 0;
};

enum class NodeKind : uint8_t { Null, Scalar, Sequence, Map };

// A 128-bit hash identifying the input of one route's decode (config::DecodeCache).
struct ContentKey {
  uint64_t low = 0;
  uint64_t high = 0;
  bool operator==(const ContentKey&) const = default;
};

class Tree;
class DecodeCache;

// A handle to one node of a Tree. Default-constructed = absent.
class NodeRef {
public:
  NodeRef() = default;
  NodeRef(const Tree* tree, uint32_t index) : tree_(tree), index_(index) {}

  explicit operator bool() const { return tree_ != nullptr; }
  NodeKind kind() const;
  bool isNull() const { return kind() == NodeKind::Null; }
  bool isScalar() const { return kind() == NodeKind::Scalar; }
  bool isSequence() const { return kind() == NodeKind::Sequence; }
  bool isMap() const { return kind() == NodeKind::Map; }
  Mark mark() const;

  // Scalar text (after YAML unescaping); empty for other kinds.
  std::string_view scalar() const;
  // True for scalars written with quotes or as block scalars (`|`, `>`).
  bool quoted() const;

  // Items of a sequence, or entries of a map (in document order, duplicates kept).
  size_t size() const;
  NodeRef item(size_t i) const;
  NodeRef key(size_t i) const;
  NodeRef value(size_t i) const;

  // For messages: `"text"` for scalars, else "null", "a list", "a map".
  std::string describe() const;

  // Appends to `out` everything a reader of this subtree can observe: every node's kind,
  // quoting, line, column and scalar text, and the structure. Equal fingerprints = subtrees that
  // decode alike (config::DecodeCache).
  void fingerprint(std::string& out) const;

  // Route elements of a tree parsed with a DecodeCache (parseYaml below): the key of the
  // element's exact input, when the JSON fast path computed one.
  std::optional<ContentKey> contentKey() const;
  // True for a route element the parser did not build because the cache holds its decode under
  // contentKey(). Such a node has kind Null and no children; only the decoder's route loop may
  // see it (it takes the cache's entry instead of reading the node).
  bool reused() const;

private:
  const Tree* tree_ = nullptr;
  uint32_t index_ = 0;
};

class Tree {
public:
  // Roots of the non-empty documents of the stream, in order.
  const std::vector<NodeRef>& documents() const { return documents_; }

private:
  friend class NodeRef;
  friend class TreeBuilder;

  struct Node {
    uint32_t first = 0; // scalar: offset in scalars_; collection: offset in children_
    uint32_t count = 0; // scalar: length; sequence: items; map: 2 x entries (key, value, ...)
    int32_t line = 0;
    int32_t column = 0;
    NodeKind kind = NodeKind::Null;
    bool quoted = false;
    bool reused = false; // see NodeRef::reused()
  };
  struct KeyedNode {
    uint32_t node;
    ContentKey key;
  };

  std::vector<Node> nodes_;
  std::vector<uint32_t> children_;
  std::string scalars_;
  std::vector<NodeRef> documents_;
  std::vector<KeyedNode> keys_; // ascending by node
};

struct SyntaxError {
  Mark mark;
  std::string message;
};

struct ParseOutput {
  std::unique_ptr<Tree> tree;       // always set; holds the documents completed before any error
  std::optional<SyntaxError> error; // parsing stops at the first syntax error
};

// Parses a YAML (or JSON) stream. Never throws. A strict JSON document takes a fast path that
// yields the same tree and marks as yaml-cpp; everything else goes through parseYamlStream().
ParseOutput parseYaml(std::string_view text);
// Same tree, except that with a strict JSON document whose root is a map, each element of the
// first "routes" list gets a ContentKey: XXH3-128 of its exact bytes, its index, its start line
// and column, and `file`. An element whose key `cache` holds from the previous load (decoded
// without errors) is only scanned for its end, not parsed: it becomes a reused() node. Identical
// bytes at an identical position and index parse to an identical subtree with identical marks,
// so the decode is the cached one. An element that lies wholly in the common prefix of `text` and
// the previous load's document of the same file (DecodeCache::JsonTrail) is neither scanned nor
// hashed: its key is the one recorded then. When the fast path reads the whole document, its
// trail is kept in `cache` for the next load. Without a cache, or for YAML, this is
// parseYaml(text).
ParseOutput parseYaml(std::string_view text, DecodeCache* cache, std::string_view file);
// Parses with yaml-cpp only (the reference for the JSON fast path's tests). Never throws.
ParseOutput parseYamlStream(std::string_view text);
// Same documents, kinds, scalars, quoting and marks (tests and the differential fuzzer).
bool sameTree(const Tree& a, const Tree& b);

} // namespace fulcrum::config
