#include "config/document.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <istream>
#include <streambuf>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

#include <xxhash.h>

#include "common/cooperative_yield.h"
#include "config/decode_cache.h"
#include "config/lexical.h"

namespace fulcrum::config {

NodeKind NodeRef::kind() const {
  return tree_->nodes_[index_].kind;
}

Mark NodeRef::mark() const {
  const auto& n = tree_->nodes_[index_];
  return Mark{n.line, n.column};
}

std::string_view NodeRef::scalar() const {
  const auto& n = tree_->nodes_[index_];
  if (n.kind != NodeKind::Scalar) {
    return {};
  }
  return std::string_view(tree_->scalars_).substr(n.first, n.count);
}

bool NodeRef::quoted() const {
  return tree_->nodes_[index_].quoted;
}

size_t NodeRef::size() const {
  const auto& n = tree_->nodes_[index_];
  switch (n.kind) {
  case NodeKind::Sequence:
    return n.count;
  case NodeKind::Map:
    return n.count / 2;
  default:
    return 0;
  }
}

NodeRef NodeRef::item(size_t i) const {
  return NodeRef(tree_, tree_->children_[tree_->nodes_[index_].first + i]);
}

NodeRef NodeRef::key(size_t i) const {
  return NodeRef(tree_, tree_->children_[tree_->nodes_[index_].first + 2 * i]);
}

NodeRef NodeRef::value(size_t i) const {
  return NodeRef(tree_, tree_->children_[tree_->nodes_[index_].first + 2 * i + 1]);
}

void NodeRef::fingerprint(std::string& out) const {
  // Explicit stack: aliases can make a subtree deeper than kMaxNestingDepth.
  const Tree& tree = *tree_;
  auto emit = [&](uint32_t index) {
    const auto& n = tree.nodes_[index];
    char head[14];
    head[0] = static_cast<char>(n.kind);
    head[1] = n.quoted ? 1 : 0;
    std::memcpy(head + 2, &n.line, 4);
    std::memcpy(head + 6, &n.column, 4);
    std::memcpy(head + 10, &n.count, 4);
    out.append(head, sizeof head);
    if (n.kind == NodeKind::Scalar) {
      out.append(tree.scalars_, n.first, n.count);
    }
    return n.kind == NodeKind::Sequence || n.kind == NodeKind::Map;
  };
  if (!emit(index_)) {
    return;
  }
  std::vector<std::pair<uint32_t, uint32_t>> stack; // (collection, next child)
  stack.reserve(16);
  stack.emplace_back(index_, 0);
  while (!stack.empty()) {
    auto& [node, next] = stack.back();
    const auto& n = tree.nodes_[node];
    if (next == n.count) {
      stack.pop_back();
      continue;
    }
    const uint32_t child = tree.children_[n.first + next++];
    if (emit(child)) {
      stack.emplace_back(child, 0);
    }
  }
}

std::optional<ContentKey> NodeRef::contentKey() const {
  const auto& keys = tree_->keys_;
  auto it = std::lower_bound(keys.begin(), keys.end(), index_,
                             [](const Tree::KeyedNode& k, uint32_t node) { return k.node < node; });
  if (it == keys.end() || it->node != index_) {
    return std::nullopt;
  }
  return it->key;
}

bool NodeRef::reused() const {
  return tree_->nodes_[index_].reused;
}

std::string NodeRef::describe() const {
  switch (kind()) {
  case NodeKind::Null:
    return "null";
  case NodeKind::Scalar:
    return quote(scalar());
  case NodeKind::Sequence:
    return "a list";
  case NodeKind::Map:
    return "a map";
  }
  return "?";
}

namespace {

// A read-only streambuf over caller-owned memory (yaml-cpp wants an istream; no copy needed).
class ViewBuffer : public std::streambuf {
public:
  explicit ViewBuffer(std::string_view text) {
    char* p = const_cast<char*>(text.data()); // never written: get area only
    setg(p, p, p + text.size());
  }
};

// Thrown from event callbacks to abort yaml-cpp's parse with a located message.
struct BuildError {
  Mark mark;
  std::string message;
};

Mark toMark(const YAML::Mark& m) {
  if (m.is_null()) {
    return Mark{};
  }
  return Mark{m.line + 1, m.column + 1};
}

// Aliases share the anchored node, so a small document can describe a huge tree ("billion
// laughs"). Consumers walk the expanded tree, so its size is bounded relative to the parsed size.
constexpr uint64_t kMinExpansionBudget = 1'000'000;
constexpr uint64_t kExpansionFactor = 16;

} // namespace

class TreeBuilder : public YAML::EventHandler {
public:
  explicit TreeBuilder(Tree& tree) : tree_(tree) {}

