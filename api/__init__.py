"""The HTTP API: one router per kind of user, bearer-token auth, OpenAPI at /docs."""
