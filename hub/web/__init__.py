"""The web layer: app factory, middleware, rendering, routes (HTTP stays out of services)."""