  // Sizes the tree for a JSON text of `bytes` (a guess from compact JSON: one node per ~12
  // bytes), so that a large document does not grow its arrays by reallocation many times over.
  void reserveForJson(size_t bytes) {
    const size_t nodes = bytes / 12;
    tree_.nodes_.reserve(nodes);
    tree_.children_.reserve(nodes);
    tree_.scalars_.reserve(bytes / 2);
  }

  void OnDocumentStart(const YAML::Mark& mark) override {
    // yaml-cpp 0.7 does not consume some stray tokens after a document (e.g. `{a: 1}, b`): it then
    // reports empty documents at the same position forever. A new document must start past the
    // previous one.
    Mark m = toMark(mark);
    if (documentStarted_ && m.line == lastDocument_.line && m.column == lastDocument_.column) {
      throw BuildError{m, "YAML syntax error: unexpected content after the end of the document"};
    }
    documentStarted_ = true;
    lastDocument_ = m;
    stack_.clear();
    pending_.clear();
    root_.reset();
    anchors_.clear();
  }

  void OnDocumentEnd() override {
    if (root_ && tree_.nodes_[*root_].kind != NodeKind::Null) {
      tree_.documents_.emplace_back(&tree_, *root_);
    }
    root_.reset();
  }

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    uint32_t index = addNode(NodeKind::Null, mark);
    attach(index, 1);
    defineAnchor(anchor, index, 1);
  }

  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    if (anchor >= anchors_.size() || !anchors_[anchor].complete) {
      throw BuildError{toMark(mark), "alias refers to a node that contains it (recursive alias)"};
    }
    attach(anchors_[anchor].node, anchors_[anchor].expandedSize);
  }

  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    yieldPoint(); // yaml-cpp's parse has no loop of ours; a long document has many scalars
    uint32_t index = addNode(NodeKind::Scalar, mark);
    auto& node = tree_.nodes_[index];
    node.first = static_cast<uint32_t>(tree_.scalars_.size());
    node.count = static_cast<uint32_t>(value.size());
    node.quoted = tag == "!";
    tree_.scalars_ += value;
    attach(index, 1);
    defineAnchor(anchor, index, 1);
  }

  // A route element the DecodeCache holds under `key` (parseYaml with a cache): one Null node.
  void OnReused(const YAML::Mark& mark, const ContentKey& key) {
    uint32_t index = addNode(NodeKind::Null, mark);
    tree_.nodes_[index].reused = true;
    attach(index, 1);
    setKey(index, key);
  }
  // Records the key of node `index`; nodes are keyed in ascending order.
  void setKey(uint32_t index, const ContentKey& key) { tree_.keys_.push_back({index, key}); }
  uint32_t nextNode() const { return static_cast<uint32_t>(tree_.nodes_.size()); }

  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(NodeKind::Sequence, mark, anchor);
  }
  void OnSequenceEnd() override { close(); }

  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(NodeKind::Map, mark, anchor);
  }
  void OnMapEnd() override { close(); }

