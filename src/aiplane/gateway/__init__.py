"""The gateway: the governed front door of the data plane (authn, scope, routing, forwarding)."""
