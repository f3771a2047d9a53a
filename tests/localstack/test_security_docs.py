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


def threat_rows():
    """The rows of docs/security.md's table "every input, who controls it,
    and the test": (input, what holds, tests)."""
    with open(os.path.join(ROOT, "docs", "security.md")) as f:
        text = f.read()
    table = text.split("| input | who controls it | threat | what holds | tests |", 1)[1]
    rows = []
    for line in table.splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append((cells[0], cells[3], cells[-1]))
    return rows


def defined_names():
    """Every Rust `fn` and Python `def` name in the repository's sources."""
    import re
    names = set()
    for top in ["shared", "cli", "functions", "tests", "scripts", "fuzz"]:
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith((".rs", ".py")):
                    with open(os.path.join(folder, name), encoding="utf-8", errors="replace") as f:
                        names.update(re.findall(r"\b(?:fn|def)\s+([a-z_][a-z0-9_]*)", f.read()))
    return names


def named_tests(cell):
    """The test names a cell quotes: backticked snake_case words with an
    underscore (paths and modules are not names)."""
    import re
    return [n for n in re.findall(r"`([a-z][a-z0-9_]*)`", cell) if "_" in n and len(n) > 12]


def named_files(cell):
    """The test files a cell quotes (`tests/it/operator.rs`)."""
    import re
    return [p.split(" ")[0] for p in re.findall(r"`([A-Za-z0-9_./-]+\.(?:rs|py))", cell) if "/" in p]


def test_every_threat_names_what_holds_and_tests_that_exist():
    rows = threat_rows()
    assert len(rows) >= 10, rows
    defined = defined_names()
    for threat, holds, tests in rows:
        assert holds and "not yet" not in holds.lower(), f"{threat}: nothing holds"
        names, files = named_tests(tests), named_files(tests)
        assert names or files, f"{threat}: no test named"
        missing = [n for n in names if n not in defined]
        missing += [f for f in files if not os.path.exists(os.path.join(ROOT, f))]
        assert not missing, f"{threat}: the docs name tests that do not exist: {missing}"


def test_the_threat_check_can_say_no():
    assert named_tests("`core::redact` tests; `a_url_password_never_appears_in_a_finding_or_its_json`") == [
        "a_url_password_never_appears_in_a_finding_or_its_json"]
    assert "a_test_nobody_wrote_for_this_threat" not in defined_names()
