"""The kit's ACME client service: a publicly trusted certificate for ACME_DOMAINS.

Read by file name:

- ``settings``: the environment, validated into one object (None: ACME is off).
- ``account``: the account key (made once, kept in its volume) and the account.
- ``order``: one order, HTTP-01 for each pending authorization; ``answers``: the key
  authorizations handed to the proxy through a read-only volume.
- ``served``: the pair the proxy serves and when to replace it; ``failures``: why an
  attempt failed, the likely fix, the wait before the next one.
- ``service``: the rounds and the container's main (``python -m acmekit``).

Protocol work is certbot's ``acme`` library; certificate rules shared with the local
CA (keys, atomic writes, name checks, renewal at two thirds) come from
``tlsproxy.certs``, which the image carries for that.
"""
