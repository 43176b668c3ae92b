"""Local certificate authority and server/client certificates for the kit.

Run as ``python -m tlsproxy.certs``; needs only ``cryptography`` (no aiohttp), so it
works in a plain virtualenv as well as inside the proxy image.
"""
