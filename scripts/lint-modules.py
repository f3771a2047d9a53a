#!/usr/bin/env python3
"""Fails on an import circle between the modules of a crate (`make lint`).

Reads every `.rs` file under the crate's `src/`, takes each path that starts
with `crate::`, `super::` or `self::` (in `use` lines, braces expanded, and
in code), resolves it to the deepest module it names, and draws an edge
between the two sibling modules (whole subtrees) under the lowest module
that holds both: `validate/reaction.rs` naming `crate::policy::X` is the
edge `validate -> policy` among the crate root's children. A parent and its
own children are not an edge (`health/bake` naming `super::Verdict` is how
a folder shares its types). Test code (`#[cfg(test)]` modules, inline or in
their own files) is left out: a test may assemble anything.

Two layers are held besides: `core` (the kernel) names nothing outside
itself, and `ports` names only `core` (LAYERS; a feature's own ports live
in the feature). A circle, or a layer's reach outside its bounds, is
printed with one line of source per edge, and the exit status is 1. Usage: scripts/lint-modules.py [crate-dir ...]
(default: shared).
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from pathlib import Path

Module = tuple[str, ...]

CFG_TEST_MOD = re.compile(r"#\[cfg\(test\)\]\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*([;{])")
USE_STMT = re.compile(r"\buse\s+([^;]+);")
PATH_IN_CODE = re.compile(r"(?<![\w:])([a-z_]\w*)((?:\s*::\s*\w+)+)")


def strip_comments_and_strings(text: str) -> str:
    """Blanks out comments and string literals, keeping line numbers."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            hashes = re.match(r'r(#*)"', text[i:]).group(1)
            end = '"' + hashes
            j = text.find(end, i + 2 + len(hashes))
            j = n if j < 0 else j + len(end)
            out.append('""' + "\n" * text.count("\n", i, j))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            # A `#[path = "…"]` keeps its file name: it says which file a
            # module is (a test module's, say).
            kept = text[i:j + 1] if re.search(r"#\[path\s*=\s*$", text[max(0, i - 40):i]) else '""'
            out.append(kept + "\n" * text.count("\n", i, j))
            i = j + 1
        elif c == "'" and re.match(r"'(\\.|[^\\'])'", text[i:i + 4]):
            m = re.match(r"'(\\.|[^\\'])'", text[i:i + 4])
            out.append("' '")
            i += len(m.group(0))
        else:
            out.append(c)
            i += 1
    return "".join(out)