private:
  // An open collection; its children so far are pending_[firstChild..] (one stack for all open
  // collections, so that a collection costs no allocation of its own).
  struct Frame {
    uint32_t node;
    YAML::anchor_t anchor;
    uint64_t expandedAtStart;
    size_t firstChild;
  };

  struct Anchor {
    uint32_t node = 0;
    uint64_t expandedSize = 0;
    bool complete = false;
  };

  uint32_t addNode(NodeKind kind, const YAML::Mark& mark) {
    if (tree_.nodes_.size() >= UINT32_MAX - 1) {
      throw BuildError{toMark(mark), "document has too many nodes"};
    }
    Mark m = toMark(mark);
    Tree::Node node;
    node.kind = kind;
    node.line = m.line;
    node.column = m.column;
    tree_.nodes_.push_back(node);
    return static_cast<uint32_t>(tree_.nodes_.size() - 1);
  }

  // Adds `index` to the open collection (or makes it the document root) and charges
  // `expandedSize` nodes to the expansion budget.
  void attach(uint32_t index, uint64_t expandedSize) {
    expanded_ += expandedSize;
    if (expanded_ > kMinExpansionBudget && expanded_ > kExpansionFactor * tree_.nodes_.size()) {
      const auto& n = tree_.nodes_[index];
      throw BuildError{Mark{n.line, n.column},
                       "aliases expand the document to too many nodes (alias bomb?)"};
    }
    if (stack_.empty()) {
      root_ = index;
      return;
    }
    const auto& frame = stack_.back();
    // A null map value has no text of its own (`key:`); yaml-cpp marks the next token, often on a
    // later line, so it takes its key's position instead.
    if (tree_.nodes_[frame.node].kind == NodeKind::Map &&
        (pending_.size() - frame.firstChild) % 2 == 1 &&
        tree_.nodes_[index].kind == NodeKind::Null && index == tree_.nodes_.size() - 1) {
      const auto& key = tree_.nodes_[pending_.back()];
      tree_.nodes_[index].line = key.line;
      tree_.nodes_[index].column = key.column;
    }
    pending_.push_back(index);
  }

  void open(NodeKind kind, const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (stack_.size() >= kMaxNestingDepth) {
      throw BuildError{toMark(mark),
                       fmt::format("document is nested deeper than {} levels", kMaxNestingDepth)};
    }
    uint32_t index = addNode(kind, mark);
    if (anchor != 0) {
      if (anchor >= anchors_.size()) {
        anchors_.resize(anchor + 1);
      }
      anchors_[anchor] = Anchor{index, 0, false};
    }
    stack_.push_back(Frame{index, anchor, expanded_, pending_.size()});
  }

  void close() {
    const Frame frame = stack_.back();
    stack_.pop_back();
    auto& node = tree_.nodes_[frame.node];
    node.first = static_cast<uint32_t>(tree_.children_.size());
    node.count = static_cast<uint32_t>(pending_.size() - frame.firstChild);
    tree_.children_.insert(tree_.children_.end(),
                           pending_.begin() + static_cast<std::ptrdiff_t>(frame.firstChild),
                           pending_.end());
    pending_.resize(frame.firstChild);
    uint64_t size = expanded_ - frame.expandedAtStart + 1;
    defineAnchor(frame.anchor, frame.node, size);
    // The collection's own node is charged once it is attached to its parent; its children have
    // been charged already, so only the 1 for itself is new.
    expanded_ -= size - 1;
    attach(frame.node, size);
  }

  void defineAnchor(YAML::anchor_t anchor, uint32_t index, uint64_t expandedSize) {
    if (anchor == 0) {
      return;
    }
    if (anchor >= anchors_.size()) {
      anchors_.resize(anchor + 1);
    }
    anchors_[anchor] = Anchor{index, expandedSize, true};
  }

  Tree& tree_;
  std::vector<Frame> stack_;
  std::vector<uint32_t> pending_; // children of the open collections, innermost last
  std::optional<uint32_t> root_;
  std::vector<Anchor> anchors_;
  uint64_t expanded_ = 0;
  bool documentStarted_ = false;
  Mark lastDocument_;
};

ParseOutput parseYamlStream(std::string_view text) {
  ParseOutput out;
  out.tree = std::make_unique<Tree>();
  if (text.size() > kMaxDocumentBytes) {
    out.error =
        SyntaxError{Mark{}, fmt::format("document is larger than {} MiB", kMaxDocumentBytes >> 20)};
    return out;
  }
  ViewBuffer buffer(text);
  std::istream in(&buffer);
  TreeBuilder builder(*out.tree);
  try {
    YAML::Parser parser(in);
    while (parser.HandleNextDocument(builder)) {
    }
  } catch (const BuildError& e) {
    out.error = SyntaxError{e.mark, e.message};
  } catch (const YAML::Exception& e) {
    out.error = SyntaxError{toMark(e.mark), fmt::format("YAML syntax error: {}", e.msg)};
  } catch (const std::bad_alloc&) {
    out.error = SyntaxError{Mark{}, "out of memory while parsing the document"};
  } catch (const std::exception& e) {
    out.error = SyntaxError{Mark{}, fmt::format("cannot parse the document: {}", e.what())};
  }
  return out;
}

