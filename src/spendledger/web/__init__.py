"""The web layer: `create_app(settings)` builds the FastAPI app (JSON API and pages)."""

from spendledger.web.app import create_app

__all__ = ["create_app"]
