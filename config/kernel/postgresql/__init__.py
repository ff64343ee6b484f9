"""Django's PostgreSQL backend with a pool that drops every dead connection at once (``base``)."""