namespace {

// A strict JSON (RFC 8259) reader that drives TreeBuilder with the events and marks yaml-cpp
// produces for the same text, without yaml-cpp's per-character scanning (a 10k-route JSON
// document parses about 10x faster; docs/performance.md). It accepts only what it is sure of:
// anything else — YAML, invalid JSON, surrogate or NUL escapes, control characters — makes read()
// return false, and the caller parses the text with yaml-cpp, which then judges and reports it
// exactly as before. TreeBuilder may throw BuildError (nesting, size): the caller catches it.
class JsonReader {
public:
  // With a `cache`, the first "routes" list of the root map is read element by element as
  // described at parseYaml(text, cache, file).
  JsonReader(std::string_view text, TreeBuilder& builder, const DecodeCache* cache = nullptr,
             std::string_view file = {})
      : text_(text), builder_(builder), cache_(cache), file_(file) {
    if (cache_ != nullptr) {
      previous_ = cache_->previousTrail();
      if (previous_ != nullptr && previous_->file == file_) {
        commonPrefix_ = commonPrefix(text_, previous_->text);
      }
      trail_.routes.reserve(previous_ != nullptr ? previous_->routes.size() + 1 : 0);
    }
  }

  // The route elements this reader met (valid when read() returned true); without the text,
  // which DecodeCache::keepTrail() copies.
  DecodeCache::JsonTrail takeTrail() {
    trail_.file = file_;
    return std::move(trail_);
  }

  bool read() {
    skipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '{' && text_[pos_] != '[')) {
      return false;
    }
    builder_.reserveForJson(text_.size());
    builder_.OnDocumentStart(mark());
    if (!value(0)) {
      return false;
    }
    skipSpace();
    if (pos_ != text_.size()) {
      return false;
    }
    builder_.OnDocumentEnd();
    return true;
  }

