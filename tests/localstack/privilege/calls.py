"""Each function's code (functions/<name>/src and the shared crate's code it
can reach, each call resolved among the modules the calling file's feature
holds or imports) as the port methods it calls, and so the AWS requests it
can make."""

import functools
import os
import re

from .adapters import Access, adapter_accesses, in_dir, list_deployments_paths, port_methods
from .paths import ADAPTERS, FUNCTIONS, SHARED
from .rules import IMPLIED
from .rust import crate, functions, method_calls, reach


def module_files(files, module):
    """The files of `module` and of its submodules."""
    return [s for m, s in files.items() if m[:len(module)] == module]


@functools.lru_cache(maxsize=None)
def scopes(function):
    """For each file a function's code may run, the functions a name called
    there can be: those of the file's feature (its top-level module of the
    shared crate, or the function's own crate) and of every module it
    imports (`crate::…`, `super::…`, `sentinel_shared::…`)."""
    shared = crate(SHARED)
    own = crate(os.path.join(FUNCTIONS, function, "src"))
    fns = {}
    for files in (shared, own):
        for s in files.values():
            if in_dir(s.path, ADAPTERS):
                continue  # reached through the ports only
            fns[s.path] = functions(s)

    def imported(source, files):
        """The (crate, module) pairs the file's paths name: `crate::a::b`,
        `super::x`, `self::y`, `sentinel_shared::z`, and each path of a
        `use` group (`use crate::a::{b, c::d}`)."""
        paths = re.findall(r"\b((?:crate|super|self|sentinel_shared)(?:::\w+)+)", source.code)
        for use in re.finditer(r"\buse\s+((?:crate|super|self|sentinel_shared)::[^;]*);", source.code):
            stack = [re.sub(r"\s+", "", use.group(1))]
            while stack:
                text = stack.pop()
                g = re.match(r"(.*?)\{(.*)\}$", text)
                if not g:
                    paths.append(text)
                    continue
                depth, part = 0, ""
                for ch in g.group(2) + ",":
                    depth += (ch == "{") - (ch == "}")
                    if ch == "," and depth == 0:
                        if part:
                            stack.append(g.group(1) + part)
                        part = ""
                    else:
                        part += ch
        found = set()
        for path in paths:
            head, *rest = path.split("::")
            if head == "sentinel_shared":
                target, module = shared, []
            elif head == "crate":
                target, module = files, []
            elif head == "self":
                target, module = files, list(source.module)
            else:  # super
                target, module = files, list(source.module[:-1])
                while rest and rest[0] == "super":
                    rest, module = rest[1:], module[:-1]
            module += [r for r in rest if r != "self"]
            while module and tuple(module) not in target:
                module.pop()
            found.add((id(target), tuple(module)))
        return found

    out = {}
    for files in (shared, own):
        for s in files.values():
            if in_dir(s.path, ADAPTERS):
                continue
            feature = s.module[:1] if files is shared else ()
            modules = {(id(files), feature)} | imported(s, files)
            allowed = []
            for fid, module in modules:
                if module == () and fid == id(shared):
                    allowed.append(shared[()])  # lib.rs only, not the whole crate
                    continue
                target = shared if fid == id(shared) else own
                allowed.extend(module_files(target, module))
            names = {}
            for a in allowed:
                if a.path in fns:
                    for f in fns[a.path]:
                        names.setdefault(f.name, []).append(f)
            out[s.path] = names
    return out, fns


@functools.lru_cache(maxsize=None)
def reached(function):
    """The shared crate's and the function's own code a function can run."""
    scope, fns = scopes(function)
    own = crate(os.path.join(FUNCTIONS, function, "src"))
    start = [f for s in own.values() for f in fns[s.path]]
    return list(reach(start, lambda caller, name: scope[caller.source.path].get(name, [])))


def port_calls(function):
    """The port methods a function's code calls, each with the bodies that
    call it."""
    ports = port_methods()
    out = {}
    for f in reached(function):
        for name in method_calls(f.code):
            if name in ports:
                out.setdefault(name, []).append(f)
    return out


def code_accesses(function):
    """What a function's code can ask AWS (a set of Access)."""
    paths = list_deployments_paths()
    accesses = set()
    for method, callers in port_calls(function).items():
        found = adapter_accesses().get(method, frozenset())
        if method == "list_deployments" and paths is not None:
            # A call whose DeploymentFilter names neither the app nor the
            # branch can only take the index arm.
            index_only = True
            for f in callers:
                for m in re.finditer(r"\.list_deployments\s*\(", f.code):
                    end = m.end() - 1
                    depth = 0
                    for k in range(end, len(f.code)):
                        depth += f.code[k] == "("
                        depth -= f.code[k] == ")"
                        if depth == 0:
                            break
                    args = f.code[end:k]
                    if "DeploymentFilter" not in args or re.search(r"\b(app_id|branch_name)\b", args):
                        index_only = False
            if index_only:
                found = {a for a in found if a.target != "table"}
        accesses |= set(found)
        for a in list(found):
            accesses.update(Access(i) for i in IMPLIED.get(a.action, ()))
    return accesses


def code_actions(function):
    return {a.action for a in code_accesses(function)}


def code_table_accesses(function):
    return {a for a in code_accesses(function) if a.action.startswith("dynamodb:")}
