"""POST /api/v1/imports: a file of spend or usage into the ledger, or a dry run of it.

The JSON twin of /imports and of `spendledger import`: a multipart upload (the file and
the CLI's options as form fields), answered with the same summary. API tokens only, as
the events API: a session cookie is never enough to write.
"""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, File, Form, HTTPException, Request, UploadFile, status
from pydantic import StringConstraints

from spendledger.imports.base import AUTO, FORMATS, ImportFileError, ImportOptions
from spendledger.imports.generic import FIELDS, IGNORE
from spendledger.imports.importer import ImportSummary, parse_map, run_import
from spendledger.records import Basis, format_money
from spendledger.web.api.intake import after_new_data
from spendledger.web.api.schemas import (
    ErrorPublic,
    ImportRejectionPublic,
    ImportResultPublic,
    ImportTotalPublic,
)
from spendledger.web.deps import CurrentToken, EngineDep, PricerDep, SettingsDep

router = APIRouter(tags=["imports"])


FORMAT_HELP = f"one of {', '.join([AUTO, *FORMATS])}"
RESPONSES: dict[int | str, dict[str, object]] = {
    400: {"model": ErrorPublic, "description": "a file or option that cannot be read"},
    401: {"model": ErrorPublic},
}
EXAMPLE_FILE = "timestamp,provider,model,output_tokens,cost\n2026-11-20T10:00:00Z,openai,gpt-4o,80,0.0031\n"
FileField = Annotated[
    UploadFile,
    File(description="a CSV export (generic, a console's, FOCUS) or Parquet", examples=[EXAMPLE_FILE]),
]
BasisField = Annotated[
    Literal["", "billed", "metered", "manual"],
    Form(description="for rows with none; empty: the format's default"),
]
SourceField = Annotated[str, Form(max_length=100, description="the records' source; default import-FORMAT")]
MAP_PATTERN = f"^[^=]+=({'|'.join([*FIELDS, IGNORE])})$"
MapField = Annotated[
    list[Annotated[str, StringConstraints(pattern=MAP_PATTERN)]],
    Form(alias="map", description="COLUMN=FIELD: read the file's COLUMN as FIELD (- leaves it out)"),
]


FormatName = Literal[
    "auto",
    "generic",
    "openai-usage",
    "anthropic-console",
    "openrouter-activity",
    "mistral",
    "focus",
    "focus-ai",
]  # FORMATS' names and auto (tests/test_api_imports.py holds them together)
EXAMPLE = {"file": EXAMPLE_FILE, "format": "generic", "dry_run": True}


@router.post(
    "/imports",
    response_model=ImportResultPublic,
    responses=RESPONSES,
    openapi_extra={"requestBody": {"content": {"multipart/form-data": {"example": EXAMPLE}}}},
)
def post_import(
    request: Request,
    background: BackgroundTasks,
    token_name: CurrentToken,
    settings: SettingsDep,
    engine: EngineDep,
    pricer: PricerDep,
    file: FileField,
    format_name: Annotated[FormatName, Form(alias="format", description=FORMAT_HELP)] = "auto",
    basis: BasisField = "",
    source: SourceField = "",
    mapping: MapField = [],  # noqa: B006 (FastAPI copies a default)
    dry_run: Annotated[
        bool, Form(description="show what would be stored; store nothing", examples=[True])
    ] = False,
) -> ImportResultPublic:
    """Import a file; re-importing it, or an overlapping export, changes nothing (natural keys)."""
    try:
        options = ImportOptions(
            source=source.strip(), basis=Basis(basis) if basis else None, mapping=parse_map(mapping)
        )
        summary = run_import(
            file.file,
            format_name=format_name,
            options=options,
            pricer=pricer,
            tz=settings.tz,
            engine=None if dry_run else engine,
            actor=f"token:{token_name}",
        )
    except ImportFileError as exc:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, detail=str(exc)) from None
    if not dry_run:
        after_new_data(request, background, accepted=summary.inserted + summary.replaced)
    return public(summary)


def public(summary: ImportSummary) -> ImportResultPublic:
    return ImportResultPublic(
        format=summary.format,
        source=summary.source,
        dry_run=summary.dry_run,
        rows=summary.rows,
        inserted=summary.inserted,
        replaced=summary.replaced,
        unchanged=summary.unchanged,
        rejected_count=summary.rejected_count,
        rejected=[
            ImportRejectionPublic(line=r.line, column=r.column, reason=r.reason) for r in summary.rejected
        ],
        totals=[
            ImportTotalPublic(
                provider=provider,
                month=month,
                currency=currency,
                rows=total.rows,
                cost=format_money(total.cost),
                unpriced=total.unpriced,
            )
            for (provider, month, currency), total in summary.sorted_totals()
        ],
    )
