"""TLS reverse proxy for the safe blogging kit.

A request's way through the proxy, stage by stage, each in the module named for it:

1. accept: ``tls_transport`` (HTTPS: the first byte decides TLS or a plain-HTTP 400;
   OpenSSL reads and writes the socket itself) or the loop's TCP server (plain HTTP);
   ``connection_limits`` counts connections in all and per client address.
2. parse: ``client_connection`` feeds llhttp (``httptools``, strict) and enforces the
   size and time limits of a request head and body; ``fields`` holds header lines.
3. guard: ``request`` applies the head rules (framing, Host via ``host``, the
   request-target via ``target``) and refuses what breaks them.
4. route: ``listener`` answers ``/healthz``; ``handler`` picks the route
   (``routing``, with ``conditions`` for ``match`` tests), checks who may pass
   (``access``, ``basic_auth``, ``htpasswd``), answers routes that are replies
   (``replies``: redirects, error pages) and shapes the fields the backend gets
   (``hop_by_hop``, ``forwarded``, ``ssl_headers``); ``redirect`` is the HTTP-to-HTTPS
   listener (and ``acme_challenge`` its HTTP-01 answers).
5. forward: a route with a cache answers from it when it may (``cache``: collapsing,
   fills, stale answers; ``cache_rules``: what RFC 9111 allows; ``cache_store``: the
   LRU); otherwise ``exchange`` chooses a backend (``balancer``, ``sessions``,
   ``backend_health``), takes a connection (``backend_pool``, ``backend_connection``,
   ``backend_tls`` for https backends) and streams the request body.
6. relay: ``exchange`` streams the response back with flow control, rewriting what
   exposes the backend (``rewrite``); after a 101, ``tunnel`` relays bytes. The
   response field policy (HSTS, ``Server``) is applied once, in ``client_connection``.

Around them: ``config`` / ``interpolate`` / ``config_lines`` (the TOML file, validated
into one typed object; ``pound`` / ``pound_lexer``: a Pound file translated into the
same object; ``toml_writer``: that as TOML, ``import-pound``), ``server`` (listening
sockets, configuration generations, reload without dropping connections, signals,
graceful shutdown), ``certwatch`` (renewed certificate files), ``workers`` (one process
per core on ``SO_REUSEPORT``), ``tls`` (profiles, certificates, SNI), ``errors`` (the
proxy's own answers), ``accesslog``, ``metrics``, ``events``, ``healthcheck``, ``cli``;
and ``certs``, the certificate tool (a separate subpackage).
"""
