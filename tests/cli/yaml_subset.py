"""A reader for the block-style YAML that `fulcrumctl -o yaml` writes (python3 stdlib only).

Not a YAML parser: it reads exactly the subset the YAML printer emits (block maps and sequences
indented by two, `- key: value` items, plain and double-quoted scalars, `{}`/`[]`, literal block
scalars `|`, `|-`, `|+`, `|2`), and raises ValueError on anything else. Tests use it to check that
the yaml output holds the same data as the json output.
"""

import json
import re

_INT = re.compile(r"[-+]?[0-9]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_HEX_ESCAPE = re.compile(r"\\x([0-9a-fA-F]{2})")


def _quoted(text):
    """A double-quoted scalar at the start of text: (value, rest of the text)."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            break
        i += 1
    else:
        raise ValueError(f"unterminated quoted scalar: {text!r}")
    # YAML's \xHH escapes are JSON's \u00HH; the rest of the escapes we emit are JSON's.
    return json.loads(_HEX_ESCAPE.sub(r"\\u00\1", text[:i + 1])), text[i + 1:]


def _split_key(content):
    """`key: value` -> (key, value text); `key:` -> (key, None); else None."""
    if content.startswith('"'):
        try:
            key, rest = _quoted(content)
        except ValueError:
            return None
    else:
        index = content.find(": ")
        if index < 0 and content.endswith(":"):
            index = len(content) - 1
        if index < 0:
            return None
        key, rest = content[:index], content[index:]
    if rest == ":":
        return key, None
    if rest.startswith(": "):
        return key, rest[2:]
    return None


class _Reader:
    def __init__(self, text):
        raw = text.split("\n")
        if raw and raw[-1] == "":
            raw.pop()
        self.lines = [[len(line) - len(line.lstrip(" ")), line.lstrip(" ")] for line in raw]
        self.pos = 0

    def node(self, indent):
        if self.pos >= len(self.lines):
            raise ValueError("expected a value at the end of the text")
        at, content = self.lines[self.pos]
        if at != indent:
            raise ValueError(f"line {self.pos + 1}: indented {at}, expected {indent}")
        if content.startswith("- "):
            return self.sequence(indent)
        if _split_key(content) is not None:
            return self.mapping(indent)
        self.pos += 1
        return self.scalar(content, indent)

    def mapping(self, indent):
        result = {}
        while self.pos < len(self.lines) and self.lines[self.pos][0] == indent:
            entry = _split_key(self.lines[self.pos][1])
            if entry is None:
                raise ValueError(f"line {self.pos + 1}: expected `key:`")
            key, rest = entry
            if key in result:
                raise ValueError(f"line {self.pos + 1}: duplicate key {key!r}")
            self.pos += 1
            if rest is None:
                if self.pos >= len(self.lines) or self.lines[self.pos][0] <= indent:
                    raise ValueError(f"line {self.pos}: `{key}:` has no nested block")
                result[key] = self.node(self.lines[self.pos][0])
            else:
                result[key] = self.scalar(rest, indent)
        return result

    def sequence(self, indent):
        result = []
        while (self.pos < len(self.lines) and self.lines[self.pos][0] == indent
               and self.lines[self.pos][1].startswith("- ")):
            rest = self.lines[self.pos][1][2:]
            if rest.startswith("- ") or _split_key(rest) is not None:
                # A collection starting on the item's line: read it as if it began a line.
                self.lines[self.pos] = [indent + 2, rest]
                result.append(self.node(indent + 2))
            else:
                self.pos += 1
                result.append(self.scalar(rest, indent))
        return result

    def scalar(self, text, indent):
        if text.startswith("|"):
            return self.literal(text, indent)
        if text.startswith('"'):
            value, rest = _quoted(text)
            if rest:
                raise ValueError(f"text after a quoted scalar: {rest!r}")
            return value
        if text == "{}":
            return {}
        if text == "[]":
            return []
        if text in ("null", "~"):
            return None
        if text in ("true", "false"):
            return text == "true"
        if _INT.fullmatch(text):
            return int(text)
        if _FLOAT.fullmatch(text):
            return float(text)
        if text.startswith(("'", "&", "*", "!", "[", "{", ">", "%", "@", "`")):
            raise ValueError(f"not in the subset: {text!r}")
        return text

    def literal(self, header, indent):
        match = re.fullmatch(r"\|([1-9]?)([-+]?)", header)
        if not match:
            raise ValueError(f"unsupported block scalar header {header!r}")
        chomp = match.group(2)
        content_indent = indent + 2
        collected = []
        while self.pos < len(self.lines):
            at, content = self.lines[self.pos]
            if content and at < content_indent:
                break
            collected.append(" " * (at - content_indent) + content if content else "")
            self.pos += 1
        trailing = 0
        while trailing < len(collected) and collected[len(collected) - 1 - trailing] == "":
            trailing += 1
        text = "\n".join(collected[:len(collected) - trailing])
        if chomp == "-":
            return text
        if chomp == "+":
            return text + "\n" + "\n" * trailing
        return text + "\n"


def parse_yaml(text):
    """The value of a document written by fulcrumctl's YAML printer."""
    reader = _Reader(text)
    if not reader.lines:
        raise ValueError("empty document")
    at, content = reader.lines[0]
    if at == 0 and (content.startswith("- ") or _split_key(content) is not None):
        value = reader.node(0)
    else:
        reader.pos = 1
        value = reader.scalar(content, 0)
    if reader.pos != len(reader.lines):
        raise ValueError(f"line {reader.pos + 1}: unexpected {reader.lines[reader.pos][1]!r}")
    return value
