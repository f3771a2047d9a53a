"""The wire contract, from botocore's model
(botocore/data/amplify/2017-07-25/service-2.json): routes, request
validation (400 BadRequestException naming each violation) and a check of
every answer against the output shape."""

import functools
import json
import re
from urllib.parse import unquote

from botocore.loaders import Loader

from .common import ApiError, bad


@functools.lru_cache(maxsize=None)
def java_regex(pattern):
    """The model's patterns are Java regexes; Python lacks \\p{..} classes
    (only TagValue uses them): letters/digits → \\w, separators → \\s."""
    return re.compile(pattern.replace(r"\p{L}", r"\w").replace(r"\p{N}", r"\w").replace(r"\p{Z}", r"\s"))


class Model:
    def __init__(self):
        raw = Loader().load_service_model("amplify", "service-2")
        self.shapes, self.ops = raw["shapes"], raw["operations"]
        self.routes = [self._route(name) for name in self.ops]

    def _route(self, name):
        http = self.ops[name]["http"]
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", http["requestUri"])
        return http["method"], re.compile(f"^{pattern}$"), name

    def match(self, method, path):
        """(operation, uri labels) for a raw path; labels are decoded after the
        split, so an encoded '/' in a branch name stays inside its label."""
        for verb, regex, name in self.routes:
            m = regex.match(path)
            if m and verb == method:
                return name, {k: unquote(v) for k, v in m.groupdict().items()}
        raise ApiError("UnknownOperationException", f"No operation matches {method} {path}")

    def request(self, op, labels, query, body):
        """The operation's input, gathered from uri, querystring and body, and
        validated as Amplify does (all violations reported together)."""
        shape = self.shapes[self.ops[op]["input"]["shape"]]
        params = {}
        for name, member in shape["members"].items():
            where = member.get("location")
            if where == "uri":
                params[name] = labels.get(member.get("locationName", name))
            elif where == "querystring":
                value = query.get(member.get("locationName", name), [None])[0]
                if value is not None and self.shapes[member["shape"]]["type"] == "integer":
                    value = int(value) if re.fullmatch(r"-?\d+", value) else value
                if value is not None:
                    params[name] = value
            elif name in body:
                params[name] = body[name]
        params = {k: v for k, v in params.items() if v is not None}  # JSON null means absent
        errors = []
        self.check(self.ops[op]["input"]["shape"], params, "", errors)
        if errors:
            raise bad(f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected: " + "; ".join(errors))
        return params

    def answer(self, op, out):
        """Checks our own answer against the output shape: a bug here would
        otherwise surface as an obscure deserialisation error in the SDK."""
        errors = []
        self.check(self.ops[op]["output"]["shape"], out, "", errors)
        if errors:
            raise ApiError("InternalFailureException", f"emulator bug, invalid {op} answer: " + "; ".join(errors))
        return out

    def check(self, shape_name, value, where, errors):
        shape = self.shapes[shape_name]
        kind = shape["type"]
        fail = lambda rule: errors.append(f"Value {json.dumps(value)[:80]} at '{where}' failed to satisfy "
                                          f"constraint: Member must {rule}")
        if kind == "structure":
            if not isinstance(value, dict):
                return fail("be an object")
            for name in shape.get("required", []):
                if value.get(name) is None:
                    errors.append(f"Value null at '{where + name}' failed to satisfy constraint: Member must not be null")
            for name, member in shape["members"].items():
                if value.get(name) is not None:
                    self.check(member["shape"], value[name], where + name if not where else f"{where}.{name}", errors)
        elif kind == "string":
            if not isinstance(value, str):
                return fail("be a string")
            if len(value) < shape.get("min", 0) or len(value) > shape.get("max", 1 << 30):
                fail(f"have length between {shape.get('min', 0)} and {shape.get('max', 'unbounded')}")
            if "pattern" in shape and not java_regex(shape["pattern"]).fullmatch(value):
                fail(f"satisfy regular expression pattern: {shape['pattern']}")
            if "enum" in shape and value not in shape["enum"]:
                fail(f"satisfy enum value set: [{', '.join(shape['enum'])}]")
        elif kind in ("integer", "long"):
            if not isinstance(value, int) or isinstance(value, bool):
                return fail("be an integer")
            if not shape.get("min", value) <= value <= shape.get("max", value):
                fail(f"be between {shape.get('min')} and {shape.get('max')}")
        elif kind == "boolean" and not isinstance(value, bool):
            fail("be a boolean")
        elif kind == "timestamp" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
            fail("be epoch seconds")
        elif kind == "map":
            if not isinstance(value, dict):
                return fail("be an object")
            if len(value) > shape.get("max", 1 << 30):
                fail(f"have at most {shape['max']} entries")
            for k, v in value.items():
                self.check(shape["key"]["shape"], k, f"{where}.key", errors)
                self.check(shape["value"]["shape"], v, f"{where}.{k}", errors)
        elif kind == "list":
            if not isinstance(value, list):
                return fail("be a list")
            for i, item in enumerate(value):
                self.check(shape["member"]["shape"], item, f"{where}.{i + 1}", errors)
