"""Every route of the moderation, lists, appeals and supervision work refuses the roles that may not use it.

One small world (a confirmed counterfeit with its pending black-list entry and a
pending appeal, plus an open report on another seller's listing), then each route
is tried by every role: those not allowed are refused (HTML: login or 403/404;
API: 401/403/404), the allowed ones are not. The table must name every route of
these blueprints, so a new route cannot be added without saying who may use it.
"""

from __future__ import annotations

import pytest

ANON, RESIDENT, INSPECTOR, MODERATOR, DECIDER, SUPERVISOR, PENALISED = (
    "anonymous",
    "resident",
    "inspector",
    "moderator",
    "decider",
    "supervisor",
    "penalised",
)
ROLES = (ANON, RESIDENT, INSPECTOR, MODERATOR, DECIDER, SUPERVISOR, PENALISED)
EVERYONE = set(ROLES)
MODERATORS = {MODERATOR, DECIDER}

# (method, url template, allowed roles, form or JSON body). {report} is an open report on another listing,
# {decision} the confirmed counterfeit, {appeal} its pending appeal, {entry} its pending black-list entry.
HTML = {
    "moderation.queue": ("GET", "/moderation/reports", MODERATORS, None),
    "moderation.review": ("GET", "/moderation/reports/{report}", MODERATORS, None),
    "moderation.decide": ("POST", "/moderation/reports/{report}/decide", MODERATORS, {"outcome": "dismissed"}),
    "moderation.flagged": ("GET", "/moderation/flagged", MODERATORS, None),
    "moderation.decision": ("GET", "/decisions/{decision}", MODERATORS | {SUPERVISOR, PENALISED}, None),
    "moderation.appeal": ("GET", "/decisions/{other_decision}/appeal", {PENALISED}, None),
    "moderation.appeals": ("GET", "/moderation/appeals", MODERATORS | {SUPERVISOR}, None),
    "moderation.appeal_detail": ("GET", "/appeals/{appeal}", MODERATORS | {SUPERVISOR, PENALISED}, None),
    "moderation.decide_appeal": (
        "POST",
        "/appeals/{appeal}/decide",
        {MODERATOR, SUPERVISOR},
        {"outcome": "upheld", "note": "维持原决定，理由充分。"},
    ),
    "trust.red": ("GET", "/red", EVERYONE, None),
    "trust.black": ("GET", "/black", EVERYONE, None),
    "trust.compute_red": ("GET", "/trust/red/compute", {SUPERVISOR}, None),
    "trust.confirm": ("GET", "/trust/black/{entry}/confirm", {SUPERVISOR}, None),
    "trust.reject": ("GET", "/trust/black/{entry}/reject", {SUPERVISOR}, None),
    "supervision.dashboard": ("GET", "/supervision", {SUPERVISOR}, None),
    "supervision.blacklist": ("GET", "/supervision/blacklist", {SUPERVISOR}, None),
    "supervision.entry": ("GET", "/supervision/blacklist/{entry}", {SUPERVISOR}, None),
    "supervision.export": ("GET", "/supervision/export/blacklist.csv", {SUPERVISOR}, None),
    "supervision.audit": ("GET", "/supervision/audit", {SUPERVISOR}, None),
}
# Routes of those blueprints that belong to earlier work (reports, certification) and are tested there.
EARLIER = {"moderation.report_listing"}

API = {
    "api.list_reports": ("GET", "/moderation/reports", MODERATORS, None),
    "api.decide_report": (
        "POST",
        "/moderation/reports/{report}/decision",
        MODERATORS,
        {"outcome": "dismissed", "note": ""},
    ),
    "api.list_flagged": ("GET", "/moderation/flagged", MODERATORS, None),
    "api.get_decision": ("GET", "/decisions/{decision}", MODERATORS | {SUPERVISOR, PENALISED}, None),
    "api.file_appeal": (
        "POST",
        "/decisions/{other_decision}/appeal",
        {PENALISED},
        {"reason": "实物与描述一致，有购买凭证可以证明。"},
    ),
    "api.list_appeals": ("GET", "/moderation/appeals", MODERATORS | {SUPERVISOR}, None),
    "api.decide_appeal": (
        "POST",
        "/appeals/{appeal}/decision",
        {MODERATOR, SUPERVISOR},
        {"outcome": "upheld", "note": "维持原决定，理由充分。"},
    ),
    "api.get_red_list": ("GET", "/trust/red", EVERYONE, None),
    "api.list_black_list": ("GET", "/trust/black", EVERYONE, None),
    "api.confirm_blacklist_entry": ("POST", "/trust/black/{entry}/confirm", {SUPERVISOR}, {}),
    "api.reject_blacklist_entry": (
        "POST",
        "/trust/black/{entry}/reject",
        {SUPERVISOR},
        {"note": "证据不足，不予确认。"},
    ),
    "api.supervision_blacklist": ("GET", "/supervision/blacklist", {SUPERVISOR}, None),
    "api.verify_audit_chain": ("GET", "/supervision/audit/verify", {SUPERVISOR}, None),
    "api.export_blacklist_csv": ("GET", "/supervision/export/blacklist.csv", {SUPERVISOR}, None),
}


