#!/usr/bin/env python3
"""moto's server (same arguments as `moto_server`), with one change for
speed: jsonpath_ng's parser is cached.

moto's EventBridge builds a new JSONPath parser (a PLY yacc table) for each
of the ~10 default input paths of every target of every matched rule, on
every PutEvents: about 100 ms of CPU under the GIL per event here, which
stalls every other call to the server (a GetItem took 224 ms instead of 8
during the reliability suite's burst). The parsed expressions are immutable,
so caching them by their text changes nothing else.
"""

import functools
import sys

import jsonpath_ng.ext

jsonpath_ng.ext.parse = functools.lru_cache(maxsize=4096)(jsonpath_ng.ext.parse)

from moto.server import main  # noqa: E402  (after the patch, on purpose)

if __name__ == "__main__":
    sys.exit(main())
