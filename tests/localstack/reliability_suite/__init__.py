"""The reliability suite's phases (tests/localstack/reliability.py runs
them), one module each, on the local stack as `stack` reaches it."""
