"""HTTP API (FastAPI). Build it with :func:`masterypath.api.app.create_app`."""
