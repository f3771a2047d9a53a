"""What each function's code can call on AWS, read from the Rust source, and
what each function's role grants, read from template.yaml: the two sides
that test_least_privilege.py keeps equal and reliability.py confirms with
the calls the functions really make.

The code side is a static scan, a superset of what can happen (every path,
however rare, counts):

1. The AWS adapters (shared/src/adapters, not the in-memory ones): each
   port method's SDK calls (`.client.get_item()` -> `dynamodb:GetItem`),
   following the adapter's own helpers (`self.fetch(..)`). The IAM action
   is the operation's name in botocore's model of the SDK crate's service
   (offline), so `aws_sdk_eventbridge`'s `put_events` is `events:PutEvents`.
   For DynamoDB also where (the table, or an index when the request names
   one) and which partition-key prefix (the adapter's `*_pk` key builder:
   `BRANCH#`, `POLICY#`, `METRICS#`), for `dynamodb:LeadingKeys`.
2. Each function's code: from functions/<name>/src, every function body it
   can reach in the shared crate (a call graph by name, each call resolved
   among the modules the calling file's feature holds or imports: the
   alerter's `on_event` is not the rollback's), and the port methods called
   there. Test code (`#[cfg(test)]`, `tests.rs`) is left out.

Beside what the code calls, Lambda itself uses the role (`PLATFORM`): the
function's log group, X-Ray, and its SQS event source's receive, delete and
attributes; an SNS publish to a KMS-encrypted topic needs the key
(`IMPLIED`). Those rules are AWS's, stated once here.
"""

