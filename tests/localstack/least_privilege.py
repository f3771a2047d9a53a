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
(`IMPLIED`). Those rules are AWS's, stated once (privilege/rules.py).

The scan is the package privilege/ beside this file (its __init__ says which
part does what); this module gathers its public names for the tests and
reliability.py, and prints the scan as JSON when run.
"""

import json

from privilege.adapters import Access, adapter_accesses, list_deployments_paths, port_methods
from privilege.calls import code_actions, code_table_accesses, port_calls, reached
from privilege.paths import HERE, ROOT, SHARED
from privilege.roles import drift, github_actions, role_actions, role_statements, \
    role_table_accesses, why
from privilege.rules import GITHUB_CREDENTIALS
from privilege.rust import Source, crate, match_brace
from privilege.template import as_list, deployed_functions, resolver, table_key, template

__all__ = ["Access", "GITHUB_CREDENTIALS", "HERE", "ROOT", "SHARED", "Source", "adapter_accesses", "as_list",
           "code_actions", "code_table_accesses", "crate", "deployed_functions", "drift", "github_actions",
           "list_deployments_paths", "match_brace", "port_calls", "port_methods", "reached", "resolver",
           "role_actions", "role_statements", "role_table_accesses", "table_key", "template", "why"]


def main():
    """The scan as JSON (for the tests that scan an altered copy)."""
    print(json.dumps({f: dict(zip(("missing", "extra"), drift(f))) for f in deployed_functions()}))


if __name__ == "__main__":
    main()
