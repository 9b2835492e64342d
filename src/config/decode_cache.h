#pragma once

// Incremental decoding: the routes one load decoded, reused by the next load of the same source.
//
// A route's decode (its Route object, its cross-object registrations, its errors) is a function
// of its YAML subtree (kinds, scalars, quoting, structure and the line/column of every node), its
// path (`routes[i]`, the document it is in) and the file name; nothing else is read. So when the
// next revision has a route whose subtree, position, index and file are all identical to one the
// previous load decoded without errors, the load shares that Route (no copy) and replays its
// recorded registrations (route name, rule matches per host, pool references) into the new load's
// CrossChecks instead of decoding it again. The outcome (Config, diagnostics and their order) is
// the same as a fresh load: cross-object checks (duplicate names, shadowed matches, unknown
// pools) still run against the new revision. A route that moved (another line or column, another
// index) is decoded again.
//
// Keyed by a 128-bit hash of that input (XXH3): for a strict JSON document the hash of the
// route's bytes, index, start position and file, computed by the parser, which then does not even
// build the nodes of a route the cache holds (parseYaml with a cache); otherwise the hash of its
// subtree (NodeRef::fingerprint). Not thread-safe: one cache per config source,
// used by one load at a time. Holds one revision's routes (each load replaces the entries).

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/cooperative_yield.h"
#include "config/cross_checks.h"
#include "config/document.h"
#include "config/reporter.h"
#include "config/schema.h"

namespace fulcrum::config {

class DecodeCache {
public:
  // One cross-object registration made while decoding a route, replayed in order.
  struct Registration {
    enum class Kind : uint8_t { Route, Match, PoolReference };
    Kind kind;
    bool endsGroup = false; // Match: the last host of one match (a refused match skips the rest)
    std::string name;       // route / pool name; Match: the host ("" = any)
    std::string key;        // Match: the canonical match
    PlacePtr place;
  };
  struct Entry {
    RouteList::Ptr route; // shared with every Config that reused it
    std::vector<Registration> registrations;
  };
  using Key = ContentKey;
  struct KeyHash {
    size_t operator()(const Key& k) const { return static_cast<size_t>(k.low); }
  };

  // Where the JSON fast path found one element of the route list (parseYaml with a cache).
  struct RouteSpan {
    size_t start = 0;          // byte offset of the element
    size_t end = 0;            // one past it
    int lineAfter = 0;         // the reader's line after the element
    size_t lineStartAfter = 0; // and the offset where that line starts
    ContentKey key;            // the element's key (contentKey)
  };
  // The last document the JSON fast path read completely through this cache: its text, file
  // name and route elements. The next load's reader takes the key of every element that lies
  // wholly in the common prefix of both texts from here instead of scanning and hashing it (the
  // same bytes from the start of the same file give the same index, line, column and bytes, so
  // the same key).
  struct JsonTrail {
    std::string text;
    std::string file;
    std::vector<RouteSpan> routes;
  };

  // Routes reused and decoded by the last load (tests, diagnostics).
  size_t reused() const { return reused_; }
  size_t decoded() const { return decoded_; }
  size_t size() const { return entries_.size(); }

