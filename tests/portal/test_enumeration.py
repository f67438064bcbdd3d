"""Nobody learns which addresses have accounts by trying to sign in: for an address with an account
and one without, every step of a failed sign-in and of the ways in after it (the page for an email
that never arrives, a wrong app code, a wrong recovery code, a voucher, an email code, a passkey's
options) answers with the same status, the same words and offered ways (the address aside) and
the same session keys (Starlette's session cookie is signed, not encrypted: anyone can read it).
Plain HTTP, no browser.
"""

from __future__ import annotations

import re
import secrets
import time
from typing import Any

import pytest
from portal_browser import Applicant
from portal_http import Client, Reply, sign_up

_TOKENS = re.compile(r'(name="csrf" value="|name="csrf-token" content="|data-csrf=")[^"]+')
# A lock's end, shown as a clock time: it differs between two runs a second apart, so it is
# compared as the lock's length instead (``_lock_seconds``).
_CLOCK = re.compile(r"\b(\d\d):(\d\d):(\d\d) UTC\b")


@pytest.fixture(scope="module")
def known(portal_url: str) -> Applicant:
    return sign_up(
        portal_url, Applicant(f"known-{secrets.token_hex(4)}@example.com", "amber tide forty owls")
    )


def _same_form(reply: Reply, email: str) -> tuple[int, str, frozenset[str] | None]:
    """What an onlooker compares: the status, the page with the address and the per-session
    tokens taken out, and which session keys were set."""
    page = _CLOCK.sub("HH:MM:SS UTC", _TOKENS.sub(r"\1-", reply.body.replace(email, "ADDRESS")))
    return reply.status, page, reply.session_keys()


def _lock_seconds(reply: Reply, asked_at: float) -> list[int]:
    """How long each lock the page names lasts from when it was asked for, to 10 s."""
    day = 86_400
    ends = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in _CLOCK.findall(reply.body)]
    return [round(((end - asked_at) % day) / 10) * 10 for end in ends]


def _options_shape(reply: Reply) -> tuple[int, Any, frozenset[str] | None]:
    """A passkey's options with the fresh challenge taken out; credential ids by their length."""
    doc = reply.json()
    options = doc.get("options", {})
    shape = {
        **options,
        "challenge": len(options.get("challenge", "")),
        "allowCredentials": [{**c, "id": len(c["id"])} for c in options.get("allowCredentials", [])],
    }
    return reply.status, shape, reply.session_keys()


def _failed_sign_in(portal_url: str, email: str) -> list[tuple[str, Any]]:
    """A wrong password, then every way in the portal offers after it, each answered wrongly."""
    client = Client(portal_url)
    client.get("/login")
    steps: list[tuple[str, Any]] = []

    def seen(step: str, reply: Reply) -> Reply:
        steps.append((step, _same_form(reply, email)))
        return reply

    wrong = seen("wrong password", client.post("/login", {"email": email, "password": "not the password"}))
    assert wrong.status == 401 and "email address or password is wrong" in wrong.body
    assert wrong.session_keys() == {"csrf", "login_email", "factors"}, "nothing that says who"
    seen("the ways in", client.get("/login/ways"))
    app = seen("an app code", client.post("/login/app", {"code": "000000", "from": "ways"}))
    assert "That code is wrong." in app.body
    recovery = seen("a recovery code", client.post("/login/recovery", {"code": "AAAA-BBBB-CCCC"}))
    assert "That code is wrong." in recovery.body
    seen("a voucher", client.post("/login/voucher", {"voucher": "vk1.not-a-voucher"}))
    started = seen("an email code sent", client.post("/login/email/start"))
    assert started.location == "/login/email"
    seen("the code page", client.follow(started))
    code = seen("a wrong email code", client.post("/login/email", {"code": "000000"}))
    assert "That code is wrong." in code.body
    steps.append(("a passkey's options", _options_shape(client.post_json("/passkey/login/options", {}))))
    return steps


