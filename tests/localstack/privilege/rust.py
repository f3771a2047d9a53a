"""Rust source as the scan reads it: comments and literals blanked, test
code left out, a crate's files by module path, the functions with their
`impl`, what a body calls, and the call graph walked from a start."""

import functools
import os
import re

from .paths import ROOT


RUST_KEYWORDS = {
    "if", "while", "match", "for", "loop", "return", "fn", "let", "in", "as", "move", "async",
    "await", "Some", "Ok", "Err", "None", "Box", "Vec", "String", "Self", "self", "super", "crate",
    "where", "impl", "dyn", "ref", "mut", "pub", "use", "mod", "struct", "enum", "type", "const",
}


def blank(text, start, end):
    return text[:start] + re.sub(r"[^\n]", " ", text[start:end]) + text[end:]


def lex(text):
    """(code, full): `text` with comments blanked in both, and string and
    character literals' contents blanked in `code` (for structure), kept in
    `full` (for the strings a request names). Offsets are unchanged."""
    code, full = list(text), list(text)
    i, n = 0, len(text)

    def wipe(buf, a, b):
        for k in range(a, b):
            if buf[k] != "\n":
                buf[k] = " "

    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            wipe(code, i, j)
            wipe(full, i, j)
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            wipe(code, i, j)
            wipe(full, i, j)
            i = j
        elif c in "rb" and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")) and \
                re.match(r"b?r(#*)\"", text[i:i + 40]):
            m = re.match(r"b?r(#*)\"", text[i:])
            close = '"' + m.group(1)
            j = text.find(close, i + m.end())
            j = n if j < 0 else j
            wipe(code, i + m.end(), j)
            i = j + len(close)
        elif c == '"' or (c == "b" and text.startswith('b"', i)
                          and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (2 if c == "b" else 1)
            start = j
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            wipe(code, start, j)
            i = j + 1
        elif c == "'":
            if text.startswith("\\", i + 1):
                j = text.find("'", i + 2)
                wipe(code, i + 1, j)
                i = j + 1
            elif i + 2 < n and text[i + 2] == "'":
                wipe(code, i + 1, i + 2)
                i += 3
            else:
                i += 1  # a lifetime
        else:
            i += 1
    return "".join(code), "".join(full)


def match_brace(code, open_at):
    depth = 0
    for j in range(open_at, len(code)):
        if code[j] == "{":
            depth += 1
        elif code[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    raise ValueError(f"unbalanced braces from offset {open_at}")


def item_end(code, start):
    """Where the item starting at `start` ends: after its `{ ... }` body,
    or after its `;`."""
    depth = 0
    for j in range(start, len(code)):
        ch = code[j]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch == ";":
            return j + 1, None
        elif depth == 0 and ch == "{":
            return match_brace(code, j), j
    return len(code), None


class Source:
    """One Rust file, without its test code."""

    def __init__(self, path, module):
        self.path, self.module = path, module
        with open(path) as f:
            code, full = lex(f.read())
        self.test_modules = set()
        for m in reversed(list(re.finditer(r"#\[cfg\(test\)\]", code))):
            j = m.end()
            while True:  # further attributes of the same item
                a = re.match(r"\s*#\[", code[j:])
                if not a:
                    break
                j = code.index("]", j + a.end()) + 1
            decl = re.match(r"\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", code[j:])
            if decl:
                self.test_modules.add(decl.group(1))
            end, _ = item_end(code, j)
            code, full = blank(code, m.start(), end), blank(full, m.start(), end)
        self.code, self.full = code, full
        self.submodules = set(re.findall(r"\bmod\s+(\w+)\s*;", code))


@functools.lru_cache(maxsize=None)
def crate(src_dir):
    """The crate's files that a non-test build compiles, by module path
    (`("alert", "reaction")`), from its root (`lib.rs`, else `main.rs`)."""
    files = {}

    def visit(path, module):
        source = Source(path, module)
        files[module] = source
        base = os.path.dirname(path)
        stem = os.path.splitext(os.path.basename(path))[0]
        here = base if stem in ("lib", "main", "mod") else os.path.join(base, stem)
        for sub in sorted(source.submodules):
            for candidate in (os.path.join(here, sub + ".rs"), os.path.join(here, sub, "mod.rs")):
                if os.path.exists(candidate):
                    visit(candidate, module + (sub,))
                    break

    # A function's binary (main.rs) beside its library (lib.rs): two crates,
    # kept apart here as the root and `main`.
    for root, module in (("lib.rs", ()), ("main.rs", ("main",))):
        path = os.path.join(src_dir, root)
        if os.path.exists(path):
            visit(path, module if os.path.exists(os.path.join(src_dir, "lib.rs")) else ())
    return files


class Fn:
    def __init__(self, source, name, start, body_start, end, impl):
        self.source, self.name, self.impl = source, name, impl
        self.start, self.body_start, self.end = start, body_start, end
        self.code = source.code[body_start:end]
        self.full = source.full[body_start:end]

    def __repr__(self):
        return f"{os.path.relpath(self.source.path, ROOT)}:{self.name}"


def impl_blocks(code):
    """(start, end, trait, type) of each `impl` block."""
    out = []
    # An item begins its line; `impl Trait` in a type (`x: impl Into<..>`)
    # does not.
    for m in re.finditer(r"(?m)^[ \t]*(?:unsafe\s+)?impl\b", code):
        end, brace = item_end(code, m.start())
        if brace is None:
            continue
        header = code[m.end():brace]
        header = re.sub(r"^\s*<", "<", header)
        if header.startswith("<"):  # the impl's generics
            depth = 0
            for k, ch in enumerate(header):
                depth += ch == "<"
                depth -= ch == ">"
                if depth == 0:
                    header = header[k + 1:]
                    break
        header = header.split(" where ")[0]
        parts = re.split(r"\bfor\b", header, maxsplit=1)
        names = [re.findall(r"\w+", p.split("<")[0]) for p in parts]
        trait = names[0][-1] if len(parts) == 2 and names[0] else None
        typ = names[-1][-1] if names[-1] else None
        out.append((m.start(), end, trait, typ))
    return out


def functions(source):
    impls = impl_blocks(source.code)
    out = []
    for m in re.finditer(r"\bfn\s+(\w+)", source.code):
        end, brace = item_end(source.code, m.end())
        if brace is None:
            continue  # a declaration (trait method without a body)
        inside = [b for b in impls if b[0] < m.start() < b[1]]
        impl = min(inside, key=lambda b: b[1] - b[0]) if inside else None
        out.append(Fn(source, m.group(1), m.start(), brace, end, impl))
    return out


CALL = re.compile(r"(?<![\w])(\w+)\s*(?:::\s*<[^;{}()]*>\s*)?\(")
# `recv.name(`, `Path::name(`, `name(`; and a function passed as a value
# (`.map(Self::from_x)`, `.and_then(parse_json)`).
USE = re.compile(
    r"(?P<recv>\bself\s*\.\s*|\.\s*)?(?P<path>\b\w+\s*::\s*)?(?P<name>\w+)\s*"
    r"(?:(?:::\s*<[^;{}()]*>\s*)?(?P<call>\()|(?=[,)]))")


def uses(code):
    """(kind, qualifier, name) of each function a body can call: `self`
    (`self.name(`), `method` (`x.name(`), `path` (`Type::name`, qualifier
    the type or module), `free` (`name(` or `name` passed as a value)."""
    def an_argument(at):
        while at > 0 and code[at - 1].isspace():
            at -= 1
        return at > 0 and code[at - 1] in "(,"

    out = set()
    for m in USE.finditer(code):
        name = m.group("name")
        if name in RUST_KEYWORDS:
            continue
        if m.group("recv") and m.group("call"):
            out.add(("self" if m.group("recv").startswith("self") else "method", None, name))
        elif m.group("path") and not m.group("recv"):
            out.add(("path", m.group("path").rstrip(": \t\n"), name))
        elif not m.group("recv") and (m.group("call") or an_argument(m.start())):
            out.add(("free", None, name))
    return out


def called_names(code):
    return {name for _, _, name in uses(code)}


def method_calls(code):
    """Names called as methods or functions (`x.name(`, `name(`)."""
    return set(CALL.findall(code))


def narrow(caller, kind, qualifier, candidates):
    """The candidates a use can mean, by its form. A form none of them has
    names something outside these crates (`Vec::new`, `url.parse(`, a
    closure), except `self.x(`/`Self::x`, which may be a trait's method
    implemented elsewhere: all of them then (sound rather than precise)."""
    own_type = caller.impl[3] if caller.impl else None
    if kind in ("self", "path") and own_type and (kind == "self" or qualifier == "Self"):
        return [c for c in candidates if c.impl and c.impl[3] == own_type] or \
            [c for c in candidates if c.impl]
    if kind == "free":
        return [c for c in candidates if c.impl is None]
    if kind == "method":
        return [c for c in candidates if c.impl]
    if kind == "path" and qualifier[:1].isupper():
        return [c for c in candidates if c.impl and qualifier in (c.impl[2], c.impl[3])]
    if kind == "path":
        return [c for c in candidates if c.impl is None]
    return candidates


def reach(start, candidates_for):
    """Every function reachable from `start` (a list of Fn)."""
    seen, todo = set(), list(start)
    while todo:
        f = todo.pop()
        if id(f) in seen:
            continue
        seen.add(id(f))
        yield f
        for kind, qualifier, name in uses(f.code):
            todo.extend(narrow(f, kind, qualifier, candidates_for(f, name)))
