"""The console's pages: login, overview (KPIs), decisions, reps, test a lead, alerts.

Server-rendered HTML with no script: forms post back and redirect. Reads reuse the API's
functions (``kpi_report``, ``rep_public``'s load, ``preview_decision``) so a page never shows
a number the API would not give.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from pydantic import ValidationError

from leadpilot.errors import DataValidationError, LeadpilotError
from leadpilot.lifecycle.listing import registry_listing
from leadpilot.policy.availability import is_working
from leadpilot.policy.explain import exclusion_codes, explain, reason_text
from leadpilot.policy.policy_diff import policy_text_diff
from leadpilot.policy.redaction import redact_policy_text
from leadpilot.schema import Rep
from leadpilot.service.alerting.drift import feature_drift
from leadpilot.service.console.auth import PageUser, User, current_user, new_login_nonce, signer_of
from leadpilot.service.console.charts import (
    fairness_svg,
    interval_svg,
    share_bars_svg,
    wilson_interval,
)
from leadpilot.service.console.policy_words import policy_words
from leadpilot.service.console.registry_rows import registry_rows
from leadpilot.service.console.session import COOKIE, LOGIN_COOKIE
from leadpilot.service.console.status import fairness_status, kpi_rows
from leadpilot.service.context import ServiceContext
from leadpilot.service.deps import Conn, Ctx
from leadpilot.service.preview import candidate_rows, preview_decision, preview_public
from leadpilot.service.routes.kpis import kpi_fairness, kpi_report
from leadpilot.service.routes.reps import update_rep
from leadpilot.service.schemas import LeadCreate, RepUpdate, lead_from_create
from leadpilot.store import policies as policy_store
from leadpilot.store import reps as rep_store
from leadpilot.store.alerts import acknowledge_alert, list_alerts
from leadpilot.store.console_reads import (
    alerts_in_window,
    decision_by_id,
    lead_events,
    model_decisions,
    search_decisions,
)
from leadpilot.store.counters import rep_load
from leadpilot.store.decisions import list_decisions
from leadpilot.store.engine import write_transaction
from leadpilot.store.feedback import feedback_rows
from leadpilot.store.models import active_model_row

__all__ = ["admin_form", "checked_form", "error_page", "render", "router", "templates"]

router = APIRouter(include_in_schema=False)
templates = Environment(
    loader=PackageLoader("leadpilot.service.console", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
NAV = (
    ("/", "Overview"),
    ("/decisions", "Decisions"),
    ("/reps", "Reps"),
    ("/test-lead", "Test a lead"),
    ("/model", "Model"),
    ("/policy", "Policy"),
    ("/alerts", "Alerts"),
)
_SECURITY_HEADERS = {
    # Everything comes from this origin and no page runs a script.
    "Content-Security-Policy": "default-src 'self'; script-src 'none'; img-src 'self' data:; "
    "style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
Days = Annotated[int, Query(ge=1, le=3650)]
Text = Annotated[str, Query(max_length=256)]


@dataclass
class Filters:
    """The date-range and pool filters every page carries."""

    days: int
    until: date | None
    pool: str | None
    pools: list[str]
    end: datetime
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def since(self) -> datetime:
        """The window's start."""
        return self.end - timedelta(days=self.days)

    @property
    def until_text(self) -> str:
        """The ``until`` field's value."""
        return self.until.isoformat() if self.until else ""

    @property
    def window_text(self) -> str:
        """The window in words."""
        fmt = "%Y-%m-%d %H:%M"
        return f"{self.since.strftime(fmt)} to {self.end.strftime(fmt)} UTC"

    @property
    def keep(self) -> str:
        """The query string that keeps these filters on the next page."""
        params = {"days": str(self.days)}
        if self.until:
            params["until"] = self.until.isoformat()
        if self.pool:
            params["pool"] = self.pool
        return "?" + urlencode(params)


def _filters(ctx: ServiceContext, conn: Conn, days: int, until: str, pool: str) -> Filters:
    parsed: date | None = None
    if until:
        try:
            parsed = date.fromisoformat(until)
        except ValueError:
            raise DataValidationError(
                f"until={until!r} is not a date", hint="use YYYY-MM-DD"
            ) from None
    end = datetime.combine(parsed + timedelta(days=1), time(), UTC) if parsed else ctx.clock()
    snapshot = ctx.service.inputs.load(conn, ctx.clock())
    pools = [p.name for p in snapshot.policy.pools]
    return Filters(days=days, until=parsed, pool=pool or None, pools=pools, end=end)


