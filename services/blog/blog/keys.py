"""Typed keys for what the application and each request carry."""

from __future__ import annotations

import sqlite3

from aiohttp import web

from .config import Settings
from .first_admin import SetupLink
from .passkeys import Challenges
from .rendering import RenderPool, WorkerPool
from .second_factor import PendingLogins
from .throttle import LoginThrottle

SETTINGS = web.AppKey("settings", Settings)
DB = web.AppKey("db", sqlite3.Connection)
THROTTLE = web.AppKey("login_throttle", LoginThrottle)
SETUP_LINK = web.AppKey("setup_link", SetupLink)
DEVICE_KEY = web.AppKey("device_key", bytes)  # signs known-browser cookies (devices.py)
RENDERER = web.AppKey("renderer", RenderPool)  # Markdown in worker processes
IMAGER = web.AppKey("imager", WorkerPool)  # uploads re-encoded in a worker process
PENDING_LOGINS = web.AppKey("pending_logins", PendingLogins)  # password given, factor due
CHALLENGES = web.AppKey("webauthn_challenges", Challenges)  # passkey ceremonies under way
