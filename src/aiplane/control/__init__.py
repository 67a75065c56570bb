"""Control plane use-cases: tenants, keys, registry, deployments, and the replica supervisor."""