private:
  YAML::Mark mark() const {
    YAML::Mark m;
    m.pos = static_cast<int>(pos_);
    m.line = line_;
    m.column = static_cast<int>(pos_ - lineStart_);
    return m;
  }

  void skipSpace() {
    while (pos_ < text_.size()) {
      const char c = text_[pos_];
      if (c == '\n') {
        ++line_;
        lineStart_ = pos_ + 1;
      } else if (c != ' ' && c != '\t' && c != '\r') {
        return;
      }
      ++pos_;
    }
  }

  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool value(size_t depth) {
    if (depth > kMaxNestingDepth + 1 || pos_ >= text_.size()) {
      return false;
    }
    const YAML::Mark at = mark();
    switch (text_[pos_]) {
    case '{':
      return object(at, depth);
    case '[':
      return array(at, depth);
    case '"':
      if (!string()) {
        return false;
      }
      builder_.OnScalar(at, "!", YAML::NullAnchor, scratch_);
      return true;
    case 't':
    case 'f':
      scratch_ = text_[pos_] == 't' ? "true" : "false";
      if (!literal(scratch_)) {
        return false;
      }
      builder_.OnScalar(at, "?", YAML::NullAnchor, scratch_);
      return true;
    case 'n':
      if (!literal("null")) {
        return false;
      }
      builder_.OnNull(at, YAML::NullAnchor);
      return true;
    default:
      if (!number()) {
        return false;
      }
      builder_.OnScalar(at, "?", YAML::NullAnchor, scratch_);
      return true;
    }
  }

  bool object(const YAML::Mark& at, size_t depth) {
    ++pos_;
    builder_.OnMapStart(at, "?", YAML::NullAnchor, YAML::EmitterStyle::Flow);
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == '}') {
      ++pos_;
      builder_.OnMapEnd();
      return true;
    }
    while (true) {
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') {
        return false;
      }
      const YAML::Mark keyAt = mark();
      if (!string()) {
        return false;
      }
      builder_.OnScalar(keyAt, "!", YAML::NullAnchor, scratch_);
      // The decoder reads the first "routes" of the document's root map (decoder.cc, Fields).
      const bool routes = depth == 0 && cache_ != nullptr && !routesSeen_ && scratch_ == "routes";
      routesSeen_ = routesSeen_ || routes;
      skipSpace();
      if (pos_ >= text_.size() || text_[pos_] != ':') {
        return false;
      }
      ++pos_;
      skipSpace();
      if (routes && pos_ < text_.size() && text_[pos_] == '[') {
        if (!routeList(mark(), depth + 1)) {
          return false;
        }
      } else if (!value(depth + 1)) {
        return false;
      }
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == '}') {
        ++pos_;
        builder_.OnMapEnd();
        return true;
      }
      return false;
    }
  }

  bool array(const YAML::Mark& at, size_t depth) {
    return sequence(at, [this, depth](uint64_t) { return value(depth + 1); });
  }

  // array() for the route list: each element is keyed, and skipped when the cache holds it.
  bool routeList(const YAML::Mark& at, size_t depth) {
    return sequence(at, [this, depth](uint64_t index) { return routeElement(depth + 1, index); });
  }

  // `[ element, ... ]` at pos_; `element(index)` reads one item.
  template <class Element> bool sequence(const YAML::Mark& at, const Element& element) {
    ++pos_;
    builder_.OnSequenceStart(at, "?", YAML::NullAnchor, YAML::EmitterStyle::Flow);
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == ']') {
      ++pos_;
      builder_.OnSequenceEnd();
      return true;
    }
    for (uint64_t index = 0;; ++index) {
      yieldPoint();
      skipSpace();
      if (!element(index)) {
        return false;
      }
      skipSpace();
      if (pos_ < text_.size() && text_[pos_] == ',') {
        ++pos_;
        continue;
      }
      if (pos_ < text_.size() && text_[pos_] == ']') {
        ++pos_;
        builder_.OnSequenceEnd();
        return true;
      }
      return false;
    }
  }

  // One element of the route list. The key covers everything the element's subtree depends on:
  // its bytes (kinds, scalars, quoting, structure, and the marks relative to its start), where
  // it starts (line, column), its index (the decoder's path) and the file. A skipped element was
  // accepted by this reader, at this position, when the cache entry was made (entries come only
  // from keys computed here, over the bytes value() consumed), so it would parse to the same
  // subtree now; anything the scan is unsure of is parsed.
  bool routeElement(size_t depth, uint64_t index) {
    if (pos_ >= text_.size()) {
      return false;
    }
    const YAML::Mark at = mark();
    const size_t start = pos_;
    if (previous_ != nullptr && index < previous_->routes.size()) {
      // The bytes [0, end) are those the previous load read: this element is where it was then,
      // with the same index, line, column and bytes, so its key is the one recorded then.
      const DecodeCache::RouteSpan& span = previous_->routes[index];
      if (span.start == start && span.end <= commonPrefix_ && cache_->hasPrevious(span.key)) {
        builder_.OnReused(at, span.key);
        pos_ = span.end;
        line_ = span.lineAfter;
        lineStart_ = span.lineStartAfter;
        trail_.routes.push_back(span);
        return true;
      }
    }
    if (text_[pos_] == '{' && cache_->hasPrevious()) {
      Extent extent;
      if (scanValue(extent)) {
        const ContentKey key = contentKey(index, at, start, extent.end);
        if (cache_->hasPrevious(key)) {
          builder_.OnReused(at, key);
          pos_ = extent.end;
          if (extent.newlines > 0) {
            line_ += extent.newlines;
            lineStart_ = extent.lastLineStart;
          }
          trail_.routes.push_back({start, pos_, line_, lineStart_, key});
          return true;
        }
      }
    }
    const uint32_t node = builder_.nextNode();
    if (!value(depth)) {
      return false;
    }
    const ContentKey key = contentKey(index, at, start, pos_);
    builder_.setKey(node, key);
    trail_.routes.push_back({start, pos_, line_, lineStart_, key});
    return true;
  }

  // Length of the common prefix of `a` and `b` (memcmp by blocks, then bytes).
  static size_t commonPrefix(std::string_view a, std::string_view b) {
    constexpr size_t kBlock = 4096;
    const size_t n = std::min(a.size(), b.size());
    size_t i = 0;
    while (i + kBlock <= n && std::memcmp(a.data() + i, b.data() + i, kBlock) == 0) {
      i += kBlock;
    }
    while (i < n && a[i] == b[i]) {
      ++i;
    }
    return i;
  }

  struct Extent {
    size_t end = 0;           // one past the value
    int newlines = 0;         // '\n' in the value
    size_t lastLineStart = 0; // one past the last '\n'
  };

  // Finds the end of the object or array at pos_ by its brackets and strings alone (no nodes, no
  // unescaping, no validation beyond that). False when the text ends first, a string holds a
  // control character, or the nesting is deeper than the builder accepts.
  bool scanValue(Extent& out) const {
    const auto* data = reinterpret_cast<const unsigned char*>(text_.data());
    const size_t size = text_.size();
    size_t depth = 0;
    size_t p = pos_;
    while (true) {
      while (p < size && kScanClass[data[p]] == ScanClass::Plain) {
        ++p;
      }
      if (p >= size) {
        return false;
      }
      switch (kScanClass[data[p]]) {
      case ScanClass::Quote:
        ++p;
        while (true) {
          while (p < size && kStringClass[data[p]] == StringClass::Plain) {
            ++p;
          }
          if (p >= size || kStringClass[data[p]] == StringClass::Control) {
            return false;
          }
          if (data[p] == '"') {
            break;
          }
          p += 2; // a backslash and the character it escapes (\u's digits are plain)
        }
        break;
      case ScanClass::Open:
        if (++depth > kMaxNestingDepth) {
          return false;
        }
        break;
      case ScanClass::Close:
        if (--depth == 0) {
          out.end = p + 1;
          return true;
        }
        break;
      case ScanClass::Newline:
        ++out.newlines;
        out.lastLineStart = p + 1;
        break;
      case ScanClass::Plain:
        break;
      }
      ++p;
    }
  }

  // Byte classes for scanValue: outside strings, and inside them.
  enum class ScanClass : uint8_t { Plain, Quote, Open, Close, Newline };
  enum class StringClass : uint8_t { Plain, End, Control }; // End: '"' or '\\'
  static constexpr std::array<ScanClass, 256> kScanClass = [] {
    std::array<ScanClass, 256> t{};
    t['"'] = ScanClass::Quote;
    t['{'] = t['['] = ScanClass::Open;
    t['}'] = t[']'] = ScanClass::Close;
    t['\n'] = ScanClass::Newline;
    return t;
  }();
  static constexpr std::array<StringClass, 256> kStringClass = [] {
    std::array<StringClass, 256> t{};
    for (size_t c = 0; c < 0x20; ++c) {
      t[c] = StringClass::Control;
    }
    t['"'] = t['\\'] = StringClass::End;
    return t;
  }();

  ContentKey contentKey(uint64_t index, const YAML::Mark& at, size_t start, size_t end) {
    // One contiguous input (a streaming hash costs more than the copy for ~200-byte routes).
    const int64_t header[4] = {static_cast<int64_t>(index), at.line, at.column,
                               static_cast<int64_t>(file_.size())};
    keyInput_.assign(reinterpret_cast<const char*>(header), sizeof header);
    keyInput_.append(file_);
    keyInput_.append(text_.data() + start, end - start);
    const XXH128_hash_t hash =
        XXH3_128bits_withSeed(keyInput_.data(), keyInput_.size(), kContentKeySeed);
    return ContentKey{hash.low64, hash.high64};
  }

  static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
      return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }

  // Reads a string token into scratch_ (decoded). ASCII control characters, NUL and surrogate
  // escapes are left to yaml-cpp.
  bool string() {
    ++pos_;
    scratch_.clear();
    while (pos_ < text_.size()) {
      const size_t run = pos_;
      while (pos_ < text_.size() && text_[pos_] != '"' && text_[pos_] != '\\' &&
             static_cast<unsigned char>(text_[pos_]) >= 0x20) {
        ++pos_;
      }
      scratch_.append(text_.data() + run, pos_ - run);
      if (pos_ >= text_.size() || static_cast<unsigned char>(text_[pos_]) < 0x20) {
        return false;
      }
      if (text_[pos_] == '"') {
        ++pos_;
        return true;
      }
      if (pos_ + 1 >= text_.size()) {
        return false;
      }
      const char e = text_[pos_ + 1];
      pos_ += 2;
      switch (e) {
      case '"':
      case '\\':
      case '/':
        scratch_.push_back(e);
        break;
      case 'b':
        scratch_.push_back('\b');
        break;
      case 'f':
        scratch_.push_back('\f');
        break;
      case 'n':
        scratch_.push_back('\n');
        break;
      case 'r':
        scratch_.push_back('\r');
        break;
      case 't':
        scratch_.push_back('\t');
        break;
      case 'u': {
        if (pos_ + 4 > text_.size()) {
          return false;
        }
        uint32_t cp = 0;
        for (size_t i = 0; i < 4; ++i) {
          const int d = hexDigit(text_[pos_ + i]);
          if (d < 0) {
            return false;
          }
          cp = cp * 16 + static_cast<uint32_t>(d);
        }
        pos_ += 4;
        if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF)) {
          return false;
        }
        if (cp < 0x80) {
          scratch_.push_back(static_cast<char>(cp));
        } else if (cp < 0x800) {
          scratch_.push_back(static_cast<char>(0xC0 | (cp >> 6)));
          scratch_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        } else {
          scratch_.push_back(static_cast<char>(0xE0 | (cp >> 12)));
          scratch_.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
          scratch_.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
        }
        break;
      }
      default:
        return false;
      }
    }
    return false;
  }

  bool digits() {
    const size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
      ++pos_;
    }
    return pos_ > start;
  }

  bool number() {
    const size_t start = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') {
      ++pos_;
    }
    if (pos_ < text_.size() && text_[pos_] == '0') {
      ++pos_;
    } else if (!digits()) {
      return false;
    }
    if (pos_ < text_.size() && text_[pos_] == '.') {
      ++pos_;
      if (!digits()) {
        return false;
      }
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      ++pos_;
      if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) {
        ++pos_;
      }
      if (!digits()) {
        return false;
      }
    }
    scratch_.assign(text_.substr(start, pos_ - start));
    return true;
  }

  // Keys of JSON route elements are in their own domain (NodeRef::fingerprint keys hash a
  // different encoding; the seed keeps the two apart).
  static constexpr XXH64_hash_t kContentKeySeed = 0x6a736f6e726f7574; // "jsonrout"

  std::string_view text_;
  TreeBuilder& builder_;
  const DecodeCache* cache_;
  const DecodeCache::JsonTrail* previous_ = nullptr; // the previous load's, if any
  size_t commonPrefix_ = 0;                          // of text_ and previous_->text
  DecodeCache::JsonTrail trail_;                     // this read's route elements
  std::string_view file_;
  bool routesSeen_ = false;
  std::string keyInput_; // scratch for contentKey()
  size_t pos_ = 0;
  int line_ = 0;
  size_t lineStart_ = 0;
  std::string scratch_;
};

} // namespace

