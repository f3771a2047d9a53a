"""The AWS adapters (shared/src/adapters, not the in-memory ones): each port
method's AWS requests, as IAM actions (botocore's model of the SDK crate's
service), and for DynamoDB where and under which partition-key prefix."""

import functools
import gzip
import json
import os
import re

from .paths import ADAPTERS, IN_MEMORY, SHARED
from .rust import called_names, crate, functions, match_brace, reach
from .template import table_key


@functools.lru_cache(maxsize=None)
def botocore_models():
    """botocore's service models (newest version each), by the SDK crate
    suffix (`serviceId` without spaces, lower case: `eventbridge`)."""
    import botocore
    data = os.path.join(os.path.dirname(botocore.__file__), "data")
    models = {}
    for service in os.listdir(data):
        folder = os.path.join(data, service)
        if not os.path.isdir(folder):
            continue
        versions = sorted(v for v in os.listdir(folder) if os.path.isdir(os.path.join(folder, v)))
        if not versions:
            continue
        base = os.path.join(folder, versions[-1], "service-2.json")
        if os.path.exists(base + ".gz"):
            with gzip.open(base + ".gz", "rt") as f:
                model = json.load(f)
        elif os.path.exists(base):
            with open(base) as f:
                model = json.load(f)
        else:
            continue
        key = model["metadata"].get("serviceId", service).replace(" ", "").lower()
        models[key] = model
    return models


IAM_PREFIX = {"monitoring": "cloudwatch"}


def iam_action(sdk_crate, operation):
    """`aws_sdk_eventbridge`, `put_events` -> `events:PutEvents`."""
    model = botocore_models().get(sdk_crate.removeprefix("aws_sdk_"))
    if model is None:
        raise LookupError(f"no botocore model for the SDK crate {sdk_crate}")
    prefix = model["metadata"].get("signingName") or model["metadata"]["endpointPrefix"]
    # IAM's prefix is not always the signing name: CloudWatch signs as
    # `monitoring`, its actions are `cloudwatch:*`.
    prefix = IAM_PREFIX.get(prefix, prefix)
    wanted = operation.replace("_", "").lower()
    names = [op for op in model["operations"] if op.lower() == wanted]
    if len(names) != 1:
        raise LookupError(f"{sdk_crate}: no operation {operation} in botocore's model")
    return f"{prefix}:{names[0]}"


class Access:
    """One kind of AWS request: an IAM action, and for DynamoDB where
    (`table` or `index/NAME`) and under which partition-key prefix (`None`:
    any key, or no key: a scan, an index query)."""

    __slots__ = ("action", "target", "prefix")

    def __init__(self, action, target=None, prefix=None):
        self.action, self.target, self.prefix = action, target, prefix

    def key(self):
        return (self.action, self.target or "", self.prefix or "")

    def __eq__(self, other):
        return self.key() == other.key()

    def __hash__(self):
        return hash(self.key())

    def __lt__(self, other):
        return self.key() < other.key()

    def __repr__(self):
        where = f" on the {self.target}" if self.target else ""
        keys = f" under {self.prefix}*" if self.prefix else ""
        return f"{self.action}{where}{keys}"


@functools.lru_cache(maxsize=None)
def port_methods():
    """Every port trait's methods, by name: the shared ports
    (shared/src/ports.rs), each feature's own (`<feature>/ports.rs`) and the
    policy's (`policy.rs`: `PolicyStore`)."""
    files = crate(SHARED)
    modules = [m for m in files if m in (("ports",), ("policy",)) or m[-1:] == ("ports",)]
    methods = {}
    for module in sorted(modules):
        ports = files[module]
        for m in re.finditer(r"pub trait (\w+)[^{]*\{", ports.code):
            end = match_brace(ports.code, m.end() - 1)
            for name in re.findall(r"\bfn\s+(\w+)", ports.code[m.end():end]):
                if name in methods:
                    raise ValueError(f"{ports.path}: {name} is a method of {methods[name]} and of {m.group(1)}")
                methods[name] = m.group(1)
    return methods


def in_dir(path, folder):
    return os.path.commonpath([path, folder]) == folder


@functools.lru_cache(maxsize=None)
def adapter_fns():
    files = crate(SHARED)
    return [f for s in files.values()
            if in_dir(s.path, ADAPTERS) and not in_dir(s.path, IN_MEMORY)
            for f in functions(s)]


@functools.lru_cache(maxsize=None)
def sdk_clients():
    """The adapters whose `client` is an AWS SDK client, with its crate:
    `pub struct DynamoStore { client: Client, .. }` beside
    `use aws_sdk_dynamodb::Client;`."""
    out = {}
    for s in crate(SHARED).values():
        if not in_dir(s.path, ADAPTERS) or in_dir(s.path, IN_MEMORY):
            continue
        imported = re.search(r"\buse\s+(aws_sdk_\w+)::Client\s*;", s.code)
        for m in re.finditer(r"\bstruct\s+(\w+)\s*\{([^}]*)\}", s.code):
            if imported and re.search(r"\bclient\s*:\s*Client\b", m.group(2)):
                out[m.group(1)] = imported.group(1)
    return out


