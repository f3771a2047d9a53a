"""The fixtures of every module here (fixtures.py; test_cloudformation_emulator
imports them from there too)."""

from .fixtures import amp, ctl, emu_url, fresh, moto, moto_endpoint  # noqa: F401
