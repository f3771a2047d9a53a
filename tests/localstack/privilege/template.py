"""template.yaml read offline: the template, the table's partition key,
provision.py's resolver of intrinsic functions creating nothing, and the
deployed functions with their roles."""

import functools
import os

import yaml

from .paths import ROOT


@functools.lru_cache(maxsize=None)
def template():
    from provision import cfn_loader
    with open(os.path.join(ROOT, "template.yaml")) as f:
        return yaml.load(f, Loader=cfn_loader())


def table_key():
    """The table's partition key (template.yaml): what LeadingKeys sees."""
    table = next(r for r in template()["Resources"].values() if r["Type"] == "AWS::DynamoDB::Table")
    return next(k["AttributeName"] for k in table["Properties"]["KeySchema"] if k["KeyType"] == "HASH")


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