def render(
    name: str, *, user: PageUser | None, active: str, status: int = 200, **context: Any
) -> HTMLResponse:
    """A page of the console with its security headers."""
    filters = context.get("filters")
    html = templates.get_template(name).render(
        user=user,
        nav=NAV,
        active=active,
        keep=filters.keep if isinstance(filters, Filters) else "",
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=_SECURITY_HEADERS)


def error_page(
    user: PageUser | None, status: int, title: str, detail: str, hint: str | None = None
) -> HTMLResponse:
    """An error as a page (the API's JSON errors are for programs)."""
    return render(
        "error.html", user=user, active="", status=status, title=title, detail=detail, hint=hint
    )


async def checked_form(request: Request, user: PageUser) -> dict[str, str] | HTMLResponse:
    """The posted form if its CSRF token belongs to the caller's session (a Bearer caller
    has no cookie a forged form could ride on), else a 403 page."""
    form = await request.form()
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    if user.session is not None and not signer_of(request).check_csrf(
        user.session, values.get("csrf")
    ):
        return error_page(
            user, 403, "Form expired", "The form's CSRF token is missing or not this session's.",
            "reload the page and submit again",
        )  # fmt: skip
    return values


async def admin_form(
    request: Request, action: str
) -> tuple[PageUser, dict[str, str]] | HTMLResponse:
    """The signed-in admin and the form they posted (CSRF-checked, as :func:`checked_form`),
    else the 403 page saying which role cannot ``action``."""
    user = current_user(request)
    if not user.is_admin:
        return error_page(
            user, 403, "Admin only", f"A {user.token.role} token cannot {action}.",
            "sign in with an admin token",
        )  # fmt: skip
    form = await checked_form(request, user)
    if isinstance(form, HTMLResponse):
        return form
    return user, form


