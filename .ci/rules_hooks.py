"""Schemathesis hooks for the owner's run: rules the API document states in words only.

Loaded with SCHEMATHESIS_HOOKS=rules_hooks (see .ci/schemathesis.sh). JSON Schema cannot say
"in the future", "after `start`", "not a common password", "within the account's platform's
limit", "not granted and revoked at once" or "a key not used before for other content", nor
make up a secret only the server or a platform issues (an invitation token, a Bluesky app
password), so a generated request that the document calls valid may still break one of these
rules, and the server rightly answers 422. For the *positive* cases only (data the document
calls valid), this hook puts such values right the way a client that read the descriptions
would; every check still runs on every request, and negative cases are left as generated.
Keep in step with the descriptions in crates/server/src/openapi.rs (`refine_inputs`).
"""
from datetime import datetime, timedelta, timezone

import uuid

import schemathesis

# An instant a day from now: in the future, and within every limit (tokens: a year,
# invitation links: 30 days, schedules: 366 days).
def _tomorrow():
    return (datetime.now(timezone.utc) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


# The smallest text limit of a platform (Bluesky, docs/platforms.md); the document's
# `maxLength` is Steward's own 10000, which no platform reaches.
SMALLEST_TEXT_LIMIT = 300


def _fix_windows(windows):
    # `end` must be after `start`: 24:00 is after every start.
    if isinstance(windows, list):
        for w in windows:
            if isinstance(w, dict) and isinstance(w.get("start"), str) and isinstance(w.get("end"), str):
                if w["end"] <= w["start"]:
                    w["end"] = "24:00"


def _fix_grants(body):
    # A capability may not be both granted and revoked.
    grant, revoke = body.get("grant"), body.get("revoke")
    if isinstance(grant, list) and isinstance(revoke, list):
        body["revoke"] = [c for c in revoke if c not in grant]


def _fix_password(body, field, email=None):
    # Not a common password, not a run like "123456789012", not the email: a fixed
    # uncommon start keeps the generated length (the bounds are what the coverage phase tests).
    p = body.get(field)
    if isinstance(p, str) and len(p) >= 4:
        p = "Zq7-" + p[4:]
        if isinstance(email, str) and p.strip().lower() == email.strip().lower():
            p = "Zq8-" + p[4:]
        body[field] = p


def _fix_alt(media):
    # Alt text is for images only, without control characters (line breaks allowed).
    if isinstance(media, list):
        for m in media:
            if isinstance(m, dict) and isinstance(m.get("alt"), str):
                if m.get("kind") != "image":
                    m.pop("alt")
                else:
                    m["alt"] = "".join(c for c in m["alt"] if c == "\n" or not (ord(c) < 32 or 127 <= ord(c) < 160))


def _fix_text(body):
    _fix_alt(body.get("media"))
    # A content warning is for Mastodon accounts only, whose platform the document cannot
    # tie to an account id; a planned time is any instant, written here as a sure one.
    body.pop("content_warning", None)
    _instant(body, "planned_for")
    text = body.get("text")
    if isinstance(text, str):
        text = text[:SMALLEST_TEXT_LIMIT]
        media = body.get("media")
        # A post needs text or media: an edit to blank text keeps only stored media, which
        # the document cannot know about.
        if not text.strip() and not (isinstance(media, list) and media):
            text = "x" + text[1:]
        body["text"] = text


def _fix_compose(body):
    # Each copy is a post: its text (its own, else the common one) is held to the same rules,
    # and each account is chosen once.
    _fix_text(body)
    copies = body.get("copies")
    if isinstance(copies, list):
        seen = set()
        kept = []
        for c in copies:
            if isinstance(c, dict) and c.get("account_id") not in seen:
                seen.add(c.get("account_id"))
                if isinstance(c.get("text"), str):
                    _fix_text(c)
                kept.append(c)
        body["copies"] = kept or copies[:1]


def _register(body):
    # An invitation token is a secret only the server issues: a client without one leaves it out.
    body.pop("invitation", None)
    _fix_password(body, "password", body.get("email"))


def _create_account(body):
    # Connecting Bluesky needs a working app password, which no generator can make up (and
    # would send generated requests to the PDS they name); the sandbox takes any credentials.
    # The document's `oneOf` ties each platform to its kinds of account; the coverage phase
    # may still pair a platform with another's kind, so the pair is made whole here too.
    if body.get("platform") == "bluesky":
        body["platform"] = "sandbox"
    if body.get("platform") == "sandbox" and body.get("account_kind") is not None:
        body["account_kind"] = "creator"


def _fresh_key(case):
    # An idempotency key names one request: a client makes a new one for new content (a key
    # used before for other content is rightly refused, 422 as the Idempotency-Key draft says).
    if case.headers and "Idempotency-Key" in case.headers:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


def _instant(body, field):
    if isinstance(body.get(field), str):
        body[field] = _tomorrow()


FIXES = {
    ("POST", "/api/v1/posts/{id}/schedule"): lambda b: _instant(b, "at"),
    ("POST", "/api/v1/me/tokens"): lambda b: _instant(b, "expires_at"),
    ("POST", "/api/v1/accounts/{id}/invitations"): lambda b: (
        _instant(b, "expires_at"),
        _instant(b, "invitation_expires_at"),
        _fix_windows(b.get("windows")),
        _fix_grants(b),
    ),
    ("PATCH", "/api/v1/accounts/{id}/members/{user_id}"): lambda b: (
        _instant(b, "expires_at"),
        _fix_windows(b.get("windows")),
        _fix_grants(b),
    ),
    ("POST", "/api/v1/auth/register"): _register,
    ("POST", "/api/v1/accounts"): _create_account,
    ("POST", "/api/v1/me/password"): lambda b: _fix_password(b, "new_password"),
    ("POST", "/api/v1/auth/password-reset/confirm"): lambda b: _fix_password(b, "new_password"),
    ("POST", "/api/v1/accounts/{id}/posts"): _fix_text,
    ("PATCH", "/api/v1/posts/{id}"): _fix_text,
    ("POST", "/api/v1/posts/batch"): _fix_compose,
}


@schemathesis.hook
def map_case(ctx, case):
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return case
    fix = FIXES.get((case.operation.method.upper(), case.operation.path))
    if fix is not None:
        fix(case.body)
    if (case.operation.method.upper(), case.operation.path) in (
        ("POST", "/api/v1/accounts/{id}/posts"),
        ("POST", "/api/v1/posts/batch"),
    ):
        _fresh_key(case)
    return case
