"""/allocation: aliases, teams and allocation rules (admins only).

The forms call the functions the CLI calls (store/aliases.py, store/allocation.py), each
change audited under the admin's email; every POST checks CSRF. What they change shows
at once in every figure (reports, budgets, the showback): they are read with the spend.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

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
from spendledger.web.pages.forms import Page, PageDep, submit

router = APIRouter(include_in_schema=False)

AdminViewer = Annotated[Viewer, require("admin")]
Text = Annotated[str, Form()]
Csrf = Annotated[str | None, Form()]


class AliasForm(BaseModel):
    dimension: str = "project"
    name: str = ""
    canonical: str = ""
    provider: str = ""
    account: str = ""
    found_in: str = ""
    csrf_token: str | None = None

    def alias(self) -> Alias:
        return Alias(
            self.dimension,
            self.name,
            self.canonical,
            found_in=self.found_in,
            provider=self.provider,
            account=self.account,
        )


class RuleForm(BaseModel):
    name: str = ""
    what: str = "unattributed"
    by: str = "team"
    split: str = "proportional"
    csrf_token: str | None = None


@router.get("/allocation", response_class=HTMLResponse)
def allocation_page(page: PageDep, viewer: AdminViewer) -> HTMLResponse:
    return _render(page, viewer)


@router.post("/allocation/aliases", response_class=HTMLResponse)
def alias_add(page: PageDep, viewer: AdminViewer, form: Annotated[AliasForm, Form()]) -> HTMLResponse:
    """Add an alias."""
    check_csrf(viewer, form.csrf_token)
    alias = form.alias()

    def change(conn: Connection) -> str:
        stored, outcome = add_alias(conn, alias, actor=viewer.user.email)
        return f"{'Unchanged' if outcome == 'unchanged' else 'Added'}: {stored.describe()}."

    return _change(page, viewer, change, alias_form=form.model_dump(exclude={"found_in", "csrf_token"}))


@router.post("/allocation/aliases/remove", response_class=HTMLResponse)
def alias_remove(
    page: PageDep, viewer: AdminViewer, alias_id: Text = "", csrf_token: Csrf = None
) -> HTMLResponse:
    """Remove an alias by its id."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        if not alias_id.strip().isdigit():
            raise SpendledgerError(f"no alias with id {alias_id[:40]!r}")
        return f"Removed: {remove_alias(conn, int(alias_id), actor=viewer.user.email).describe()}."

    return _change(page, viewer, change)


@router.post("/allocation/teams", response_class=HTMLResponse)
def team_set(
    page: PageDep, viewer: AdminViewer, project: Text = "", team: Text = "", csrf_token: Csrf = None
) -> HTMLResponse:
    """Put a project in a team."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        found, outcome = set_team(conn, project=project, team=team, actor=viewer.user.email)
        return f"{outcome.capitalize()}: project {found.project!r} in team {found.team!r}."

    return _change(page, viewer, change, team_form={"project": project, "team": team})


@router.post("/allocation/teams/remove", response_class=HTMLResponse)
def team_remove(
    page: PageDep, viewer: AdminViewer, project: Text = "", csrf_token: Csrf = None
) -> HTMLResponse:
    """Take a project out of its team."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        gone = remove_team(conn, project=project, actor=viewer.user.email)
        return f"Removed: project {gone.project!r} from team {gone.team!r}."

    return _change(page, viewer, change)


@router.post("/allocation/rules", response_class=HTMLResponse)
def rule_add(page: PageDep, viewer: AdminViewer, form: Annotated[RuleForm, Form()]) -> HTMLResponse:
    """Add an allocation rule."""
    check_csrf(viewer, form.csrf_token)

    def change(conn: Connection) -> str:
        rule = AllocationRule(form.name, form.what, form.by, form.split)
        rule, outcome = add_rule(conn, rule, actor=viewer.user.email)
        verb = "Unchanged" if outcome == "unchanged" else "Added"
        return f"{verb}: rule {rule.name!r}, {rule.what} split by {rule.by}, {rule.split}."

    return _change(page, viewer, change, rule_form=form.model_dump(exclude={"csrf_token"}))


@router.post("/allocation/rules/remove", response_class=HTMLResponse)
def rule_remove(page: PageDep, viewer: AdminViewer, name: Text = "", csrf_token: Csrf = None) -> HTMLResponse:
    """Remove an allocation rule."""
    check_csrf(viewer, csrf_token)

    def change(conn: Connection) -> str:
        return f"Removed rule {remove_rule(conn, name=name, actor=viewer.user.email).name!r}."

    return _change(page, viewer, change)


def _change(
    page: Page, viewer: Viewer, change: Callable[[Connection], str], **forms: dict[str, str]
) -> HTMLResponse:
    """Run one change in its transaction (forms.submit); the page again, with what happened
    or why not."""
    return submit(
        page.engine,
        change,
        done=lambda notice: _render(page, viewer, notice=notice),
        refused=lambda error, _field: _render(page, viewer, error=error, status_code=400, **forms),
    )


def _render(
    page: Page,
    viewer: Viewer,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    with page.engine.connect() as conn:
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
    return page.templates.TemplateResponse(
        page.request,
        "allocation.html",
        {**defaults, **context, **found, **choices, "viewer": viewer},
        status_code=status_code,
    )