# ----------------------------------------------------------------------------- login
def _safe_next(target: str | None) -> str:
    # Only a path of this site: never an absolute or scheme-relative URL (open redirect).
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _login_page(request: Request, next_path: str, status: int = 200, message: str = "") -> Response:
    nonce = new_login_nonce()
    response = render(
        "login.html",
        user=None,
        active="/login",
        status=status,
        title="Sign in",
        login_csrf=nonce,
        next=_safe_next(next_path),
        message=message,
        message_kind="error",
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=900,
        path="/login",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
def login_form(request: Request, next: Text = "/") -> Response:
    """The sign-in form (a token in a password field)."""
    return _login_page(request, next)


@router.post("/login")
async def login(request: Request, ctx: Ctx) -> Response:
    """Check the token; open a signed, expiring, HttpOnly session cookie."""
    form = await request.form()
    sent, token = str(form.get("csrf", "")), str(form.get("token", "")).strip()
    next_path = _safe_next(str(form.get("next", "/")))
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        return _login_page(request, next_path, 403, "The sign-in form expired; try again.")
    from leadpilot.store.tokens import lookup_token

    with ctx.engine.connect() as conn:
        info = lookup_token(conn, token) if token else None
    if info is None:
        return _login_page(request, next_path, 401, "Unknown or revoked token.")
    signer = signer_of(request)
    _session, value = signer.open(info.id)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        value,
        max_age=signer.max_age_seconds,
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Close the session (the cookie is cleared)."""
    user = current_user(request)
    form = await checked_form(request, user)
    if isinstance(form, HTMLResponse):
        return form
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax")
    return response


# -------------------------------------------------------------------------- overview
@router.get("/")
def overview(
    user: User, ctx: Ctx, conn: Conn, days: Days = 7, until: Text = "", pool: Text = ""
) -> Response:
    """The KPI table with targets and status, and the fairness and method charts."""
    filters = _filters(ctx, conn, days, until, pool)
    report = kpi_report(
        ctx, conn, days=days, until=filters.end if until else None, pool=filters.pool
    )
    fairness = [
        (f"{r.rep_id}" + (f" ({r.pool})" if r.pool and not filters.pool else ""), r.fairness_index)
        for r in report.fairness
        if not r.new_rep  # new reps' volume is set by their ramp: shown on the reps page
    ]
    methods = [
        (m.method, m.meeting_rate.rate, m.meeting_rate.low, m.meeting_rate.high,
         m.meeting_rate.denominator)
        for m in report.conversion_by_method
    ]  # fmt: skip
    api = {"days": days, **({"until": filters.end.isoformat()} if until else {})}
    if filters.pool:
        api["pool"] = filters.pool
    policy = ctx.service.inputs.load(conn, ctx.clock()).policy
    return render(
        "overview.html",
        user=user,
        active="/",
        title="Overview",
        filters=filters,
        rows=kpi_rows(report, policy),
        fairness_chart=(
            fairness_svg(fairness, band=policy.fairness.band)
            if fairness
            else "<p>No rep in the window.</p>"
        ),
        method_chart=interval_svg(methods) if methods else "<p>No routed lead.</p>",
        api_url="/v1/kpis?" + urlencode(api),
    )


# ------------------------------------------------------------------------- decisions
@router.get("/decisions")
def decisions_page(
    user: User,
    ctx: Ctx,
    conn: Conn,
    days: Days = 7,
    until: Text = "",
    pool: Text = "",
    q: Text = "",
    rep: Text = "",
    reason: Text = "",
    before: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """The audit log, newest first, searchable by lead, email, company, rep and reason."""
    filters = _filters(ctx, conn, days, until, pool)
    limit = 100
    found = search_decisions(
        conn,
        text=q.strip() or None,
        rep_id=rep.strip() or None,
        reason=reason.strip() or None,
        pool=filters.pool,
        since=filters.since,
        until=filters.end,
        before_id=before,
        limit=limit,
    )
    more = None
    if len(found) == limit:
        params = {"days": days, "until": until, "pool": pool, "q": q, "rep": rep, "reason": reason}
        more = "/decisions?" + urlencode({**params, "before": found[-1][0].id})
    codes = sorted({*reason_text(), *exclusion_codes()})
    return render(
        "decisions.html",
        user=user,
        active="/decisions",
        title="Decisions",
        filters=filters,
        found=found,
        q=q,
        rep=rep,
        reason=reason,
        more=more,
        reason_codes=codes,
    )


@router.get("/decisions/{decision_id}")
def decision_page(
    decision_id: int, user: User, ctx: Ctx, conn: Conn, days: Days = 7, until: Text = "",
    pool: Text = "", rated: Text = "",
) -> Response:  # fmt: skip
    """One decision: the explanation in words, every rep considered, the lead's history,
    and (admins) the form rating the lead's fit for the rep it went to."""
    filters = _filters(ctx, conn, days, until, pool)
    found = decision_by_id(conn, decision_id)
    if found is None:
        return error_page(user, 404, "No such decision", f"There is no decision {decision_id}.")
    stored, lead = found
    return render(
        "decision.html",
        user=user,
        active="/decisions",
        title=f"Decision {decision_id}",
        filters=filters,
        stored=stored,
        d=stored.decision,
        lead=lead,
        explanation=explain(stored.decision),
        candidates=candidate_rows(stored.decision),
        history=list_decisions(conn, lead_id=stored.decision.lead_id, limit=1000),
        events=lead_events(conn, stored.decision.lead_id),
        message=f"Recorded: a {rated} fit." if rated in ("good", "poor") else "",
        message_kind="ok",
    )


# ------------------------------------------------------------------------------ reps
@dataclass(frozen=True, slots=True)
class RepRow:
    """A rep on the reps page."""

    rep: Rep
    today: int
    open: int
    fairness: float | None
    fair_status: str
    states: list[str]
    away: bool


def _rep_rows(ctx: ServiceContext, conn: Conn, filters: Filters) -> list[RepRow]:
    now = ctx.clock()
    found = kpi_fairness(
        ctx, conn, days=filters.days, until=filters.end if filters.until else None,
        pool=filters.pool,
    )  # fmt: skip
    fairness = {r.rep_id: r.fairness_index for r in found}
    ramping = {r.rep_id: r for r in found if r.new_rep}
    band = ctx.service.inputs.load(conn, now).policy.fairness.band
    rated: dict[str, list[int]] = {}  # rep -> [poor, rated] fit ratings in the window
    for fb in feedback_rows(conn, since=filters.since, until=filters.end):
        counts = rated.setdefault(fb["rep_id"], [0, 0])
        counts[0] += fb["fit"] == "poor"
        counts[1] += 1
    rows = []
    for rep in rep_store.list_reps(conn):
        if filters.pool and rep.pool != filters.pool and rep.rep_id not in fairness:
            continue
        states: list[str] = [] if rep.active else ["inactive"]
        if rep.rep_id in rated:  # reps' own feedback on the fit of their leads
            poor, n = rated[rep.rep_id]
            states.append(f"rated {poor} of {n} leads a poor fit")
        new = ramping.get(rep.rep_id)
        if new is not None:  # the fairness view shows new reps separately
            got = f"{new.share:.0%}" if new.share is not None else "no leads yet"
            states.append(f"new rep: {got} of pool leads (min {new.min_share:.0%})")
        away = any(start <= now < end for start, end in rep.out_of_office)
        if away:
            states.append("out of office")
        try:
            states.append("on shift" if is_working(rep, now) else "off shift")
            counted = rep
        except (DataValidationError, ValueError):
            states.append("bad calendar")
            counted = Rep(rep_id=rep.rep_id, timezone="UTC")
        open_leads, today = rep_load(conn, counted, now)
        index = fairness.get(rep.rep_id)
        rows.append(
            RepRow(rep, today, open_leads, index, fairness_status(index, band), states, away)
        )
    return rows


@router.get("/reps")
def reps_page(
    user: User, ctx: Ctx, conn: Conn, days: Days = 7, until: Text = "", pool: Text = "",
    saved: Text = "",
) -> Response:  # fmt: skip
    """Load against capacity, open leads, fairness, out-of-office and shift per rep."""
    filters = _filters(ctx, conn, days, until, pool)
    return render(
        "reps.html",
        user=user,
        active="/reps",
        title="Reps",
        filters=filters,
        reps=_rep_rows(ctx, conn, filters),
        message=f"Saved {saved}." if saved else "",
        message_kind="ok",
    )


def _optional_int(values: dict[str, str], name: str) -> int | str | None:
    raw = values.get(name, "").strip()
    return None if raw == "" else raw  # pydantic parses and range-checks the text


@router.post("/reps/{rep_id}")
async def change_rep(rep_id: str, request: Request, ctx: Ctx) -> Response:
    """Admin: change a rep's capacity, mark it out of office for some hours, or end its
    absence; validated by the API's ``RepUpdate`` and ``update_rep``."""
    admin = await admin_form(request, "change reps")
    if isinstance(admin, HTMLResponse):
        return admin
    user, form = admin
    with ctx.engine.connect() as conn:
        rep = rep_store.get_rep(conn, rep_id)
    if rep is None:
        return error_page(user, 404, "No such rep", f"There is no rep {rep_id!r}.")
    now = ctx.clock()
    changes: dict[str, Any] = {}
    for name in ("max_leads_per_day", "max_open_leads"):
        if name in form:
            changes[name] = _optional_int(form, name)
    ooo = [(s, e) for s, e in rep.out_of_office if e > now]
    if form.get("action") == "back":
        ooo = [(s, e) for s, e in ooo if s > now]
    hours = form.get("ooo_hours", "").strip()
    if hours:
        try:
            length = float(hours)
        except ValueError:
            length = -1.0
        if not 0 < length <= 24 * 366:
            return error_page(
                user, 422, "Not saved", f"out of office for {hours!r} hours: give 0.5 to 8784",
            )  # fmt: skip
        ooo.append((now, now + timedelta(hours=length)))
    if form.get("action") == "back" or hours:
        changes["out_of_office"] = [{"starts_at": s, "ends_at": e} for s, e in ooo]
    try:
        update_rep(ctx, rep_id, RepUpdate.model_validate(changes))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        return error_page(user, 422, "Not saved", problems)
    except LeadpilotError as exc:
        return error_page(user, 422, "Not saved", exc.message, exc.hint)
    return RedirectResponse("/reps?" + urlencode({"saved": rep_id}), status_code=303)


# ------------------------------------------------------------------------- test a lead
_EXAMPLE = {
    "email": "ana@example.com",
    "company": "Example GmbH",
    "region": "EMEA",
    "industry": "software",
    "company_size": 120,
    "source": "demo_request",
    "demo_request": True,
}


@router.get("/test-lead")
def test_lead_form(user: User, ctx: Ctx, conn: Conn) -> Response:
    """The preview form, with an example lead."""
    return render(
        "test_lead.html",
        user=user,
        active="/test-lead",
        title="Test a lead",
        lead_text=json.dumps(_EXAMPLE, indent=2),
    )


@router.post("/test-lead")
async def test_lead(request: Request, ctx: Ctx) -> Response:
    """Run the active policy on the posted lead without assigning it."""
    user = current_user(request)
    form = await checked_form(request, user)
    if isinstance(form, HTMLResponse):
        return form
    text = form.get("lead", "")
    context: dict[str, Any] = {"lead_text": text}
    status = 200
    try:
        body = LeadCreate.model_validate(json.loads(text))
        now = ctx.clock()
        with ctx.engine.connect() as conn:
            context["preview"] = preview_public(
                preview_decision(ctx, conn, lead_from_create(body, now), now)
            )
    except json.JSONDecodeError as exc:
        context["error"], status = f"not JSON: {exc}", 422
    except ValidationError as exc:
        context["error"] = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'lead'}: {e['msg']}" for e in exc.errors()
        )
        status = 422
    except LeadpilotError as exc:
        context["error"], status = exc.message, 422
    return render(
        "test_lead.html", user=user, active="/test-lead", title="Test a lead", status=status,
        **context,
    )  # fmt: skip


