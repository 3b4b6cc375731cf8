"""One router per resource, each with its prefix and tags (they group the routes in /docs)."""
