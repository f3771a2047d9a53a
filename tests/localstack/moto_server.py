#!/usr/bin/env python3
"""moto's server (same arguments as `moto_server`), with one change for
speed: jsonpath_ng's parser is cached.

moto's EventBridge builds a new JSONPath parser (a PLY yacc table) for each
of the ~10 default input paths of every target of every matched rule, on
every PutEvents: about 100 ms of CPU under the GIL per event here, which
stalls every other call to the server (a GetItem took 224 ms instead of 8
during the reliability suite's burst). The parsed expressions are immutable,
so caching them by their text changes nothing else.

And one change for realism: SNS lists an e-mail subscription as AWS does
until its endpoint confirms it, `PendingConfirmation` (moto lists every
subscription as confirmed). Nobody can follow a confirmation link here, so
a local e-mail subscription stays pending: `sentinel doctor` must say so
(tests/it/doctor.rs). Subscribe returns the real ARN, to unsubscribe it.
"""

import copy

import functools
import sys

import jsonpath_ng.ext

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=4096)(jsonpath_ng.ext.parse)

import moto.sns.models  # noqa: E402

_listed = moto.sns.models.SNSBackend.list_subscriptions_by_topic


def _pending_until_confirmed(self, topic_arn, next_token=None):
    subscriptions, token = _listed(self, topic_arn, next_token)
    shown = []
    for s in subscriptions:
        if s.protocol in ("email", "email-json"):
            s = copy.copy(s)
            s.arn = "PendingConfirmation"
        shown.append(s)
    return shown, token


moto.sns.models.SNSBackend.list_subscriptions_by_topic = _pending_until_confirmed

from moto.server import main  # noqa: E402  (after the patches, on purpose)

if __name__ == "__main__":
    sys.exit(main())