# ---------------------------------------------------------------------------- policy
def _diff_lines(text: str) -> list[tuple[str, str]]:
    kinds = {"+": "add", "-": "del", "@": "hunk"}
    return [(kinds.get(line[:1], "same"), line) for line in text.splitlines()]


def _policy_text(user: PageUser, text: str) -> str:
    """Webhook URLs carry secrets: only admins see them."""
    return text if user.is_admin else redact_policy_text(text)


@router.get("/policy")
def policy_page(
    user: User,
    ctx: Ctx,
    conn: Conn,
    from_version: Annotated[str, Query(alias="from", max_length=128)] = "",
    to_version: Annotated[str, Query(alias="to", max_length=128)] = "",
) -> Response:
    """The active policy in words and as a file, its version history and a diff."""
    snapshot = ctx.service.inputs.load(conn, ctx.clock())
    versions, log = policy_store.policy_history(conn)
    by_version = {v.version: v for v in versions}
    active = next((v for v in versions if v.active), None)
    diff_lines = None
    if from_version or to_version:
        old, new = by_version.get(from_version), by_version.get(to_version)
        if old is None or new is None:
            missing = from_version if old is None else to_version
            return error_page(user, 404, "No such version", f"There is no version {missing!r}.")
        diff = policy_text_diff(
            _policy_text(user, old.text), _policy_text(user, new.text), from_version, to_version
        )
        diff_lines = _diff_lines(diff)
    elif len(versions) > 1:
        from_version, to_version = versions[-2].version, versions[-1].version
    return render(
        "policy.html",
        user=user,
        active="/policy",
        title="Policy",
        active_version=active.version if active is not None else None,
        words=policy_words(snapshot.policy),
        versions=list(reversed(versions)),
        activations=list(reversed(log)),
        diff_from=from_version,
        diff_to=to_version,
        diff_lines=diff_lines,
        text=_policy_text(user, active.text) if active is not None else "",
    )


