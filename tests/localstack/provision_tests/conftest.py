"""The fixtures of every module here (fixtures.py)."""

from .fixtures import moto, stack  # noqa: F401