@pytest.fixture
def world(db, verified_user, make_listing, seller, reporters, moderator, moderator2, supervisor, report, decide):
    """The people by role and the ids the routes take."""
    from marketplace.moderation import appeals

    inspector = verified_user("insp1", roles=("inspector",), real_name="吴验")
    counterfeit = make_listing(title="全新 AirPods Pro（高仿）")
    earphones = make_listing(title="二手耳机")
    # A decision against the seller not yet appealed (filing an appeal is tried on it).
    other = decide(moderator, report(reporters[1], earphones, reason="exaggeration"))
    decision = decide(moderator, report(reporters[0], counterfeit, reason="counterfeit"), "confirmed", "counterfeit")
    appeal = appeals.file(seller, decision.id, "这是正品，有购买发票，可以提供给审核员核实。")
    db.session.commit()
    open_report = report(reporters[2], make_listing(user=verified_user("seller2", real_name="郑卖")))
    people = {
        ANON: None,
        RESIDENT: reporters[2],
        INSPECTOR: inspector,
        MODERATOR: moderator2,
        DECIDER: moderator,
        SUPERVISOR: supervisor,
        PENALISED: seller,
    }
    ids = {
        "report": open_report.id,
        "decision": decision.id,
        "other_decision": other.id,
        "appeal": appeal.id,
        "entry": decision.blacklist_entry.id,
    }
    return people, ids


def _refused_html(resp) -> bool:
    if resp.status_code in (302, 303):
        return "/login" in resp.headers["Location"]
    return resp.status_code in (401, 403, 404)


def _refused_api(resp) -> bool:
    return resp.status_code in (401, 403, 404)


def test_the_tables_name_every_route(app):
    blueprints = ("moderation.", "trust.", "supervision.")
    html = {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith(blueprints)} - EARLIER
    assert html == set(HTML)
    prefixes = ("/api/v1/moderation/reports", "/api/v1/moderation/flagged", "/api/v1/moderation/appeals")
    prefixes += ("/api/v1/decisions", "/api/v1/appeals", "/api/v1/trust", "/api/v1/supervision")
    api = {r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith(prefixes)}
    assert api == set(API)


def _clients(app, login, people):
    clients = {}
    for role, person in people.items():
        c = app.test_client()
        if person is not None:
            login(person, c)
        clients[role] = c
    return clients


@pytest.mark.parametrize("endpoint", sorted(HTML))
def test_html_routes_refuse_other_roles(app, login, world, endpoint):
    people, ids = world
    method, template, allowed, form = HTML[endpoint]
    url = template.format(**ids)
    clients = _clients(app, login, people)
    # Refused roles first (nothing changes), then one allowed role.
    for role in [r for r in ROLES if r not in allowed] + [sorted(allowed)[0]]:
        c = clients[role]
        resp = c.open(url, method=method, data=dict(form) if form is not None else None)
        refused = _refused_html(resp)
        assert refused == (role not in allowed), (endpoint, role, resp.status_code, resp.headers.get("Location"))


@pytest.mark.parametrize("endpoint", sorted(API))
def test_api_routes_refuse_other_roles(api, token_for, world, endpoint):
    people, ids = world
    method, template, allowed, body = API[endpoint]
    url = "/api/v1" + template.format(**ids)
    headers = {role: (token_for(person) if person is not None else {}) for role, person in people.items()}
    for role in [r for r in ROLES if r not in allowed] + [sorted(allowed)[0]]:
        resp = api.open(url, method=method, json=body, headers=headers[role])
        refused = _refused_api(resp)
        assert refused == (role not in allowed), (endpoint, role, resp.status_code, resp.get_data(as_text=True)[:300])
        if role == ANON and role not in allowed:
            assert resp.status_code == 401
        assert resp.status_code < 500
