"""TLS reverse proxy for the safe blogging kit.

Read by file name, one idea per module (after Caddy's ``reverseproxy``):

- ``config`` / ``interpolate`` / ``config_lines``: the TOML file, validated into one
  typed object, with line numbers in errors.
- ``server``: listeners, the shared backend pool, graceful shutdown.
- ``protocol``: the client connection (limits, header deadline, parser errors).
- ``listener``: what every listener does first (framing checks, /healthz, HSTS, log).
- ``redirect``: the HTTP-to-HTTPS listener; ``handler``: the forwarding one.
- ``streaming``: request and response bodies in motion, with bounded memory.
- ``routing``: first-match routes; ``upstream``: backend pool and selection.
- ``forwarded`` / ``hop_by_hop`` / ``rewrite``: header rules toward and from backends.
- ``websocket``: upgrade pass-through; ``tls``: profiles, certificates, SNI.
- ``accesslog``, ``errors``, ``healthcheck``, ``cli``.
- ``certs``: the certificate tool (a separate subpackage).
"""
