"""The tree the scan reads: this checkout, or another one
(LEAST_PRIVILEGE_ROOT, the tests' altered copies)."""

import os

# tests/localstack, where least_privilege.py is.
HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Another tree to scan (the tests' altered copies); this checkout by default.
ROOT = os.environ.get("LEAST_PRIVILEGE_ROOT") or os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.path.join(ROOT, "shared", "src")
FUNCTIONS = os.path.join(ROOT, "functions")
ADAPTERS = os.path.join(SHARED, "adapters")
# Unit tests' adapters; never deployed.
IN_MEMORY = os.path.join(ADAPTERS, "memory")
