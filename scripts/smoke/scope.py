"""What the stack watches: its apps and branch patterns, by the functions'
rule."""

import re


def branch_watched(patterns, branch):
    """The functions' rule (shared/src/core/scope.rs): `*` matches any run of
    characters, `!` excludes; watched when an including pattern matches and
    no excluding one does. Empty means every branch."""
    include, exclude = [], []
    for p in (x.strip() for x in patterns.split(",")):
        if p:
            (exclude if p.startswith("!") else include).append(p.lstrip("!").strip())
    match = lambda p: re.fullmatch(".*".join(map(re.escape, p.split("*"))), branch, re.S) is not None
    return any(match(p) for p in (include or ["*"])) and not any(match(p) for p in exclude)


def app_watched(app_ids, app):
    ids = [a.strip() for a in app_ids.split(",") if a.strip()]
    return "*" in ids or app in ids
