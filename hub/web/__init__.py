"""The web layer: app factory, middleware, rendering and routes (HTTP stays here, not in services)."""
