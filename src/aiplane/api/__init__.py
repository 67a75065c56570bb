"""HTTP edge: the composition root, the /api/v1 control API, and dispatch to the /v2 gateway."""
