"""The roles against the code: what Lambda itself uses a function's role
for, what reading GitHub's credentials takes, each role's grants (DynamoDB's as
Access), and the drift between what a function's role grants and what it
needs."""

from .adapters import Access, adapter_accesses
from .calls import code_actions, code_table_accesses, port_calls
from .rules import GITHUB_CREDENTIAL_VARIABLES, GITHUB_CREDENTIALS, PLATFORM
from .template import as_list, deployed_functions, resolver, template


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