# ----------------------------------------------------------------------------- model
MetricRows = list[tuple[str, dict[str, str]]]


def _model_metrics(
    path: Path,
) -> tuple[dict[str, Any], list[tuple[str, dict[str, str]]], list[str]]:
    """(training window, per-scorer metric rows, metric names) from ``metrics.json``."""
    try:
        doc = json.loads((path / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}, [], []
    rows: MetricRows = []
    keys: list[str] = []
    for name, values in (doc.get("metrics") or {}).items():
        if not isinstance(values, dict):
            continue
        shown = {k: f"{v:.3f}" for k, v in values.items() if isinstance(v, int | float)}
        keys += [k for k in shown if k not in keys]
        rows.append((name, shown))
    return doc.get("training_window") or {}, rows, keys


@router.get("/model")
def model_page(
    user: User, ctx: Ctx, conn: Conn, days: Days = 7, until: Text = "", pool: Text = ""
) -> Response:
    """The active model, its training window and metrics, and how its recent decisions
    went (confidence distribution, share falling back, drift of scores and features)."""
    filters = _filters(ctx, conn, days, until, pool)
    row = active_model_row(conn)
    window: dict[str, Any] = {}
    metric_rows: list[tuple[str, dict[str, str]]] = []
    metric_keys: list[str] = []
    has_reliability = False
    if row is not None:
        folder = Path(row.path)
        window, metric_rows, metric_keys = _model_metrics(folder)
        has_reliability = (folder / "reliability.svg").is_file()
    found = model_decisions(conn, since=filters.since, until=filters.end, pool=filters.pool)
    total = sum(n for _, _, n in found)
    fell = sum(n for _, f, n in found if f)
    if total:
        low, high = wilson_interval(fell, total)
        fallback_text = (
            f"{fell} of {total} decisions fell back to the pool's rules "
            f"({fell / total:.1%}, 95% interval {low:.1%} to {high:.1%})."
        )
    else:
        fallback_text = "No decision by a predictive pool in the window."
    bands = [0] * 10
    for band, _, n in found:
        if band is not None:
            bands[band] += n
    rated = sum(bands)
    chart = ""
    if rated:
        chart = share_bars_svg(
            [(f"{i / 10:.1f}-{(i + 1) / 10:.1f}", n / rated) for i, n in enumerate(bands)]
        )
    snapshot = ctx.service.inputs.load(conn, ctx.clock())
    drift_settings = snapshot.policy.alert_settings.model_drift
    drift_features = list(dict.fromkeys(["p_convert", "confidence", *drift_settings.features]))
    drift = feature_drift(conn, drift_settings, recent_since=filters.since,
                          recent_until=filters.end, features=drift_features,
                          pool=filters.pool)  # fmt: skip
    drift_alerts = [a for a in list_alerts(conn, 200, status="open") if a.kind == "model_drift"]
    return render(
        "model.html",
        registry=registry_rows(registry_listing(conn)),
        user=user,
        active="/model",
        title="Model",
        filters=filters,
        row=row,
        window=window,
        metric_rows=metric_rows,
        metric_keys=metric_keys,
        has_reliability=has_reliability,
        fallback_text=fallback_text,
        confidence_chart=chart,
        drift=drift,
        drift_settings=drift_settings,
        drift_alerts=drift_alerts,
    )


@router.get("/model/reliability.svg")
def model_reliability(user: User, conn: Conn) -> Response:
    """The active model's reliability plot (written by ``leadpilot train``)."""
    row = active_model_row(conn)
    path = Path(row.path) / "reliability.svg" if row is not None else None
    if path is None or not path.is_file():
        return error_page(user, 404, "No reliability plot", "The active model has none.")
    return Response(path.read_bytes(), media_type="image/svg+xml", headers=_SECURITY_HEADERS)


# ---------------------------------------------------------------------------- alerts
@router.get("/alerts")
def alerts_page(
    user: User, ctx: Ctx, conn: Conn, days: Days = 7, until: Text = "", pool: Text = ""
) -> Response:
    """Operator alerts open at some time in the window, newest first (an alert still open is
    in every window since it was raised); with a pool, that pool's alerts and those about no
    one pool. Admins acknowledge them."""
    filters = _filters(ctx, conn, days, until, pool)
    found = alerts_in_window(
        conn,
        since=filters.since,
        until=filters.end if filters.until else None,
        pool=filters.pool,
    )
    return render(
        "alerts.html", user=user, active="/alerts", title="Alerts", filters=filters, alerts=found
    )


@router.post("/alerts/{alert_id}/acknowledge")
async def acknowledge_alert_form(alert_id: int, request: Request, ctx: Ctx) -> Response:
    """Admin: acknowledge an alert (as ``POST /v1/alerts/{id}/acknowledge``)."""
    admin = await admin_form(request, "acknowledge alerts")
    if isinstance(admin, HTMLResponse):
        return admin
    user, form = admin
    with write_transaction(ctx.engine) as conn:
        row = acknowledge_alert(conn, alert_id, by=user.token.name, now=ctx.clock())
    if row is None:
        return error_page(user, 404, "No such alert", f"There is no alert #{alert_id}.")
    back = form.get("back", "")
    return RedirectResponse(back if back.startswith("/alerts?") else "/alerts", status_code=303)
