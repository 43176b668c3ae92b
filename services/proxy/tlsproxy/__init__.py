"""TLS reverse proxy for the safe blogging kit.

Read by file name, one idea per module (after Caddy's ``reverseproxy``):

- ``config`` / ``interpolate`` / ``config_lines``: the TOML file, validated into one
  typed object, with line numbers in errors; ``pound`` / ``pound_lexer``: a Pound file
  translated into the same object; ``toml_writer``: that as TOML (``import-pound``).
- ``server``: listening sockets, configuration generations (reload without dropping
  connections), signals, graceful shutdown; ``certwatch``: renewed certificate files;
  ``workers``: one process per core on ``SO_REUSEPORT`` sockets.
- ``protocol``: the client connection (limits, header deadline, parser errors).
- ``listener``: what every listener does first (framing checks, /healthz, HSTS, log).
- ``redirect``: the HTTP-to-HTTPS listener; ``handler``: the forwarding one.
- ``streaming``: request and response bodies in motion, with bounded memory.
- ``routing``: first-match routes; ``conditions``: their ``match`` tests;
  ``replies``: routes the proxy answers itself (redirects, error pages).
- ``backend_pool``: keep-alive backend connections; ``backend_tls``: https backends.
- ``balancer``: priority tiers, weighted random / round robin, affinity cookie;
  ``sessions``: Pound's session tables; ``backend_health``: passive marks, active probes.
- ``access``: per-route allow/deny, client certificates, Basic auth (``basic_auth``,
  ``htpasswd``).
- ``forwarded`` / ``hop_by_hop`` / ``rewrite``: header rules toward and from backends;
  ``ssl_headers``: Pound's ``X-SSL-*`` fields.
- ``websocket``: upgrade pass-through; ``tls``: profiles, certificates, SNI.
- ``metrics``: Prometheus counters and their listener; ``events``: JSON state events.
- ``accesslog``, ``errors``, ``healthcheck``, ``cli``.
- ``certs``: the certificate tool (a separate subpackage).
"""
