"""The JSON API, under /api/v1: one module per resource, bodies in schemas.py."""

from fastapi import APIRouter

from spendledger.web.api import events, spend

router = APIRouter(prefix="/api/v1")
router.include_router(events.router)
router.include_router(spend.router)

__all__ = ["router"]
