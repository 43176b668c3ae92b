"""Helpers for the Pound tests: backends that say who they are, combined PEM files,
and a running proxy read from a Pound file or from its ``import-pound`` translation.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

from aiohttp import web
from proxy_testkit import LocalCA, RunningProxy, issue, start_backend
from tlsproxy.config import Config, load_config
from tlsproxy.pound import translate_pound
from tlsproxy.toml_writer import write_toml

SYNTAXES = ("pound", "toml")  # served from the Pound file, and from its TOML translation


def named_app(name: str) -> web.Application:
    """A backend answering every request with its ``name`` (``X-Backend`` and JSON with
    the path and fields it got). ``/login`` also hands out a session cookie and field."""

    async def answer(request: web.Request) -> web.Response:
        body = {
            "backend": name,
            "path": request.raw_path,
            "headers": [[k, v] for k, v in request.headers.items()],
        }
        response = web.Response(text=json.dumps(body), content_type="application/json")
        response.headers["X-Backend"] = name
        if request.path.startswith("/login"):
            response.headers["X-Session"] = f"{name}-token"
            response.set_cookie("JSESSIONID", f"{name}-token")
        return response

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", answer)
    return app


@contextlib.asynccontextmanager
async def named_backends(names: Iterable[str]) -> AsyncIterator[dict[str, int]]:
    """Live backends on loopback: ``name -> port``."""
    runners = []
    ports = {}
    try:
        for name in names:
            runner, url = await start_backend(named_app(name))
            runners.append(runner)
            ports[name] = int(url.rsplit(":", 1)[1])
        yield ports
    finally:
        for runner in runners:
            await runner.cleanup()


def combined_pem(ca: LocalCA, folder: Path, stem: str = "pound") -> Path:
    """Pound's certificate file: the chain, then the key, in one PEM file."""
    chain, key = issue(ca, folder, stem, ["localhost", "blog.example.org"])
    path = folder / f"{stem}-combined.pem"
    path.write_bytes(chain.read_bytes() + key.read_bytes())
    return path


def config_file(pound_path: Path, syntax: str) -> Path:
    """The file to serve: the Pound file itself, or its translation written as TOML."""
    if syntax == "pound":
        return pound_path
    translation = translate_pound(str(pound_path), pound_path.read_text())
    toml_path = pound_path.with_suffix(".toml")
    toml_path.write_text(write_toml(translation.document, translation.notes, ["test"]))
    return toml_path


def served_config(path: Path) -> Config:
    """``path`` loaded as ``serve`` loads it, every listener moved to a free port."""
    config = load_config(path, environ={})
    listeners = tuple(dataclasses.replace(lst, port=0) for lst in config.listeners)
    return dataclasses.replace(config, listeners=listeners)


@contextlib.asynccontextmanager
async def serving(pound_path: Path, syntax: str) -> AsyncIterator[RunningProxy]:
    async with RunningProxy(served_config(config_file(pound_path, syntax))) as proxy:
        yield proxy


def headers_of(payload: dict[str, Any]) -> dict[str, str]:
    return {name.lower(): value for name, value in payload["headers"]}
