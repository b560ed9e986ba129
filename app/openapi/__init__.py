"""The OpenAPI spec of the bridge (generated from the marshmallow schemas) and the pages that show it: the spec at
GET /api/v1/openapi.json, Swagger UI at GET /docs."""
