"""The HTTP API (alert ingest, incidents REST, OpenAPI): `create_api` in `oncall.api.app`."""
