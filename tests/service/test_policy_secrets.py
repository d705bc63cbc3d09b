"""A policy's webhook URL carries its secret: reader tokens never see it (API, diff, console);
admins see the file as written."""

from __future__ import annotations

from leadpilot.policy.redaction import redact_policy_text

from .conftest import Api

SECRET = "T0000/B0000/XXXXsecretXXXX"
POLICY = f"""\
# alerts go to the team channel
notify_url: "https://hooks.slack.example/services/{SECRET}"
pools:
  - name: everyone
    strategy: round_robin
"""


def test_redaction_keeps_scheme_host_comments_and_layout() -> None:
    text = "# c\nnotify_url: https://h.example/x/y?token=abc  # trailing\n  webhook_url: 'http://a.b/c'\n"
    assert redact_policy_text(text) == (
        "# c\nnotify_url: https://h.example/(redacted)  # trailing\n"
        "  webhook_url: 'http://a.b/(redacted)'\n"
    )
    assert redact_policy_text("pools: []\n") == "pools: []\n"


def test_readers_never_see_the_webhook_secret(api: Api) -> None:
    first = api.post("/v1/policy", {"policy": POLICY}, role="admin")
    assert first.status_code == 201, first.text
    second = api.post(
        "/v1/policy", {"policy": POLICY.replace("everyone", "all-reps")}, role="admin"
    )
    assert second.status_code == 201, second.text
    a, b = first.json()["version"], second.json()["version"]
    assert SECRET in first.json()["text"]  # the admin who uploaded it sees it

    for role in ("reader", "writer"):
        active = api.get("/v1/policy", role=role)
        assert active.status_code == 200
        assert SECRET not in active.text
        assert 'notify_url: "https://hooks.slack.example/(redacted)"' in active.json()["text"]
        for path, params in (
            ("/v1/policy/history", {}),
            ("/v1/policy/diff", {"from": a, "to": b}),
            ("/policy", {"from": a, "to": b}),
            ("/policy", {}),
        ):
            page = api.get(path, role=role, **params)
            assert page.status_code == 200, (path, page.text[:300])
            assert SECRET not in page.text, path

    assert SECRET in api.get("/v1/policy", role="admin").json()["text"]
    assert SECRET in api.get("/policy", role="admin").text
