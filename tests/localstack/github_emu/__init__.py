"""The GitHub emulator's parts (tests/localstack/github_emulator.py starts
it): the shared names, errors and objects (`common`), the wire contract from
GitHub's OpenAPI description (`spec`), what the emulator remembers, the App,
its installation and the rate limits (`state`), who is calling (`auth`),
HTTP (`handler`), the served operations (`api`) and the control API
(`control`)."""