import functools
import gzip
import json
import os
import re

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
# Another tree to scan (the tests' altered copies); this checkout by default.
ROOT = os.environ.get("LEAST_PRIVILEGE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.path.join(ROOT, "shared", "src")
FUNCTIONS = os.path.join(ROOT, "functions")
ADAPTERS = os.path.join(SHARED, "adapters")
# Unit tests' adapters; never deployed.
IN_MEMORY = os.path.join(ADAPTERS, "memory")

# What Lambda does with the function's role, by what the template gives the
# function (AWS's documentation of each).
PLATFORM = {
    # LoggingConfig.LogGroup: the runtime writes the function's logs.
    "logs": {"logs:CreateLogStream", "logs:PutLogEvents"},
    # Tracing: Active (Globals).
    "tracing": {"xray:PutTraceSegments", "xray:PutTelemetryRecords"},
    # An SQS event source (Events: Type: SQS): the poller receives and
    # deletes the records and reads the queue's attributes; it never changes
    # a message's visibility (AWSLambdaSQSQueueExecutionRole grants these
    # three).
    "sqs-event-source": {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"},
}
# Actions an action needs on another resource: SNS encrypts a message
# published to a topic with a KMS key under the publisher's identity.
IMPLIED = {"sns:Publish": {"kms:GenerateDataKey*", "kms:Decrypt"}}
# GitHub on (the stack's GitHubAppId/GitHubPrivateKeyParameter or
# GitHubTokenParameter): a function given GitHub's credentials by the name of
# their SSM parameter (GITHUB_KEY_PARAMETER or GITHUB_TOKEN_PARAMETER in its
# environment) reads that SecureString on first use
# (shared/src/github/settings.rs): GetParameter with decryption, which SSM
# decrypts with KMS under the caller's identity; and the alerter, given
# SENTINEL_ALERTER_QUEUE_URL, sends its GitHub retries to its own queue.
GITHUB_CREDENTIALS = {"ssm:GetParameter", "kms:Decrypt"}
GITHUB_CREDENTIAL_VARIABLES = ("GITHUB_KEY_PARAMETER", "GITHUB_TOKEN_PARAMETER")

RUST_KEYWORDS = {
    "if", "while", "match", "for", "loop", "return", "fn", "let", "in", "as", "move", "async",
    "await", "Some", "Ok", "Err", "None", "Box", "Vec", "String", "Self", "self", "super", "crate",
    "where", "impl", "dyn", "ref", "mut", "pub", "use", "mod", "struct", "enum", "type", "const",
}


# ----- Rust source --------------------------------------------------------

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


# ----- the adapters: port methods -> AWS requests --------------------------

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
def template():
    from provision import cfn_loader
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.load(f, Loader=cfn_loader())


def table_key():
    """The table's partition key (template.yaml): what LeadingKeys sees."""
    table = next(r for r in template()["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    return next(k["AttributeName"] for k in table["Properties"]["KeySchema"] if k["KeyType"] == "HASH")


@functools.lru_cache(maxsize=None)
def port_methods():
    """Every port trait's methods (shared/src/ports.rs), by name."""
    ports = crate(SHARED)[("ports",)]
    methods = {}
    for m in re.finditer(r"pub trait (\w+)[^{]*\{", ports.code):
        end = match_brace(ports.code, m.end() - 1)
        for name in re.findall(r"\bfn\s+(\w+)", ports.code[m.end():end]):
            if name in methods:
                raise ValueError(f"ports.rs: {name} is a method of {methods[name]} and of {m.group(1)}")
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


# ----- the functions' code -> port methods --------------------------------

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


# ----- template.yaml: the functions and their roles -----------------------

class Resolved(dict):
    """A resource's attributes when nothing is created: `<Name>`, `<Name.Arn>`."""

    def __init__(self, logical):
        super().__init__(Ref=f"<{logical}>")
        self.logical = logical

    def __missing__(self, attr):
        return f"<{self.logical}.{attr}>"


def resolver(params=None):
    """provision.py's resolver of intrinsic functions, creating nothing:
    a resource stands for itself (`<DeploymentsTable>`), except the table,
    whose name the roles build from Environment."""
    import provision

    class Offline(provision.Stack):
        def __init__(self, t, p):
            self.t, self.region = t, "us-east-1"
            self.params, self.conditions, self.attrs = {}, {}, {}
            for name, spec in t.get("Parameters", {}).items():
                raw = str(p.get(name, spec.get("Default", "")))
                self.params[name] = ([v.strip() for v in raw.split(",")] if spec["Type"] == "CommaDelimitedList"
                                     else raw)

        def ensure(self, logical):
            return self.attrs.setdefault(logical, Resolved(logical))

    return Offline(template(), dict(provision.LOCAL_PARAMS, **(params or {})))


def as_list(v):
    return v if isinstance(v, list) else [v]


@functools.lru_cache(maxsize=None)
def deployed_functions():
    """{binary: (function logical id, role logical id, function properties)}."""
    out = {}
    for name, res in template()["Resources"].items():
        if res["Type"] != "AWS::Serverless::Function":
            continue
        binary = res["Metadata"]["BuildProperties"]["Binary"]
        role = res["Properties"]["Role"]["Fn::GetAtt"][0]
        out[binary] = (name, role, res["Properties"])
    return out


def role_statements(role, params=None):
    """The role's statements, resolved (local parameters unless given)."""
    stack = resolver(params)
    res = template()["Resources"][role]
    return [st for policy in stack.resolve(res["Properties"]["Policies"])
            for st in policy["PolicyDocument"]["Statement"]]


def role_actions(role):
    return {a for st in role_statements(role) if st["Effect"] == "Allow" for a in as_list(st["Action"])}


def platform_actions(function):
    """What Lambda uses the function's role for, by its template."""
    _, _, props = deployed_functions()[function]
    glob = template().get("Globals", {}).get("Function", {})
    out = set()
    if props.get("LoggingConfig", {}).get("LogGroup") or glob.get("LoggingConfig", {}).get("LogGroup"):
        out |= PLATFORM["logs"]
    if props.get("Tracing", glob.get("Tracing")) == "Active":
        out |= PLATFORM["tracing"]
    if any(e.get("Type") == "SQS" for e in props.get("Events", {}).values()):
        out |= PLATFORM["sqs-event-source"]
    return out


def function_environment(function, params=None):
    """The function's own variables (not the Globals'), resolved."""
    _, _, props = deployed_functions()[function]
    return resolver(params).resolve(props.get("Environment", {}).get("Variables", {}))


def github_actions(function, params=None):
    """What reading GitHub's credentials takes, when the template gives the
    function their parameter under these parameters (GITHUB_CREDENTIALS)."""
    env = function_environment(function, params)
    return set(GITHUB_CREDENTIALS) if any(env.get(v) for v in GITHUB_CREDENTIAL_VARIABLES) else set()


def expected_actions(function, params=None):
    return code_actions(function) | platform_actions(function) | github_actions(function, params)


def role_table_accesses(role, params=None, statements=None):
    """The role's DynamoDB grants as Access: the table or the index, and
    each LeadingKeys prefix (None: any key)."""
    out = set()
    for st in role_statements(role, params) if statements is None else statements:
        actions = [a for a in as_list(st["Action"]) if a.startswith("dynamodb:")]
        if st["Effect"] != "Allow" or not actions:
            continue
        leading = st.get("Condition", {}).get("ForAllValues:StringLike", {}).get("dynamodb:LeadingKeys")
        prefixes = [p[:-1] if p.endswith("*") else p for p in as_list(leading)] if leading else [None]
        for resource in as_list(st["Resource"]):
            target = "index/" + resource.split("/index/", 1)[1] if "/index/" in resource else "table"
            for a in actions:
                for p in prefixes:
                    out.add(Access(a, target, p if target == "table" else None))
    return out


def code_table_accesses(function):
    return {a for a in code_accesses(function) if a.action.startswith("dynamodb:")}


def drift(function, statements=None, params=None):
    """What the function's code needs that its role lacks, and what its role
    grants that neither its code nor Lambda uses: two sorted lists of
    "action" and of "action on the table under PREFIX*" (DynamoDB's
    resources and keys). `statements`: the role's, if not the template's
    (under `params`, the local stack's unless given)."""
    _, role, _ = deployed_functions()[function]
    statements = role_statements(role, params) if statements is None else statements
    granted = {a for st in statements if st["Effect"] == "Allow" for a in as_list(st["Action"])}
    wanted = expected_actions(function, params)
    table_granted = role_table_accesses(role, statements=statements)
    table_wanted = code_table_accesses(function)
    missing = sorted(wanted - granted) + [repr(a) for a in sorted(table_wanted - table_granted)]
    extra = sorted(granted - wanted) + [repr(a) for a in sorted(table_granted - table_wanted)]
    return missing, extra


def why(function, action):
    """The port methods through which a function's code reaches an action."""
    return sorted(m for m in port_calls(function)
                  if any(a.action == action for a in adapter_accesses().get(m, ())))


def main():
    """The scan as JSON (for the tests that scan an altered copy)."""
    print(json.dumps({f: dict(zip(("missing", "extra"), drift(f))) for f in deployed_functions()}))


if __name__ == "__main__":
    main()
