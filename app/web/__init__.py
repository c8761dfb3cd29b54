"""What the routers share that needs the domains: API-key authentication, the use-case context of a
request, route construction and Idempotency-Key. Only entry points (routers, the app) import it."""
