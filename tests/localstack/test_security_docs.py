"""docs/security.md says what the template does: the table's encryption at
rest is the key the template really asks for."""

import os

import yaml

from provision import cfn_loader

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))


def test_the_tables_key_is_the_one_the_docs_name():
    with open(os.path.join(ROOT, "template.yaml")) as f:
        template = yaml.load(f, Loader=cfn_loader())
    sse = template["Resources"]["DeploymentsTable"]["Properties"].get("SSESpecification", {})
    with open(os.path.join(ROOT, "docs", "security.md")) as f:
        docs = f.read()
    if sse.get("SSEEnabled") and "KMSMasterKeyId" not in sse:
        # SSEEnabled without a key: DynamoDB's AWS-managed key, not the
        # AWS-owned default.
        assert "AWS-managed key `aws/dynamodb`" in docs
        assert "AWS-owned key" not in docs
    elif not sse.get("SSEEnabled"):
        assert "AWS-owned key" in docs
    else:
        assert "customer managed key" in docs.lower()
