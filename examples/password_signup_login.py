"""Password signup and login with verifykit: policy on signup, verify with transparent upgrade,
an unknown account answered like a wrong password, and a lockout offering other ways in.

verifykit owns no user table: this example keeps one in a dict.

Run: python examples/password_signup_login.py
"""

from __future__ import annotations

from verifykit import Keyring, LockoutPolicy, Reason, Way, open_store
from verifykit.password import PasswordSettings, PasswordVerifier, PolicyViolation

USERS: dict[str, str] = {}  # account id -> stored hash; your database in real life


def signup(pv: PasswordVerifier, account: str, email: str, password: str) -> bool:
    try:
        USERS[account] = pv.hash(password, subject=account, context=[email])
    except PolicyViolation as refused:
        # Tell the person which rule failed; never echo the password.
        print(f"  signup refused ({refused.reason}): {refused.message}")
        return False
    print(f"  signed up {account}")
    return True


def login(pv: PasswordVerifier, account: str, password: str, client: str) -> bool:
    # An unknown account passes None: same work, same answer as a wrong password.
    verdict = pv.verify(account, USERS.get(account), password, client=client)
    if verdict.stored is not None:
        USERS[account] = verdict.stored  # store the stronger hash in place of the old one
        print("  (stored hash upgraded)")
    if verdict.approved:
        print(f"  welcome back, {account}")
    elif verdict.reason in (Reason.LOCKED_OUT, Reason.HARD_LOCKED):
        ways = ", ".join(w.value for w in verdict.ways_in)
        print(f"  locked out; try again in {verdict.retry_after or 0:.0f} s, or use: {ways}")
    else:
        print(f"  {verdict.reason.value}; {verdict.budget_left} tries before a pause")
    return verdict.approved


def main() -> None:
    pv = PasswordVerifier(
        store=open_store("memory://"),  # production: the shared store, open_store("redis://...")
        keyring=Keyring.generate(),  # production: Keyring.from_env("VERIFYKIT_KEYS")
        settings=PasswordSettings(
            pepper=True,
            service_name="M-Paspor",
            lockout=LockoutPolicy(threshold=3, lockout=30, lockout_max=3600),
        ),
        ways_in=lambda account: (Way.RECOVERY_CODE, Way.COUNTER_VOUCHER),
        audit=None,
    )
    print("signup")
    signup(pv, "budi", "budi.santoso@example.co.id", "password123")
    signup(pv, "budi", "budi.santoso@example.co.id", "santoso1980!")
    signup(pv, "budi", "budi.santoso@example.co.id", "kopi tubruk di pagi hari")

    print("login")
    login(pv, "budi", "kopi tubruk di pagi hari", client="203.0.113.9")
    login(pv, "nobody", "kopi tubruk di pagi hari", client="203.0.113.9")
    for _ in range(3):
        login(pv, "budi", "teh manis", client="198.51.100.4")
    login(pv, "budi", "kopi tubruk di pagi hari", client="198.51.100.4")


if __name__ == "__main__":
    main()