def sdk_crate_of(f):
    """The SDK crate `self.client` is in a function of an adapter (None for
    an adapter of no AWS service, such as the log reader's HTTP client)."""
    return sdk_clients().get(f.impl[3]) if f.impl else None


@functools.lru_cache(maxsize=None)
def key_builders():
    """The adapters' partition-key builders (`fn branch_pk(..)` ->
    `BRANCH#`): the fixed start of the key each formats."""
    out = {}
    for f in adapter_fns():
        signature = f.source.code[f.start:f.body_start]
        if re.fullmatch(r"\w+_pk", f.name) and "-> String" in signature:
            m = re.search(r'format!\(\s*"([A-Z][A-Z0-9_]*#)', f.full)
            if not m:
                raise ValueError(f"{f}: a key builder whose key does not start with a fixed PREFIX#")
            out[f.name] = m.group(1)
    return out


@functools.lru_cache(maxsize=None)
def inventory_prefixes():
    """The partition-key prefixes of the items the inventory decodes (every
    other item is `StoredItem::Other`, which cleanup never touches): the
    only keys an `ItemKey` from the inventory can name."""
    [f] = [f for f in adapter_fns() if f.name == "stored_item"]
    return frozenset(re.findall(r'pk\.starts_with\(\s*"([A-Z][A-Z0-9_]*#)"\s*\)', f.full))


@functools.lru_cache(maxsize=None)
def adapter_accesses():
    """Each port method's AWS requests (a set of Access), from its AWS
    adapter's code."""
    partition_key = table_key()
    fns = adapter_fns()
    by_name = {}
    for f in fns:
        by_name.setdefault(f.name, []).append(f)
    ports = port_methods()

    def candidates(caller, name):
        # Within the adapter: its own helpers and free functions (never
        # another port method's implementation).
        return [f for f in by_name.get(name, []) if f.name not in ports or f is caller]

    out = {}
    for f in fns:
        if not f.impl or f.impl[2] not in set(ports.values()) or ports.get(f.name) != f.impl[2]:
            continue
        accesses = set()
        bodies = list(reach([f], candidates))
        code = "\n".join(b.code for b in bodies)
        full = "\n".join(b.full for b in bodies)
        prefixes = {key_builders()[n] for n in called_names(code) if n in key_builders()}
        if re.search(r"\bkey\.pk\b", code):  # an ItemKey: a key the inventory decoded
            prefixes |= inventory_prefixes()
        for b in bodies:
            sdk = sdk_crate_of(b)
            for op in re.findall(r"\.client\s*\.\s*(\w+)\s*\(", b.code) if sdk else []:
                action = iam_action(sdk, op)
                if not action.startswith("dynamodb:"):
                    accesses.add(Access(action))
                    continue
                if op in ("query", "scan"):
                    for index in re.findall(r"\.index_name\(\s*(\w+)\s*\)", code):
                        accesses.add(Access(action, f"index/{adapter_constants().get(index, index)}"))
                    table = re.search(r'key_condition_expression\(\s*"\s*%s\b' % partition_key, full)
                    if op == "scan":
                        accesses.add(Access(action, "table"))
                    elif table:
                        accesses.update(Access(action, "table", p) for p in prefixes or {None})
                else:
                    accesses.update(Access(action, "table", p) for p in prefixes or {None})
        out[f.name] = frozenset(accesses)
    return out


@functools.lru_cache(maxsize=None)
def adapter_constants():
    """The adapters' string constants (`GSI_ENV_TIME` -> its index's name)."""
    out = {}
    for s in crate(SHARED).values():
        if in_dir(s.path, ADAPTERS):
            out.update(re.findall(r'\bconst\s+(\w+)\s*:\s*&str\s*=\s*"([^"]*)"', s.full))
    return out


def list_deployments_paths():
    """`list_deployments` queries the table when its filter names an app and
    a branch, else the environment's index: the adapter's two arms, read
    from its code (None when the adapter no longer has that shape)."""
    [f] = [f for f in adapter_fns() if f.name == "list_deployments"]
    m = re.search(r"match\s*\(&filter\.app_id,\s*&filter\.branch_name\)\s*\{\s*"
                  r"\(Some\(\w+\),\s*Some\(\w+\)\)\s*=>(?P<table>.*?)_\s*=>(?P<index>.*)", f.full, re.S)
    if not m or ".index_name(" in m.group("table") or ".index_name(" not in m.group("index"):
        return None
    return m
