"""The `aiplane` command: a thin shell over the HTTP API (and the local `up`/`serve-model`)."""
