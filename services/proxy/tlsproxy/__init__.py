"""TLS reverse proxy for the safe blogging kit.

Read by file name, one idea per module (after Caddy's ``reverseproxy``):

- ``config`` / ``interpolate`` / ``config_lines``: the TOML file, validated into one
  typed object, with line numbers in errors.
- ``server``: listening sockets, configuration generations (reload without dropping
  connections), signals, graceful shutdown; ``certwatch``: renewed certificate files;
  ``workers``: one process per core on ``SO_REUSEPORT`` sockets.
- ``protocol``: the client connection (limits, header deadline, parser errors).
- ``listener``: what every listener does first (framing checks, /healthz, HSTS, log).
- ``redirect``: the HTTP-to-HTTPS listener; ``handler``: the forwarding one.
- ``streaming``: request and response bodies in motion, with bounded memory.
- ``routing``: first-match routes; ``upstream``: the backend connection pool;
  ``backend_pool``: the lean keep-alive path for bodiless GET and HEAD.
- ``balancer``: priority tiers, weighted random / round robin, affinity cookie;
  ``backend_health``: passive marks, active probes.
- ``access``: per-route allow/deny, client certificates, Basic auth (``basic_auth``,
  ``htpasswd``).
- ``forwarded`` / ``hop_by_hop`` / ``rewrite``: header rules toward and from backends.
- ``cache``: a route's shared HTTP cache (collapsing, fills, stale answers);
  ``cache_rules``: what RFC 9111 allows, as pure functions; ``cache_store``: the LRU.
- ``websocket``: upgrade pass-through; ``tls``: profiles, certificates, SNI.
- ``metrics``: Prometheus counters and their listener; ``events``: JSON state events.
- ``accesslog``, ``errors``, ``healthcheck``, ``cli``.
- ``certs``: the certificate tool (a separate subpackage).
"""
