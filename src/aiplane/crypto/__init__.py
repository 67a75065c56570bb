"""Adapters over the `cryptography` library: audit signing keys, HMAC secrets, envelope encryption."""