def test_a_failed_sign_in_says_nothing_about_the_address(portal_url: str, known: Applicant) -> None:
    unknown = f"nobody-{secrets.token_hex(4)}@example.com"
    with_account = _failed_sign_in(portal_url, known.email)
    without = _failed_sign_in(portal_url, unknown)
    assert [step for step, _ in with_account] == [step for step, _ in without]
    for (step, seen_known), (_, seen_unknown) in zip(with_account, without, strict=True):
        assert seen_known == seen_unknown, f"{step}: an account's answer differs from a stranger's"


def test_the_offered_ways_are_a_fixed_list_with_the_voucher_last(portal_url: str, known: Applicant) -> None:
    client = Client(portal_url)
    client.get("/login")
    page = client.post("/login", {"email": known.email, "password": "wrong again"}).body
    offered = re.findall(r'data-way="([a-z_]+)"', page)
    assert offered == ["passkey", "authenticator_app", "recovery_code", "email_code", "counter_voucher"]


def test_the_right_password_still_opens_the_second_step(portal_url: str, known: Applicant) -> None:
    client = Client(portal_url)
    client.get("/login")
    reply = client.post("/login", {"email": known.email, "password": known.password})
    assert reply.location == "/login/second"
    assert reply.session_keys() == {"csrf", "login", "factors"}
    page = client.follow(reply).body
    assert 'id="app"' in page, "the account's own ways, once its password was right"


def _sign_up_steps(portal_url: str, email: str) -> list[tuple[str, Any]]:
    """Signing up with ``email``: the form, the code page, a wrong code and a resend."""
    client = Client(portal_url)
    client.get("/signup")
    steps: list[tuple[str, Any]] = []
    started = client.post("/signup", {"email": email})
    steps.append(("the address", (started.status, started.location, started.session_keys())))
    steps.append(("the code page", _same_form(client.follow(started), email)))
    steps.append(("a wrong code", _same_form(client.post("/signup/email", {"code": "000000"}), email)))
    asked_at = time.time()
    resent = client.post("/signup/email", {"action": "resend"})
    steps.append(("a new code", _same_form(resent, email)))
    steps.append(("the resend's wait", _lock_seconds(resent, asked_at)))
    return steps


def test_signing_up_with_an_address_that_has_an_account_looks_like_a_new_one(
    portal_url: str, known: Applicant
) -> None:
    with_account = _sign_up_steps(portal_url, known.email)
    without = _sign_up_steps(portal_url, f"nobody-{secrets.token_hex(4)}@example.com")
    for (step, seen_known), (_, seen_unknown) in zip(with_account, without, strict=True):
        assert seen_known == seen_unknown, f"{step}: an account's answer differs from a stranger's"


def test_only_the_mailbox_owner_learns_the_account_exists_and_is_sent_to_sign_in(
    portal_url: str, known: Applicant
) -> None:
    client = Client(portal_url)
    client.get("/signup")
    client.post("/signup", {"email": known.email})
    approved = client.post("/signup/email", {"code": client.email_code(known.email)})
    assert approved.location == "/login"
    assert "This address already has an account: sign in to it." in client.follow(approved).body
    signed_in = client.post("/login", {"email": known.email, "password": known.password})
    assert signed_in.location == "/login/second", "the account is as it was"


def test_wrong_codes_at_sign_up_spend_nothing_of_the_accounts_own_budget(portal_url: str) -> None:
    owner = sign_up(
        portal_url, Applicant(f"owner-{secrets.token_hex(4)}@example.com", "quiet lamp nine rivers")
    )
    client = Client(portal_url)
    client.get("/signup")
    client.post("/signup", {"email": owner.email})
    for _ in range(6):  # more than the account's failure budget
        client.post("/signup/email", {"code": "000000"})
    login = Client(portal_url)
    login.get("/login")
    assert (
        login.post("/login", {"email": owner.email, "password": owner.password}).location == "/login/second"
    )
    assert login.post("/login/email/start").location == "/login/email"
    code = login.post("/login/email", {"code": login.email_code(owner.email)})
    assert code.location == "/account", "the account's own email code still gets in"
