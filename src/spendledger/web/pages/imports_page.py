"""/imports: upload a spend or usage file, preview what it would store, then import it (admins).

The preview is the CLI's `--dry-run` (imports/importer.py): the rows, the totals per
provider and month, each rejected line with its column and reason; nothing is stored. It
answers in place (htmx) and enables the Import button, which posts the same form, file
included, to store it. Importing twice changes nothing (natural keys), so a second click
is harmless. Every POST checks CSRF. The summary is the CLI's, figure for figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse

from spendledger.imports.base import AUTO, ImportFileError, ImportOptions, readers
from spendledger.imports.importer import ImportSummary, parse_map, run_import
from spendledger.records import Basis
from spendledger.store import Engine
from spendledger.web.api.intake import after_new_data
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, PricerDep, SettingsDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
BASES = ("billed", "metered", "manual")


@router.get("/imports", response_class=HTMLResponse)
def imports_page(request: Request, templates: TemplatesDep, viewer: AdminViewer) -> HTMLResponse:
    return _render(request, templates, viewer)


@dataclass(frozen=True)
class Upload:
    """The upload form as posted."""

    file: UploadFile
    csrf_token: str | None
    format_name: str
    basis: str
    source: str
    mapping: str  # one COLUMN=FIELD a line


def _upload(
    file: Annotated[UploadFile, File()],
    csrf_token: Annotated[str | None, Form()] = None,
    format_name: Annotated[str, Form(alias="format")] = AUTO,
    basis: Annotated[str, Form()] = "",
    source: Annotated[str, Form()] = "",
    mapping: Annotated[str, Form(alias="map")] = "",
) -> Upload:
    return Upload(file, csrf_token, format_name, basis, source, mapping)


UploadDep = Annotated[Upload, Depends(_upload)]


@router.post("/imports/preview", response_class=HTMLResponse)
def preview(
    request: Request,
    templates: TemplatesDep,
    settings: SettingsDep,
    pricer: PricerDep,
    viewer: AdminViewer,
    upload: UploadDep,
) -> HTMLResponse:
    """What the file would store: a dry run, nothing written."""
    check_csrf(viewer, upload.csrf_token)
    return _run(request, templates, settings, None, pricer, viewer, upload)[0]


@router.post("/imports", response_class=HTMLResponse)
def store(
    request: Request,
    background: BackgroundTasks,
    templates: TemplatesDep,
    settings: SettingsDep,
    engine: EngineDep,
    pricer: PricerDep,
    viewer: AdminViewer,
    upload: UploadDep,
) -> HTMLResponse:
    """Import the file into the ledger; new records evaluate the alerts, as the events API's do."""
    check_csrf(viewer, upload.csrf_token)
    response, summary = _run(request, templates, settings, engine, pricer, viewer, upload)
    if summary is not None:
        after_new_data(request, background, accepted=summary.inserted + summary.replaced)
    return response


def _run(
    request: Request,
    templates: TemplatesDep,
    settings: SettingsDep,
    engine: Engine | None,
    pricer: PricerDep,
    viewer: Viewer,
    upload: Upload,
) -> tuple[HTMLResponse, ImportSummary | None]:
    """Import (or, with no engine, preview) the upload: the page with its summary or error."""
    form = {
        "format": upload.format_name,
        "basis": upload.basis,
        "source": upload.source,
        "map": upload.mapping,
    }
    name = upload.file.filename or "the file"
    try:
        if upload.basis and upload.basis not in BASES:
            raise ImportFileError(f"basis {upload.basis!r}: choose billed, metered or manual", field="basis")
        options = ImportOptions(
            source=upload.source.strip(),
            basis=Basis(upload.basis) if upload.basis else None,
            mapping=parse_map(line for line in upload.mapping.splitlines() if line.strip()),
        )
        summary = run_import(
            upload.file.file,
            format_name=upload.format_name,
            options=options,
            pricer=pricer,
            tz=settings.tz,
            engine=engine,
            actor=viewer.user.email,
        )
    except ImportFileError as exc:
        return _render(request, templates, viewer, form=form, error=f"{name}: {exc}", status_code=400), None
    return _render(request, templates, viewer, form=form, summary=summary, file_name=name), summary


def _render(
    request: Request,
    templates: TemplatesDep,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    summary: ImportSummary | None = None,
    error: str | None = None,
    file_name: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    context = {
        "viewer": viewer,
        "formats": [(found.name, found.help) for found in readers()],
        "auto": AUTO,
        "bases": BASES,
        "form": form or {"format": AUTO, "basis": "", "source": "", "map": ""},
        "summary": summary,
        "error": error,
        "file_name": file_name,
    }
    if request.headers.get("HX-Request"):
        # the result block alone, answered 200 so htmx swaps an error in too
        template = templates.get_template("imports.html")
        new = template.new_context({"request": request, "partial": True, **context})
        block = template.blocks["result"](new)
        return HTMLResponse("".join(block))
    return templates.TemplateResponse(request, "imports.html", context, status_code=status_code)
