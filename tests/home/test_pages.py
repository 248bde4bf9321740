"""The home page and the shared layout: navigation by role, search box, categories, stylesheet."""

from __future__ import annotations

import re

CATEGORY_SLUGS = ("phone", "appliance", "vehicle", "books", "clothing", "furniture", "bicycles", "baby", "other")


def _nav(html: str) -> str:
    match = re.search(r'<nav class="nav".*?</nav>', html, re.S)
    assert match, "no main navigation"
    return match.group(0)


def test_home_has_search_categories_and_empty_state(client):
    html = client.get("/").get_data(as_text=True)
    assert '<form class="search" method="get" action="/search" role="search">' in html
    assert 'name="q"' in html
    for slug in CATEGORY_SLUGS:
        assert f'href="/search?category={slug}"' in html
    assert "还没有商品上架。" in html
    assert "<h1" in html


def test_anonymous_navigation_offers_login_and_register(client):
    nav = _nav(client.get("/").get_data(as_text=True))
    assert "/login" in nav and "/register" in nav
    assert "/logout" not in nav and "/moderation/" not in nav and "/admin/" not in nav


def test_resident_navigation_hides_staff_pages(client, user, login):
    login(user)
    nav = _nav(client.get("/").get_data(as_text=True))
    assert "/logout" in nav and "/me" in nav
    assert "/login" not in nav
    assert "/moderation/" not in nav and "/admin/" not in nav


def test_moderator_and_admin_see_their_pages(client, make_user, login):
    login(make_user("mod1", roles=("moderator",)))
    nav = _nav(client.get("/").get_data(as_text=True))
    assert "/moderation/verifications" in nav and "/admin/" not in nav

    client.post("/logout", data={})
    login(make_user("root1", roles=("admin",)))
    nav = _nav(client.get("/").get_data(as_text=True))
    assert "/admin/users" in nav and "/moderation/" not in nav


def test_stylesheet_is_served_from_our_own_site(client):
    html = client.get("/").get_data(as_text=True)
    links = re.findall(r'<link rel="stylesheet" href="([^"]+)"', html)
    assert links == ["/static/css/site.css"]
    resp = client.get(links[0])
    assert resp.status_code == 200
    css = resp.get_data(as_text=True)
    assert "@import" not in css and "url(http" not in css and "url(//" not in css
    assert "<script" not in html.split("</head>")[0]
