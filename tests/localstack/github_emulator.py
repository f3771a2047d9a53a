#!/usr/bin/env python3
"""The project's GitHub API emulator (the local stack's GitHub).

Serves only the REST endpoints Deploy Sentinel uses (see SERVED), checked
against GitHub's official OpenAPI description (the npm package
`@octokit/openapi`, `generated/api.github.com.json`, installed by
scripts/bootstrap.sh under .tools/), as the Amplify emulator is checked
against botocore's model. The description is loaded once at start; every
request body and path/query parameter is validated against the operation's
schema (422 naming the field, as GitHub answers), and every answer the
emulator sends is validated against the operation's response schema (an
invalid answer is an emulator bug: 500 with the reason, logged).

Auth as GitHub does it: the App's JWT (RS256, verified with the public key
given at start), installation tokens minted from it (expiring), and a
fine-grained personal access token given at start (no check runs). Rate-limit
headers on every answer, and modes that answer as GitHub's primary and
secondary limits do, or fail every request for a while. A control API under
/_emulator records calls, shows the state and scripts compares, commits and
installations. See tests/localstack/README.md.

Binds only the host it is given (127.0.0.1 by default). Standard library,
plus PyJWT and cryptography (the JWT), openapi-schema-validator (OpenAPI 3.0's
`nullable` on top of jsonschema) and referencing (the description's `$ref`s).
"""

# Its parts: github_emu/ (the package's __init__ lists them). Here: the
# arguments, the key, the description, and the server.

import argparse
import os
import sys
from http.server import ThreadingHTTPServer

from github_emu.common import APP_PERMISSIONS  # noqa: F401 (the tests read it here)
from github_emu.handler import Handler
from github_emu.spec import DEFAULT_SPEC, SERVED, Spec  # noqa: F401 (SERVED: the tests read it here)
from github_emu.state import State


def main():
    ap = argparse.ArgumentParser(description="The GitHub API emulator (see tests/localstack/README.md)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("GITHUB_PORT", "4540")))
    ap.add_argument("--app-id", type=int, default=4242, help="the App's id (the JWT's iss)")
    ap.add_argument("--app-public-key", required=True, help="PEM file of the App's public key (verifies the JWTs)")
    ap.add_argument("--pat", default=os.environ.get("GITHUB_EMULATOR_PAT", ""),
                    help="a fine-grained personal access token to accept (github_pat_…)")
    ap.add_argument("--openapi", default=os.environ.get("GITHUB_OPENAPI", DEFAULT_SPEC),
                    help="GitHub's OpenAPI description (api.github.com.json of @octokit/openapi)")
    args = ap.parse_args()
    if args.pat and not args.pat.startswith("github_pat_"):
        raise SystemExit("github emulator: --pat must be a fine-grained token (github_pat_…)")
    with open(args.app_public_key, "rb") as f:
        public_key = f.read()
    spec = Spec(args.openapi)
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    url = f"http://{args.host}:{server.server_address[1]}"
    Handler.state = State(spec, args.app_id, public_key, args.pat, url)
    print(f"github emulator on {url} (App {args.app_id}, description {args.openapi})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
