"""A blog data directory with a front page's worth of posts, made through the blog's
own import (``python -m blog.ctl import``), so the pages are real rendered pages."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

from .processes import project_env
from .setup import PROJECT_PYTHON, REPO

POSTS = 12
PARAGRAPH = (
    "A paragraph of *Markdown* with a [link](https://example.org/) and `code`, long "
    "enough to make the page about the size of a real front page. "
) * 4


def _post(number: int) -> str:
    fields = {
        "title": f"Benchmark post {number}",
        "slug": f"benchmark-post-{number}",
        "kind": "post",
        "status": "published",
        "published_at": f"2026-01-{number:02d}T12:00:00+00:00",
        "tags": ["bench", f"tag{number % 3}"],
    }
    front = "\n".join(f"{key}: {json.dumps(value)}" for key, value in fields.items())
    body = "\n\n".join([f"## Part {n}\n\n{PARAGRAPH}" for n in range(3)])
    return f"---\n{front}\n---\n{body}\n"


def blog_env(data_dir: Path, port: int) -> dict[str, str]:
    return project_env(
        {
            "PYTHONPATH": str(REPO / "services" / "blog"),
            "BLOG_DATA_DIR": str(data_dir),
            "BLOG_BIND": "127.0.0.1",
            "BLOG_PORT": str(port),
            "BLOG_ACCESS_MODE": "password",  # the default: what readers get
            "BLOG_TRUSTED_PROXIES": "127.0.0.1",
            "BLOG_TITLE": "Benchmark",
        }
    )


def make_blog_data(data_dir: Path, port: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    archive = data_dir.parent / "blog-posts.zip"
    with zipfile.ZipFile(archive, "w") as out:
        out.writestr("manifest.json", json.dumps({"format": "blog-export/1", "entries": POSTS}))
        for number in range(1, POSTS + 1):
            out.writestr(f"posts/benchmark-post-{number}.md", _post(number))
    subprocess.run(  # noqa: S603 - our own fixed command line
        [str(PROJECT_PYTHON), "-m", "blog.ctl", "import", str(archive)],
        env=blog_env(data_dir, port),
        check=True,
        stdout=subprocess.DEVNULL,
    )
