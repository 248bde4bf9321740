def test_home_renders_in_chinese(client):
    resp = client.get("/")
    assert resp.status_code == 200
    assert "循环市集" in resp.get_data(as_text=True)


def test_register_and_login(client, make_user, login):
    resp = client.post("/register", data={"username": "bob_1", "display_name": "Bob", "password": "Lvse-Xunhuan-2026", "confirm": "Lvse-Xunhuan-2026"})
    assert resp.status_code == 302, resp.get_data(as_text=True)


def test_api_token_and_openapi(api, user, token_for):
    headers = token_for(user)
    assert api.get("/api/v1/openapi.json").status_code == 200
    assert api.delete("/api/v1/auth/token", headers=headers).status_code == 204
