"""The JSON API, under /api/v1: one module per resource, bodies in schemas.py."""

from fastapi import APIRouter

from spendledger.web.api import (
    alerts,
    allocation,
    audit,
    budgets,
    deletions,
    dimensions,
    entries,
    events,
    exports,
    imports,
    reconcile,
    sources,
    spend,
)
from spendledger.web.api import subscriptions as subscriptions_api

router = APIRouter(prefix="/api/v1")
router.include_router(events.router)
router.include_router(spend.router)
router.include_router(dimensions.router)
router.include_router(sources.router)
router.include_router(budgets.router)
router.include_router(alerts.router)
router.include_router(entries.router)
router.include_router(deletions.router)
router.include_router(audit.router)
router.include_router(subscriptions_api.router)
router.include_router(imports.router)
router.include_router(exports.router)
router.include_router(reconcile.router)
router.include_router(allocation.router)

__all__ = ["router"]
