"""roles: what each function asked AWS in the phases before (the proxies
saw every call) against its role in template.yaml, the static scan of its
code (least_privilege.py) and what the bus takes."""

from .stack import PROXY, PROXY_AMPLIFY, check, proxies


def granted_table(grants, action, detail):
    """Whether a role's DynamoDB grants (least_privilege.Access) cover one
    seen request: `table BRANCH#`, `table` (a scan), `index/NAME`."""
    target, _, key = detail.partition(" ")
    for g in grants:
        if g.action != action or g.target != target:
            continue
        if g.prefix is None or (key and key.startswith(g.prefix)):
            return True
    return False


def phase_roles(args):
    print("\n== roles: every AWS call of the phases before, against the functions' roles")
    import least_privilege as lp
    if not (PROXY and PROXY_AMPLIFY):
        check(False, "the functions' calls went through the proxies (FAULT_PROXY_URL, FAULT_PROXY_AMPLIFY_URL)")
        return
    seen = {}
    stats = proxies("stats")
    key = stats["aws"].get("table_key")
    check(key == lp.table_key(), f"the proxy reads the table's partition key ({key}, template: {lp.table_key()})")
    for proxy in stats.values():
        for caller, ops in proxy.get("seen", {}).items():
            for op, details in ops.items():
                seen.setdefault(caller, {}).setdefault(op, set()).update(details)
    functions = lp.deployed_functions()
    sources, types = bus_takes(lp)
    for caller in sorted(seen):
        # Locally the app name is the binary's; deployed, the function's name ends with it.
        function = next((f for f in functions if caller == f or caller.endswith("-" + f)), None)
        if function is None:
            continue
        role = functions[function][1]
        granted, table = lp.role_actions(role), lp.role_table_accesses(role)
        # GitHub's credentials are read when the local stack turns GitHub on
        # (least_privilege.GITHUB_CREDENTIALS).
        predicted = lp.code_actions(function) | lp.github_actions(function)
        predicted_table = lp.code_table_accesses(function)
        denied, unpredicted, off_bus = [], [], []
        for op, details in sorted(seen[caller].items()):
            action = op  # the proxy names the service by SigV4's signing name: IAM's prefix for these
            if action not in granted:
                denied.append(action)
            if action not in predicted:
                unpredicted.append(action)
            if action.startswith("dynamodb:"):
                denied += [f"{action} {d}" for d in sorted(details) if not granted_table(table, action, d)]
                unpredicted += [f"{action} {d}" for d in sorted(details)
                                if not granted_table(predicted_table, action, d)]
            if action == "events:PutEvents":
                for d in sorted(details):
                    put_source, _, put_type = d.partition(" / ")
                    # A function publishes as the stack (`sentinel`), never
                    # as a reporter.
                    if put_source not in sources or put_source != "sentinel" or put_type not in types:
                        off_bus.append(d)
        print(f"  {function}: {len(seen[caller])} of the {len(predicted)} actions its code may call exercised: "
              + ", ".join(sorted(seen[caller])))
        check(not denied, f"{function}: its role grants every call it made"
              + (f"; denied: {denied}" if denied else ""))
        check(not unpredicted, f"{function}: the static scan predicted every call it made"
              + (f"; missed: {unpredicted}" if unpredicted else ""))
        check(not off_bus, f"{function}: the bus takes every event it put"
              + (f"; refused: {off_bus}" if off_bus else ""))
    missing = sorted(set(functions) - {f for f in functions for c in seen if c == f or c.endswith("-" + f)})
    print("  functions that made no AWS call through the proxies: " + (", ".join(missing) or "none"))


def bus_takes(lp):
    """The sources and detail types the bus's policy lets in (the functions'
    `sentinel`, and `sentinel.report.*` for reports, as IAM patterns)."""
    bus = next(r for r in lp.template()["Resources"].values() if r["Type"] == "AWS::Events::EventBus")
    policy = lp.resolver().resolve(bus["Properties"]["Policy"])
    statements = {st["Sid"]: st for st in policy["Statement"]}
    sources = statements["OnlyTheStacksSource"]["Condition"]["ForAnyValue:StringNotLike"]["events:source"]
    types = statements["OnlyTheStacksEventTypes"]["Condition"]["ForAnyValue:StringNotEquals"]["events:detail-type"]
    return {sources} if isinstance(sources, str) else set(sources), set(types)
