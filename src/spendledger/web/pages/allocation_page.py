"""/allocation: aliases, teams and allocation rules (admins only).

The forms call the functions the CLI calls (store/aliases.py, store/allocation.py), each
change audited under the admin's email; every POST checks CSRF. What they change shows
at once in every figure (reports, budgets, the showback): they are read with the spend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse

from spendledger.errors import SpendledgerError
from spendledger.store import Connection
from spendledger.store.aliases import (
    ALIAS_DIMENSIONS,
    Alias,
    add_alias,
    list_aliases,
    list_teams,
    remove_alias,
    remove_team,
    set_team,
)
from spendledger.store.allocation import (
    POOLS,
    RULE_DIMENSIONS,
    SPLITS,
    AllocationRule,
    add_rule,
    list_rules,
    remove_rule,
)
from spendledger.web.auth import Viewer, check_csrf, require
from spendledger.web.deps import EngineDep, TemplatesDep

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
Text = Annotated[str, Form()]
Csrf = Annotated[str | None, Form()]


@router.get("/allocation", response_class=HTMLResponse)
def allocation_page(
    request: Request, templates: TemplatesDep, engine: EngineDep, viewer: AdminViewer
) -> HTMLResponse:
    return _render(request, templates, engine, viewer)


@router.post("/allocation/aliases", response_class=HTMLResponse)
def alias_add(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    dimension: Text = "project",
    name: Text = "",
    canonical: Text = "",
    provider: Text = "",
    account: Text = "",
    found_in: Text = "",
    csrf_token: Csrf = None,
) -> HTMLResponse:
    """Add an alias."""
    check_csrf(viewer, csrf_token)
    alias = Alias(dimension, name, canonical, found_in=found_in, provider=provider, account=account)

    def change(conn: Connection) -> str:
        stored, outcome = add_alias(conn, alias, actor=viewer.user.email)
        return f"{'Unchanged' if outcome == 'unchanged' else 'Added'}: {stored.describe()}."

    form = {
        "dimension": dimension,
        "name": name,
        "canonical": canonical,
        "provider": provider,
        "account": account,
    }
    return _change(request, templates, engine, viewer, change, alias_form=form)


@router.post("/allocation/aliases/remove", response_class=HTMLResponse)
def alias_remove(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    alias_id: Text = "",
    csrf_token: Csrf = None,
) -> HTMLResponse:
    """Remove an alias by its id."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        if not alias_id.strip().isdigit():
            raise SpendledgerError(f"no alias with id {alias_id[:40]!r}")
        return f"Removed: {remove_alias(conn, int(alias_id), actor=viewer.user.email).describe()}."

    return _change(request, templates, engine, viewer, change)


@router.post("/allocation/teams", response_class=HTMLResponse)
def team_set(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    project: Text = "",
    team: Text = "",
    csrf_token: Csrf = None,
) -> HTMLResponse:
    """Put a project in a team."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        found, outcome = set_team(conn, project=project, team=team, actor=viewer.user.email)
        return f"{outcome.capitalize()}: project {found.project!r} in team {found.team!r}."

    return _change(request, templates, engine, viewer, change, team_form={"project": project, "team": team})


@router.post("/allocation/teams/remove", response_class=HTMLResponse)
def team_remove(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    project: Text = "",
    csrf_token: Csrf = None,
) -> HTMLResponse:
    """Take a project out of its team."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        gone = remove_team(conn, project=project, actor=viewer.user.email)
        return f"Removed: project {gone.project!r} from team {gone.team!r}."

    return _change(request, templates, engine, viewer, change)


@router.post("/allocation/rules", response_class=HTMLResponse)
def rule_add(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    name: Text = "",
    what: Text = "unattributed",
    by: Text = "team",
    split: Text = "proportional",
    csrf_token: Csrf = None,
) -> HTMLResponse:
    """Add an allocation rule."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        rule, outcome = add_rule(conn, AllocationRule(name, what, by, split), actor=viewer.user.email)
        verb = "Unchanged" if outcome == "unchanged" else "Added"
        return f"{verb}: rule {rule.name!r}, {rule.what} split by {rule.by}, {rule.split}."

    form = {"name": name, "what": what, "by": by, "split": split}
    return _change(request, templates, engine, viewer, change, rule_form=form)


@router.post("/allocation/rules/remove", response_class=HTMLResponse)
def rule_remove(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: AdminViewer,
    name: Text = "",
    csrf_token: Csrf = None,
) -> HTMLResponse:
    """Remove an allocation rule."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        return f"Removed rule {remove_rule(conn, name=name, actor=viewer.user.email).name!r}."

    return _change(request, templates, engine, viewer, change)


def _change(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: Viewer,
    change: Callable[[Connection], str],
    **forms: dict[str, str],
) -> HTMLResponse:
    """Run one change in its transaction; the page again, with what happened or why not."""
    try:
        with engine.begin() as conn:
            notice = change(conn)
    except SpendledgerError as exc:
        return _render(request, templates, engine, viewer, error=str(exc), status_code=400, **forms)
    return _render(request, templates, engine, viewer, notice=notice)


def _render(
    request: Request,
    templates: TemplatesDep,
    engine: EngineDep,
    viewer: Viewer,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    with engine.connect() as conn:
        found = {"aliases": list_aliases(conn), "teams": list_teams(conn), "rules": list_rules(conn)}
    defaults: dict[str, Any] = {
        "error": None,
        "notice": None,
        "alias_form": {"dimension": "project"},
        "team_form": {},
        "rule_form": {"what": "unattributed", "by": "team", "split": "proportional"},
    }
    choices = {
        "alias_dimensions": ALIAS_DIMENSIONS,
        "pools": POOLS,
        "rule_dimensions": RULE_DIMENSIONS,
        "splits": SPLITS,
    }
    return templates.TemplateResponse(
        request,
        "allocation.html",
        {**defaults, **context, **found, **choices, "viewer": viewer},
        status_code=status_code,
    )
