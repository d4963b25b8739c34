"""A status page as one HTML document: readable without JavaScript, on a phone, in a text
browser, behind a strict Content-Security-Policy (inline CSS only, no scripts, no images).

Every string that reaches the document is escaped here: component names and page text come
from config authors, notice text from responders, and either may hold markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from markupsafe import Markup

from oncall.core.status import ComponentStatus, DayBar
from oncall.statuspages.view import ComponentView, MaintenanceView, NoticeView, PageView

CONTENT_SECURITY_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
                           "form-action 'self'; frame-ancestors 'none'")
"""What the page needs and nothing more: it runs no script and loads nothing; its one form
(subscribing) posts to this origin only."""

_CSS = """
*{box-sizing:border-box}
body{margin:0;font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:#1f2933;background:#f7f8fa}
main{max-width:860px;margin:0 auto;padding:16px}
h1{font-size:1.6rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .6rem}
h3{font-size:1rem;margin:0 0 .3rem}
p{margin:.3rem 0}.muted{color:#616e7c;font-size:.875rem}
.banner{padding:14px 16px;border-radius:6px;color:#fff;font-weight:600;font-size:1.1rem}
.i-none{background:#2f9e44}.i-minor{background:#c99a06}.i-major{background:#e8590c}
.i-critical{background:#c92a2a}.i-maintenance{background:#1971c2}
.card{background:#fff;border:1px solid #e4e7eb;border-radius:6px;padding:12px 14px;
margin:.6rem 0}
ul.components{list-style:none;margin:0;padding:0}
.component{background:#fff;border:1px solid #e4e7eb;border-top:0;padding:12px 14px}
.component:first-child{border-top:1px solid #e4e7eb;border-radius:6px 6px 0 0}
.component:last-child{border-radius:0 0 6px 6px}
.row{display:flex;justify-content:space-between;gap:8px;flex-wrap:wrap}
.name{font-weight:600;overflow-wrap:anywhere}
.t-operational{color:#2f9e44}.t-under_maintenance{color:#1971c2}
.t-degraded_performance{color:#c99a06}.t-partial_outage{color:#e8590c}
.t-major_outage{color:#c92a2a}
.bars{display:flex;gap:1px;height:28px;margin:8px 0 4px}
.bars span{flex:1 1 0;min-width:1px;border-radius:1px}
.b-operational{background:#40c057}.b-under_maintenance{background:#4dabf7}
.b-degraded_performance{background:#fcc419}.b-partial_outage{background:#fd7e14}
.b-major_outage{background:#e03131}
.legend{display:flex;justify-content:space-between;gap:8px;color:#616e7c;font-size:.75rem}
.update{border-left:3px solid #e4e7eb;padding-left:10px;margin:.5rem 0}
.update p{white-space:pre-line;overflow-wrap:anywhere}
footer{margin:2rem 0 1rem;color:#616e7c;font-size:.875rem}
form.subscribe input[type=email]{font-size:1rem;padding:.45rem;width:100%;max-width:22rem}
form.subscribe button{font-size:1rem;padding:.45rem 1rem;margin-top:.4rem}
form.subscribe fieldset{border:0;padding:0;margin:.5rem 0}
a{color:#1864ab}
"""

_NOTICE_STATUS = {"investigating": "Investigating", "identified": "Identified",
                  "monitoring": "Monitoring", "resolved": "Resolved"}
_STAGE = {"scheduled": "Scheduled", "in_progress": "In progress", "completed": "Completed"}


def _when(value: datetime) -> Markup:
    at = value.astimezone(UTC)
    return Markup('<time datetime="{}">{}</time>').format(
        at.isoformat(timespec="seconds"), at.strftime("%d %b %Y, %H:%M UTC"))


def _join(parts: Iterable[Markup]) -> Markup:
    return Markup("").join(parts)


def _bar(day: DayBar) -> Markup:
    tip = f"{day.day.isoformat()}: {100 * day.uptime:.2f}% uptime"
    if day.worst is not ComponentStatus.OPERATIONAL:
        tip += f", {day.worst.text.lower()}"
    return Markup('<span class="b-{}" title="{}"></span>').format(day.worst.value, tip)


def _component(c: ComponentView) -> Markup:
    days = len(c.bars)
    description = (Markup('<p class="muted">{}</p>').format(c.description) if c.description
                   else Markup(""))
    return Markup(
        '<li class="component"><div class="row"><span class="name">{name}</span>'
        '<span class="t-{status}">{text}</span></div>{description}'
        '<div class="bars" role="img" aria-label="{label}">{bars}</div>'
        '<div class="legend"><span>{days} days ago</span><span>{uptime} uptime</span>'
        "<span>Today</span></div></li>"
    ).format(name=c.name, status=c.status.value, text=c.status.text, description=description,
             label=f"{c.name}: {c.uptime:.2f}% uptime over {days} days",
             bars=_join(_bar(d) for d in c.bars), days=days, uptime=f"{c.uptime:.2f}%")


def _notice(n: NoticeView) -> Markup:
    updates = _join(
        Markup('<div class="update"><p><strong>{}</strong> - {}</p>'
               '<p class="muted">{}</p></div>').format(
            _NOTICE_STATUS.get(u.status, u.status), u.body, _when(u.created_at))
        for u in n.updates)
    affected = (Markup('<p class="muted">Affects {}</p>').format(", ".join(n.components))
                if n.components else Markup(""))
    return Markup('<article class="card" id="incident-{id}"><h3 class="impact-{impact}">{title}'
                  "</h3>{affected}{updates}</article>").format(
        id=n.id, impact=n.impact, title=n.title, affected=affected, updates=updates)


def _maintenance(m: MaintenanceView, anchor: str) -> Markup:
    w = m.maintenance
    description = (Markup('<p>{}</p>').format(w.description) if w.description
                   else Markup(""))
    affected = (Markup('<p class="muted">Affects {}</p>').format(", ".join(m.components))
                if m.components else Markup(""))
    return Markup(
        '<article class="card" id="maintenance-{anchor}"><h3>{name}</h3>'
        "<p><strong>{stage}</strong>: {start} to {end}</p>{description}{affected}</article>"
    ).format(anchor=anchor, name=w.name, stage=_STAGE.get(m.stage, m.stage),
             start=_when(w.starts_at), end=_when(w.ends_at), description=description,
             affected=affected)


def _section(title: str, items: list[Markup]) -> Markup:
    if not items:
        return Markup("")
    return Markup("<section><h2>{}</h2>{}</section>").format(title, _join(items))


def _subscribe(view: PageView, base: str) -> Markup:
    """A plain form (no script): an address and, optionally, the components to follow."""
    boxes = _join(
        Markup('<label><input type="checkbox" name="component" value="{name}"> {name}</label> ')
        .format(name=c.name) for c in view.components)
    return Markup(
        '<section><h2>Get updates</h2><form class="subscribe card" method="post" '
        'action="{base}/subscribe"><label for="subscribe-email">Email address</label><br>'
        '<input id="subscribe-email" name="email" type="email" autocomplete="email" required '
        'maxlength="320"><fieldset><legend class="muted">Only these components (none: the '
        'whole page)</legend>{boxes}</fieldset><button type="submit">Subscribe</button>'
        '<p class="muted">We mail you a link to confirm; every mail has a link to '
        "unsubscribe.</p></form></section>").format(base=base, boxes=boxes)


def render(view: PageView, maintenance_ids: dict[str, str] | None = None, *,
           subscribe: bool = False) -> str:
    """The page. `maintenance_ids` names each window's anchor (the JSON's ids, so a
    `shortlink` lands on its card); by default the window's name. `subscribe`: the page takes
    email subscribers, so it shows the form."""
    ids = maintenance_ids or {}
    base = f"/status/{quote(view.name, safe='')}"

    def windows(items: Iterable[MaintenanceView]) -> list[Markup]:
        return [_maintenance(m, ids.get(m.maintenance.name, m.maintenance.name)) for m in items]

    description = (Markup('<p class="muted">{}</p>').format(view.description)
                   if view.description else Markup(""))
    past = _section("Past notices", [_notice(n) for n in view.past_notices])
    if not view.past_notices:
        past = Markup('<section><h2>Past notices</h2><p class="muted">No notices in the last '
                      "15 days.</p></section>")
    body = Markup(
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>{title}</title>"
        '<link rel="alternate" type="application/atom+xml" title="{title}" href="{base}/feed.atom">'
        "<style>{css}</style></head><body><main>"
        "<header><h1>{title}</h1>{description}</header>"
        '<section class="banner i-{indicator}" role="status">{status}</section>'
        "{active}{current}"
        '<section><h2>Components</h2><ul class="components">{components}</ul></section>'
        "{upcoming}{past}{subscribe}"
        '<footer><p>Updated {updated}. <a href="{base}/feed.atom">Atom feed</a> · '
        '<a href="{base}/api/v2/summary.json">JSON</a></p></footer>'
        "</main></body></html>\n"
    ).format(
        title=view.title, description=description, base=base, css=Markup(_CSS),
        indicator=view.indicator.value, status=view.status_description,
        active=_section("Maintenance in progress", windows(view.active)),
        current=_section("Current notices", [_notice(n) for n in view.open_notices]),
        components=_join(_component(c) for c in view.components),
        upcoming=_section("Scheduled maintenance", windows(view.upcoming)),
        past=past, updated=_when(view.updated_at),
        subscribe=_subscribe(view, base) if subscribe else Markup(""),
    )
    return str(body)
