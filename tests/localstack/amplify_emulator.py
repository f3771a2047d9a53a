#!/usr/bin/env python3
"""The project's Amplify emulator (moto has no Amplify).

Serves Amplify's REST-JSON API exactly as botocore's model
(botocore/data/amplify/2017-07-25/service-2.json) describes it. The model is
loaded at start and drives the routes (method + requestUri), the validation of
every request (required members, types, lengths, patterns, enums → 400
BadRequestException) and a check of every answer (required members present:
the Rust SDK refuses answers without them). Beside the API it serves a control
API under /_emulator (create apps with fixed ids, play builds, inject faults),
job logs at pre-signed-looking `logUrl`s and a site per branch that reports
its deployed commit. Status changes are put on EventBridge's default bus
(moto) in Amplify's real event shape. See tests/localstack/README.md.

Binds only the host it is given (127.0.0.1 by default). Standard library,
plus boto3/botocore: the model's data and PutEvents.
"""

# The emulator's parts are the package amplify_emu/ beside this file (its
# __init__ says which holds what); this file starts the server.

import argparse
import os
import threading
from http.server import ThreadingHTTPServer

from amplify_emu.handler import Handler
from amplify_emu.model import Model
from amplify_emu.store import Store
from amplify_emu.traffic import publish_every_minute


def main():
    ap = argparse.ArgumentParser(description="The Amplify emulator (see tests/localstack/README.md)")
    ap.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1 only)")
    ap.add_argument("--port", type=int, default=int(os.environ.get("AMPLIFY_EMULATOR_PORT", "4520")))
    args = ap.parse_args()
    events_endpoint = os.environ.get("AWS_ENDPOINT_URL_EVENTBRIDGE") or os.environ.get("AWS_ENDPOINT_URL") or ""
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    Handler.store = Store(Model(), args.host, server.server_address[1], events_endpoint)
    threading.Thread(target=publish_every_minute, args=(Handler.store,), daemon=True).start()
    print(f"amplify emulator on http://{args.host}:{server.server_address[1]} "
          f"(events to {events_endpoint or 'nowhere: no EventBridge endpoint configured'})", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
