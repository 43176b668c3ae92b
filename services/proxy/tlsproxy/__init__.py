"""TLS reverse proxy for the safe blogging kit."""
