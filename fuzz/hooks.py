"""Schemathesis hooks for .ci/fuzz.sh: authentication that survives the API.

The fuzzer calls every operation as the demo admin, including the ones
that end sessions or change credentials:

- `POST /v1/auth/logout` ends the session the fuzzer is using;
- `POST /v1/devices/{id}/revoke` ends every session of a device;
- `PATCH /v1/users/{id}` with a `password` ends the user's sessions when
  someone else sets it, and changes the password the next login needs;
- `DELETE /v1/users/{id}` deactivates an account (not one's own: the API
  refuses that, but another admin may deactivate the account we log in as).

A fixed token taken before the run (`-H "Authorization: Bearer ..."`) would
turn every case after the first of these into a 401 and the rest of the run
would test nothing but the authentication layer. So authentication is a
dynamic provider instead:

1. `get` logs in (without a device, so revoking a device never bars the
   next login) and the token is cached;
2. any 401 makes Schemathesis throw the cached token away, log in again and
   replay the request once (`retry_on=[401]`, its reactive re-auth), so a
   session ended by the previous case costs one extra login, not a failure;
3. an `after_call` hook notices a successful password change of a demo
   account and remembers the new password, so the next login uses it;
4. if an account can no longer log in (deactivated, or its password changed
   in a way we could not observe), `get` falls back to the next demo
   account that has the same powers, admin first.

Only `get` talks to the login endpoint, with `requests` directly, so these
logins are not test cases and never show up as failures.
"""

import os
import threading

import requests
import schemathesis

BASE_URL = os.environ["OUTPOST_FUZZ_BASE_URL"].rstrip("/")
DEMO_PASSWORD = os.environ.get("OUTPOST_FUZZ_PASSWORD", "outpost-demo")
# Admins first: they can call every operation. The manager is a fallback
# that still reaches most of the API.
ACCOUNTS = [
    a.strip()
    for a in os.environ.get(
        "OUTPOST_FUZZ_ACCOUNTS", "admin@demo.outpost.test,manager@demo.outpost.test"
    ).split(",")
    if a.strip()
]

_lock = threading.Lock()
# email -> password we believe is current
_passwords = {email: DEMO_PASSWORD for email in ACCOUNTS}
# user id -> email of our accounts, learnt at login
_ids = {}


def _login():
    errors = []
    for email in ACCOUNTS:
        with _lock:
            password = _passwords[email]
        response = requests.post(
            f"{BASE_URL}/v1/auth/login",
            json={"email": email, "password": password},
            timeout=30,
        )
        if response.status_code == 200:
            body = response.json()
            token = body["token"]
            with _lock:
                _ids[body["me"]["user"]["id"]] = email
            _learn_ids(token)
            return token
        errors.append(f"{email}: {response.status_code} {response.text[:200]}")
    raise RuntimeError("no demo account can log in: " + "; ".join(errors))


def _learn_ids(token):
    """Maps our accounts' user ids to their emails, so a password reset of
    an account we have not logged in as yet is noticed too."""
    response = requests.get(
        f"{BASE_URL}/v1/users",
        params={"include_deactivated": "true"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    if response.status_code != 200:
        return
    body = response.json()
    items = body.get("items", body) if isinstance(body, dict) else body
    with _lock:
        for user in items if isinstance(items, list) else []:
            if isinstance(user, dict) and user.get("email") in _passwords:
                _ids[str(user.get("id"))] = user["email"]


@schemathesis.auth(retry_on=[401])
class DemoLogin:
    def get(self, case, context):
        return _login()

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def after_call(context, case, response):
    """Remembers a new password set on one of our accounts."""
    if case.operation.method.upper() != "PATCH" or case.operation.path != "/v1/users/{id}":
        return
    if not 200 <= response.status_code < 300:
        return
    body = case.body if isinstance(case.body, dict) else {}
    password = body.get("password")
    user_id = str((case.path_parameters or {}).get("id", ""))
    with _lock:
        email = _ids.get(user_id)
        if email and isinstance(password, str):
            _passwords[email] = password
