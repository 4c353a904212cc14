"""API keys with roles, stored only as hashes."""

from accord.keys.model import PERMISSIONS, Role, permits
from accord.keys.service import KeyInfo, KeyService, Principal

__all__ = ["PERMISSIONS", "KeyInfo", "KeyService", "Principal", "Role", "permits"]
