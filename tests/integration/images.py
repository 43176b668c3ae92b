"""The kit's image names. ``IMAGE_TAG`` (compose.yaml reads it too) lets two checkouts
build and test side by side without overwriting each other's images."""

from __future__ import annotations

import os

IMAGE_TAG = os.environ.get("IMAGE_TAG") or "local"
PROXY_IMAGE = f"blogkit-proxy:{IMAGE_TAG}"
BLOG_IMAGE = f"blogkit-blog:{IMAGE_TAG}"
ACME_IMAGE = f"blogkit-acme:{IMAGE_TAG}"
