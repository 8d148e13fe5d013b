"""Schemathesis check for a narrowed token: nothing outside its scope answers 2xx.

Loaded with SCHEMATHESIS_HOOKS=scope_hooks (see .ci/schemathesis.sh). The token used there has the
`read` scope only, so every unsafe method must be refused (401/403/404/405/4xx) or fail, never succeed.
"""
import schemathesis

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# Anyone may call these without a credential; the token's scope is not what decides them.
# Keep in step with `PUBLIC` in crates/server/src/openapi.rs.
PUBLIC = {
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
}


@schemathesis.check
def no_success_outside_scope(ctx, response, case):
    if case.method.upper() in UNSAFE and (case.method.upper(), case.path) not in PUBLIC:
        if 200 <= response.status_code < 300:
            raise AssertionError(
                f"{case.method} {case.path} answered {response.status_code} to a read-only token"
            )