  // --- used by the loader and the decoder ---
  // Starts a load: the previous load's entries become the ones to reuse.
  void beginLoad() {
    previousTrail_ = std::move(trail_);
    trail_ = {};
    previous_ = std::move(entries_);
    entries_ = Map();
    entries_.reserve(previous_.size());
    reused_ = 0;
    decoded_ = 0;
  }
  // Ends a load: what it did not keep is dropped.
  void endLoad() {
    previous_.clear();
    spareText_ = std::move(previousTrail_.text);
    previousTrail_ = {};
  }
  // The previous load's trail, if its document was read by the JSON fast path.
  const JsonTrail* previousTrail() const {
    return previousTrail_.routes.empty() ? nullptr : &previousTrail_;
  }
  // Keeps this load's trail for the next load (a document read completely by the fast path).
  // `text` is the document's text: copied into a buffer an earlier load's trail left (endLoad),
  // which has the capacity already. A fresh megabytes-long string would be a new mapping,
  // faulted in page by page in one stretch (~3 ms for 1.6 MB on the benchmark VM) while a worker
  // on the same CPU waits (ADR 0018).
  void keepTrail(std::string_view text, JsonTrail trail) {
    trail.text = std::move(spareText_);
    trail.text.clear();
    trail.text.reserve(text.size());
    constexpr size_t kPiece = size_t{64} * 1024;
    for (size_t at = 0; at < text.size(); at += kPiece) {
      yieldPoint(CooperativeYield::kStride); // a piece may fault in 16 fresh pages
      trail.text.append(text.substr(at, kPiece));
    }
    spareText_ = {};
    trail_ = std::move(trail);
  }
  // True when the previous load has an entry for `key` (the JSON parser then skips the route).
  bool hasPrevious(const Key& key) const { return previous_.find(key) != nullptr; }
  // False on a first load (nothing to skip: the parser does not look for route ends then).
  bool hasPrevious() const { return !previous_.empty(); }
  // The previous load's entry for `key`, or null.
  std::shared_ptr<const Entry> previous(const Key& key) const {
    const std::shared_ptr<const Entry>* entry = previous_.find(key);
    return entry == nullptr ? nullptr : *entry;
  }
  // Keeps `entry` (not null) for the next load.
  void keep(const Key& key, std::shared_ptr<const Entry> entry) {
    entries_.insertOrAssign(key, std::move(entry));
  }
  void countReused() { ++reused_; }
  void countDecoded() { ++decoded_; }

private:
  // Key -> entry, open addressing (linear probing, load factor <= 1/2): no allocation per entry
  // (a 10k-route load keeps 10,000 entries and drops as many). Keys are hashes: their low bits
  // index the slots directly.
  class Map {
  public:
    bool empty() const { return size_ == 0; }
    size_t size() const { return size_; }
    void reserve(size_t n) {
      size_t slots = 16;
      while (slots < n * 2) {
        slots *= 2;
      }
      if (slots > slots_.size()) {
        rehash(slots);
      }
    }
    void clear() {
      // Releasing 10^4 entries one cache miss each is a stretch of its own (ADR 0018).
      for (Slot& s : slots_) {
        yieldPoint();
        s.entry.reset();
      }
      std::vector<Slot>().swap(slots_);
      size_ = 0;
    }
    // The entry under `key`, or null.
    const std::shared_ptr<const Entry>* find(const Key& key) const {
      if (slots_.empty()) {
        return nullptr;
      }
      const size_t mask = slots_.size() - 1;
      for (size_t i = KeyHash{}(key)&mask;; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (s.entry == nullptr) {
          return nullptr;
        }
        if (s.key == key) {
          return &s.entry;
        }
      }
    }
    void insertOrAssign(const Key& key, std::shared_ptr<const Entry> entry) {
      if ((size_ + 1) * 2 > slots_.size()) {
        rehash(slots_.empty() ? 16 : slots_.size() * 2);
      }
      const size_t mask = slots_.size() - 1;
      for (size_t i = KeyHash{}(key)&mask;; i = (i + 1) & mask) {
        Slot& s = slots_[i];
        if (s.entry == nullptr) {
          s.key = key;
          s.entry = std::move(entry);
          ++size_;
          return;
        }
        if (s.key == key) {
          s.entry = std::move(entry);
          return;
        }
      }
    }

  private:
    struct Slot {
      Key key;
      std::shared_ptr<const Entry> entry; // null = empty
    };
    void rehash(size_t slots) {
      std::vector<Slot> old = vectorWithYieldPoints<Slot>(slots);
      old.swap(slots_);
      const size_t mask = slots_.size() - 1;
      for (Slot& s : old) {
        yieldPoint();
        if (s.entry == nullptr) {
          continue;
        }
        size_t i = KeyHash{}(s.key) & mask;
        while (slots_[i].entry != nullptr) {
          i = (i + 1) & mask;
        }
        slots_[i] = std::move(s);
      }
    }

    std::vector<Slot> slots_;
    size_t size_ = 0;
  };

  Map previous_;
  Map entries_;
  JsonTrail previousTrail_;
  JsonTrail trail_;
  std::string spareText_; // an earlier trail's text buffer, for keepTrail()
  size_t reused_ = 0;
  size_t decoded_ = 0;
};

} // namespace fulcrum::config
