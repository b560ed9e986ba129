"""`python -m app.openapi > docs/openapi.json`: the spec, exactly as GET /api/v1/openapi.json serves it."""

import sys

from app.openapi.spec import build_spec, spec_json

sys.stdout.write(spec_json(build_spec()))