def block_end(text: str, open_at: int) -> int:
    """The index after the brace that closes the one at `open_at`."""
    depth = 0
    for j in range(open_at, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return j + 1
    return len(text)


def expand_use(tree: str) -> list[str]:
    """`crate::{a::b, c::{d, e}}` -> [`crate::a::b`, `crate::c::d`, ...]."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+", "@as@", tree)).replace("@as@", " as ")
    brace = tree.find("{")
    if brace < 0:
        return [tree]
    prefix, inner = tree[:brace], tree[brace + 1:block_end(tree, brace) - 1]
    parts, depth, start = [], 0, 0
    for j, ch in enumerate(inner):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:j])
            start = j + 1
    parts.append(inner[start:])
    return [p for part in parts if part for p in expand_use(prefix + part)]


class Crate:
    """The crate's files as modules, with test code blanked out."""

    def __init__(self, src: Path):
        self.src = src
        self.files: dict[Module, Path] = {}
        for path in sorted(src.rglob("*.rs")):
            self.files[self.module_of(path)] = path
        self.test_files: set[Path] = set()
        self.code: dict[Module, str] = {}
        for module, path in self.files.items():
            self.code[module] = self._without_tests(path, strip_comments_and_strings(path.read_text()))
        # A test-only module's children are test code too.
        for path in list(self.files.values()):
            if any(parent in path.parents for parent in {t.with_suffix("") for t in self.test_files}
                   | {t.parent for t in self.test_files if t.name == "mod.rs"}):
                self.test_files.add(path)

    def module_of(self, path: Path) -> Module:
        rel = path.relative_to(self.src).with_suffix("").parts
        if rel in (("lib",), ("main",)):
            return ()
        return tuple(rel[:-1]) if rel[-1] == "mod" else tuple(rel)

    def _child_file(self, declaring: Path, name: str, explicit: str | None) -> Path | None:
        module = self.module_of(declaring)
        if explicit:
            return Path(os.path.normpath(declaring.parent / explicit))
        return self.files.get(module + (name,))

    def _without_tests(self, path: Path, text: str) -> str:
        while True:
            m = CFG_TEST_MOD.search(text)
            if not m:
                return text
            if m.group(2) == ";":
                explicit = re.search(r'#\[path\s*=\s*"([^"]+)"\]', m.group(0))
                child = self._child_file(path, m.group(1), explicit.group(1) if explicit else None)
                if child is not None:
                    self.test_files.add(Path(child))
                end = m.end()
            else:
                end = block_end(text, m.end() - 1)
            text = text[:m.start()] + "\n" * text.count("\n", m.start(), end) + text[end:]

    def is_child(self, here: Module, name: str) -> bool:
        return here + (name,) in self.files

    def resolve(self, here: Module, path: str) -> Module | None:
        """The deepest module `path` (seen from `here`) names, as written:
        `crate::health::Verdict` is `health` even when health re-exports it
        from core (name the type where it lives); None for another crate's
        path."""
        segments = [s for s in re.split(r"\s*::\s*", path) if s]
        if not segments:
            return None
        head = segments[0]
        if head == "crate":
            base, rest = (), segments[1:]
        elif head in ("self", "super"):
            base, rest = here, segments[1:]
            if head == "super":
                base = base[:-1]
            while rest and rest[0] == "super":
                base, rest = base[:-1], rest[1:]
        elif self.is_child(here, head):
            base, rest = here, segments
        else:
            return None
        target = base
        for seg in rest:
            if target + (seg,) in self.files:
                target = target + (seg,)
                continue
            break
        return target

    def edges(self):
        """Yields (from module, to module, file, line number, source line):
        every path a file's own (non-test) code names, except a `pub use` of
        its own descendants (a folder's face, resolved through instead)."""
        for module, text in self.code.items():
            path = self.files[module]
            if path in self.test_files:
                continue
            lines = path.read_text().splitlines()
            for m in USE_STMT.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                public = re.search(r"\bpub(?:\([^)]*\))?\s+$", text[max(0, m.start() - 20):m.start()])
                for used in expand_use(m.group(1)):
                    target = self.resolve(module, used.split(" as ")[0])
                    if target is None or target == module:
                        continue
                    if public and target[:len(module)] == module:
                        continue
                    yield module, target, path, line, lines[line - 1].strip()
            without_uses = USE_STMT.sub(lambda m: "\n" * m.group(0).count("\n"), text)
            for m in PATH_IN_CODE.finditer(without_uses):
                line = without_uses.count("\n", 0, m.start()) + 1
                target = self.resolve(module, m.group(1) + m.group(2))
                if target is not None and target != module:
                    yield module, target, path, line, lines[line - 1].strip()


# A module (and its descendants) -> the top-level modules it may name.
LAYERS: dict[tuple[str, ...], set[str]] = {
    ("core",): {"core"},
    ("ports",): {"core"},
}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one node (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(crate_dir: Path) -> list[str]:
    crate = Crate(crate_dir / "src")
    graph: dict[str, set[str]] = defaultdict(set)
    witness: dict[tuple[str, str], str] = {}

    def name(module: Module) -> str:
        return "::".join(("crate",) + module)

    for source, target, path, line, text in crate.edges():
        a, b = name(source), name(target)
        graph[a].add(b)
        witness.setdefault((a, b), f"{path}:{line}: {text}")
    problems = []
    for layer, allowed in LAYERS.items():
        for (a, b), where in sorted(witness.items()):
            source = tuple(a.split("::")[1:])
            target = tuple(b.split("::")[1:])
            if source[:len(layer)] == layer and target and target[0] not in allowed:
                problems.append(f"layer: {a} may name only {', '.join(sorted(allowed))}, but names {b}\n  {where}")
    for component in circles(graph):
        lines = [f"import circle: {' <-> '.join(component)}"]
        members = set(component)
        for a in component:
            for b in sorted(graph[a] & members):
                lines.append(f"  {a} -> {b}   {witness[(a, b)]}")
        problems.append("\n".join(lines))
    return problems


def main(argv: list[str]) -> int:
    crates = [Path(a) for a in argv] or [Path("shared")]
    problems = [p for c in crates for p in check(c)]
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} import circle(s): move the shared type to the lower module (core/), "
              "or pass it in (docs/architecture.md, 'Import rules')", file=sys.stderr)
        return 1
    print(f"no import circle, core and ports within their layers, in {', '.join(str(c) + '/src' for c in crates)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
