"""URL map: every route of the blog in one place."""

from __future__ import annotations

from aiohttp import web

from .views import (
    account,
    admin,
    authoring,
    autosaves,
    crawlers,
    feeds,
    health,
    media,
    people,
    reading,
    revisions,
    second_step,
    security,
    settings,
    setup,
    static,
    trash,
)


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", reading.front_page, name="index")
    app.router.add_get("/posts/{slug}", reading.post_page, name="post")
    app.router.add_get("/stories/", reading.story_list, name="stories")
    app.router.add_get("/stories", reading.to_story_list)
    app.router.add_get("/stories/{slug}", reading.story_page, name="story")
    app.router.add_get("/categories", reading.term_index, name="categories")
    app.router.add_get("/category/{slug}", reading.category_page, name="category")
    app.router.add_get("/tag/{slug}", reading.tag_page, name="tag")
    app.router.add_get("/archive", reading.archive_index, name="archive")
    app.router.add_get(r"/archive/{year:\d{4}}/{month:\d{2}}", reading.archive_month)
    app.router.add_get("/search", reading.search_page, name="search")
    app.router.add_get("/feed.{format:atom|rss}", feeds.site_feed, name="feed")
    app.router.add_get("/category/{slug}/feed.{format:atom|rss}", feeds.category_feed)
    app.router.add_get("/sitemap.xml", crawlers.sitemap_xml, name="sitemap")
    app.router.add_get("/robots.txt", crawlers.robots_txt, name="robots")
    app.router.add_get("/favicon.ico", static.favicon, name="favicon")
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/login", account.login_form, name="login")
    app.router.add_post("/login", account.login)
    app.router.add_post("/logout", account.logout, name="logout")
    app.router.add_get("/login/second-factor", second_step.second_factor_form, name="second_factor")
    app.router.add_post("/login/second-factor", second_step.check_second_factor)
    app.router.add_post(
        "/login/passkey/options", second_step.passkey_options, name="passkey_login_options"
    )
    app.router.add_post("/login/passkey", second_step.passkey_sign_in, name="passkey_login")
    app.router.add_get("/setup/{token}", setup.setup_form, name="setup")
    app.router.add_post("/setup/{token}", setup.create_first_admin)
    app.router.add_get("/dashboard/password", account.password_form, name="password")
    app.router.add_post("/dashboard/password", account.change_password)
    app.router.add_get("/dashboard/security", security.security_page, name="security")
    app.router.add_post("/dashboard/security/totp", security.totp_begin, name="totp_begin")
    app.router.add_post(
        "/dashboard/security/totp/confirm", security.totp_confirm, name="totp_confirm"
    )
    app.router.add_post("/dashboard/security/totp/remove", security.totp_remove, name="totp_remove")
    app.router.add_post(
        "/dashboard/security/recovery-codes", security.new_recovery_codes, name="recovery_codes"
    )
    app.router.add_post(
        "/dashboard/security/passkeys/options",
        security.passkey_registration_options,
        name="passkey_register_options",
    )
    app.router.add_post(
        "/dashboard/security/passkeys", security.passkey_register, name="passkey_register"
    )
    app.router.add_post(
        r"/dashboard/security/passkeys/{passkey_id:\d+}/rename",
        security.passkey_rename,
        name="passkey_rename",
    )
    app.router.add_post(
        r"/dashboard/security/passkeys/{passkey_id:\d+}/remove",
        security.passkey_remove,
        name="passkey_remove",
    )
    app.router.add_post("/dashboard/users/second-factor", admin.set_policy, name="policy")
    app.router.add_get("/dashboard", authoring.dashboard, name="dashboard")
    app.router.add_get("/dashboard/posts/new", authoring.new_form)
    app.router.add_post("/dashboard/posts/new", authoring.create)
    app.router.add_get(r"/dashboard/posts/{post_id:\d+}", authoring.edit_form)
    app.router.add_post(r"/dashboard/posts/{post_id:\d+}", authoring.update)
    app.router.add_post(r"/dashboard/posts/{post_id:\d+}/restore", trash.restore)
    app.router.add_post(r"/dashboard/posts/{post_id:\d+}/delete", trash.delete_for_good)
    app.router.add_get(r"/dashboard/posts/{post_id:\d+}/revisions", revisions.revision_list)
    app.router.add_get(
        r"/dashboard/posts/{post_id:\d+}/revisions/{revision:\d+}", revisions.revision_page
    )
    app.router.add_get("/dashboard/trash", trash.trash_list, name="trash")
    app.router.add_post("/dashboard/autosave", autosaves.keep, name="autosave")
    app.router.add_post("/dashboard/autosave/discard", autosaves.discard)
    app.router.add_get("/dashboard/media", media.media_list, name="media")
    app.router.add_post("/dashboard/media", media.upload)
    app.router.add_post("/dashboard/media/{name}/delete", media.delete)
    app.router.add_get("/media/{name}", media.serve, name="media_file")
    app.router.add_get("/dashboard/users", admin.user_list, name="users")
    app.router.add_post("/dashboard/users", admin.add_user)
    app.router.add_post(r"/dashboard/users/{user_id:\d+}/{verb:disable|enable}", admin.set_disabled)
    app.router.add_post(r"/dashboard/users/{user_id:\d+}/role", admin.set_role)
    app.router.add_post(r"/dashboard/users/{user_id:\d+}/password-link", admin.give_password_link)
    app.router.add_get("/password-link/{token}", people.password_link_form, name="password_link")
    app.router.add_post("/password-link/{token}", people.set_password_from_link)
    app.router.add_get("/dashboard/profile", people.profile_form, name="profile")
    app.router.add_post("/dashboard/profile", people.save_profile)
    app.router.add_get("/dashboard/settings", settings.settings_form, name="settings")
    app.router.add_post("/dashboard/settings", settings.save_settings)
    app.router.add_get("/static/{filename}", static.static_file, name="static")