ParseOutput parseYaml(std::string_view text) {
  return parseYaml(text, nullptr, {});
}

ParseOutput parseYaml(std::string_view text, DecodeCache* cache, std::string_view file) {
  if (text.size() <= kMaxDocumentBytes) {
    ParseOutput out;
    out.tree = std::make_unique<Tree>();
    TreeBuilder builder(*out.tree);
    try {
      JsonReader reader(text, builder, cache, file);
      if (reader.read()) {
        if (cache != nullptr) {
          cache->keepTrail(text, reader.takeTrail());
        }
        return out;
      }
    } catch (const BuildError& e) {
      out.error = SyntaxError{e.mark, e.message};
      return out;
    } catch (const std::bad_alloc&) {
      out.error = SyntaxError{Mark{}, "out of memory while parsing the document"};
      return out;
    }
  }
  return parseYamlStream(text);
}

namespace {

bool sameNode(NodeRef a, NodeRef b) {
  if (a.kind() != b.kind() || a.mark().line != b.mark().line ||
      a.mark().column != b.mark().column) {
    return false;
  }
  switch (a.kind()) {
  case NodeKind::Null:
    return true;
  case NodeKind::Scalar:
    return a.scalar() == b.scalar() && a.quoted() == b.quoted();
  case NodeKind::Sequence:
    if (a.size() != b.size()) {
      return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
      if (!sameNode(a.item(i), b.item(i))) {
        return false;
      }
    }
    return true;
  case NodeKind::Map:
    if (a.size() != b.size()) {
      return false;
    }
    for (size_t i = 0; i < a.size(); ++i) {
      if (!sameNode(a.key(i), b.key(i)) || !sameNode(a.value(i), b.value(i))) {
        return false;
      }
    }
    return true;
  }
  return false;
}

} // namespace

bool sameTree(const Tree& a, const Tree& b) {
  if (a.documents().size() != b.documents().size()) {
    return false;
  }
  for (size_t i = 0; i < a.documents().size(); ++i) {
    if (!sameNode(a.documents()[i], b.documents()[i])) {
      return false;
    }
  }
  return true;
}

} // namespace fulcrum::config
