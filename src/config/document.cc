#include "config/document.h"

#include <istream>
#include <streambuf>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/mark.h>
#include <yaml-cpp/parser.h>

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
    uint32_t index = addNode(NodeKind::Scalar, mark);
    auto& node = tree_.nodes_[index];
    node.first = static_cast<uint32_t>(tree_.scalars_.size());
    node.count = static_cast<uint32_t>(value.size());
    node.quoted = tag == "!";
    tree_.scalars_ += value;
    attach(index, 1);
    defineAnchor(anchor, index, 1);
  }

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
  struct Frame {
    uint32_t node;
    YAML::anchor_t anchor;
    uint64_t expandedAtStart;
    std::vector<uint32_t> children;
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
    auto& frame = stack_.back();
    // A null map value has no text of its own (`key:`); yaml-cpp marks the next token, often on a
    // later line, so it takes its key's position instead.
    if (tree_.nodes_[frame.node].kind == NodeKind::Map && frame.children.size() % 2 == 1 &&
        tree_.nodes_[index].kind == NodeKind::Null && index == tree_.nodes_.size() - 1) {
      const auto& key = tree_.nodes_[frame.children.back()];
      tree_.nodes_[index].line = key.line;
      tree_.nodes_[index].column = key.column;
    }
    frame.children.push_back(index);
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
    stack_.push_back(Frame{index, anchor, expanded_, {}});
  }

  void close() {
    Frame frame = std::move(stack_.back());
    stack_.pop_back();
    auto& node = tree_.nodes_[frame.node];
    node.first = static_cast<uint32_t>(tree_.children_.size());
    node.count = static_cast<uint32_t>(frame.children.size());
    tree_.children_.insert(tree_.children_.end(), frame.children.begin(), frame.children.end());
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
  std::optional<uint32_t> root_;
  std::vector<Anchor> anchors_;
  uint64_t expanded_ = 0;
  bool documentStarted_ = false;
  Mark lastDocument_;
};

ParseOutput parseYaml(std::string_view text) {
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

} // namespace fulcrum::config
