"""Fixtures for the blog tests (defined in blog_testkit, a uniquely named module)."""

from blog_testkit import admin_client, client, db, make_client, settings

__all__ = ["admin_client", "client", "db", "make_client", "settings"]
