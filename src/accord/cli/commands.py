"""Imports every command module so that each registers its group on the root app."""

from accord.cli import core, keys, ledger, matching, moderation, reports, rights, verify  # noqa: F401
