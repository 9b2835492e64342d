#!/usr/bin/env python3
"""Prepares etcd's v3 API .proto files (from Debian's golang-etcd-server-dev) for protoc.

Run at build time (src/store/CMakeLists.txt); nothing it writes is checked in. etcd annotates its
protos for gogo/protobuf and grpc-gateway. Neither matters to a C++ client, so instead of
depending on those packages' .proto files this strips the annotations:
  - `import "gogoproto/gogo.proto";` and `import "google/api/annotations.proto";`
  - file options `option (gogoproto.xxx) = ...;`
  - field options `[(gogoproto.xxx) = ...]`
  - method options `option (google.api.http) = { ... };`
and rewrites the cross-file imports to the output layout (etcd/<pkg>/<file>.proto).

usage: prepare_protos.py ETCD_SOURCE_DIR OUT_DIR
"""

import os
import re
import sys

# source path below ETCD_SOURCE_DIR -> output path below OUT_DIR (also the import name)
FILES = {
    "etcdserver/etcdserverpb/rpc.proto": "etcd/etcdserverpb/rpc.proto",
    "mvcc/mvccpb/kv.proto": "etcd/mvccpb/kv.proto",
    "auth/authpb/auth.proto": "etcd/authpb/auth.proto",
}
IMPORTS = {
    "etcd/mvcc/mvccpb/kv.proto": "etcd/mvccpb/kv.proto",
    "etcd/auth/authpb/auth.proto": "etcd/authpb/auth.proto",
}
DROPPED_IMPORTS = {"gogoproto/gogo.proto", "google/api/annotations.proto"}


def strip_braced_option(text, opener):
    """Removes every `option (name) = { ... };` block, braces nested."""
    out = []
    pos = 0
    while True:
        match = opener.search(text, pos)
        if not match:
            out.append(text[pos:])
            return "".join(out)
        out.append(text[pos:match.start()])
        depth = 0
        i = match.end() - 1  # at the opening brace
        while i < len(text):
            if text[i] == "{":
                depth += 1
            elif text[i] == "}":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if depth != 0:
            raise SystemExit("prepare_protos: unbalanced braces in an option block")
        end = text.index(";", i) + 1
        pos = end


def prepare(text):
    def rewrite_import(match):
        name = match.group(1)
        if name in DROPPED_IMPORTS:
            return ""
        return f'import "{IMPORTS.get(name, name)}";'

    text = re.sub(r'import\s+"([^"]+)"\s*;', rewrite_import, text)
    text = re.sub(r"option\s*\(gogoproto\.[A-Za-z_]+\)\s*=\s*[^;]+;", "", text)
    text = re.sub(r"\s*\[\s*\(gogoproto\.[^\]]*\]", "", text)
    text = strip_braced_option(text, re.compile(r"option\s*\(google\.api\.http\)\s*=\s*\{"))
    if "gogoproto" in text or "google.api" in text:
        raise SystemExit("prepare_protos: an annotation survived stripping; update the script")
    return text


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    source_dir, out_dir = sys.argv[1], sys.argv[2]
    for source, target in FILES.items():
        with open(os.path.join(source_dir, source), encoding="utf-8") as f:
            text = prepare(f.read())
        path = os.path.join(out_dir, target)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # Leave an unchanged file untouched so that its timestamp does not trigger a rebuild.
        try:
            with open(path, encoding="utf-8") as f:
                if f.read() == text:
                    continue
        except FileNotFoundError:
            pass
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


if __name__ == "__main__":
    main()
