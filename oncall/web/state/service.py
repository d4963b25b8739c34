"""One service's page: owner, policy, dependencies both ways, incidents and integrations."""

from __future__ import annotations

from oncall.web import catalog, context, format, graph, service_view
from oncall.web.state.session import SessionState
from oncall.web.state.zoned import ZonedPage


class ServiceState(ZonedPage, SessionState):
    service_name: str = ""
    found: bool = False
    info: dict[str, str] = {}  # noqa: RUF012
    upstream: list[dict[str, str]] = []  # noqa: RUF012
    downstream: list[dict[str, str]] = []  # noqa: RUF012
    open_incidents: list[dict[str, str]] = []  # noqa: RUF012
    recent_incidents: list[dict[str, str]] = []  # noqa: RUF012
    integrations: list[dict[str, str]] = []  # noqa: RUF012

    def _refresh(self) -> None:
        self.service_name = str(self.router.page.params.get("name", "") or "")[:100]
        with context.read_session() as session:
            config = context.config(session)
            service = config.services.get(self.service_name)
            cards = catalog.services(session, config) if service is not None else []
            statuses = {s.name: s.status for s in service_view.graph_services(session, config)}
            opened, resolved = (service_view.incidents_of(session, self.service_name)
                                if service is not None else ([], []))
        self.found = service is not None
        card = next((c for c in cards if c.name == self.service_name), None)
        if service is None or card is None:
            self.info, self.upstream, self.downstream = {}, [], []
            self.open_incidents, self.recent_incidents, self.integrations = [], [], []
            return
        status = statuses.get(self.service_name, graph.HEALTHY)
        self.info = {
            "description": card.description,
            "team": card.team,
            "policy": card.policy or "none",
            "urgency": card.urgency,
            "status": graph.STYLES[status].words,
            "fill": graph.STYLES[status].fill,
            "font": graph.STYLES[status].font,
        }

        def nodes(found: list[catalog.Node]) -> list[dict[str, str]]:
            return [
                {"name": n.name, "indent": f"{(n.depth - 1) * 1.25}em",
                 "href": graph.service_url(n.name) if n.known else "",
                 "status": graph.STYLES[statuses.get(n.name, graph.UNKNOWN)].words}
                for n in found
            ]

        self.upstream, self.downstream = nodes(card.upstream), nodes(card.downstream)

        def lines(found: list[service_view.IncidentLine]) -> list[dict[str, str]]:
            return [
                {"id": str(i.id), "title": i.title, "status": i.status,
                 "priority": i.priority or "-", "at": format.when(i.at, self.tz),
                 "href": f"/incidents/{i.id}", "blast": f"/services?incident={i.id}"}
                for i in found
            ]

        self.open_incidents, self.recent_incidents = lines(opened), lines(resolved)
        self.integrations = [
            {"name": i.name, "type": str(i.type), "description": i.description or ""}
            for i in sorted(config.integrations.values(), key=lambda i: i.name)
            if i.service == self.service_name
        ]
