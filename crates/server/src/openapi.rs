//! Completes the OpenAPI document generated from the handlers with what holds for every
//! operation (docs/API.md "Conventions"): the security schemes, the 401/403/404/413/415/422/500
//! answers the extractors and middleware give, problem+json for every error, a description for
//! every response, and the two routes outside `/api/v1` that people reach with a browser.
use serde_json::{Map, Value, json};
use steward_domain::capability::{Capability, Role};
use steward_domain::platform;
use steward_domain::windows::time_zone_names;

/// Operations anyone may call (no credential).
const PUBLIC: [(&str, &str); 9] = [
    ("get", "/invite/{token}"),
    ("post", "/invite/{token}"),
    ("post", "/api/v1/auth/register"),
    ("post", "/api/v1/auth/login"),
    ("post", "/api/v1/auth/password-reset"),
    ("post", "/api/v1/auth/password-reset/confirm"),
    ("get", "/healthz"),
    ("get", "/readyz"),
    ("get", "/metrics"),
];

/// Operations that need a browser session cookie, not a token.
const COOKIE_ONLY: [(&str, &str); 1] = [("get", "/oauth/{platform}/callback")];

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

fn problem(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
    })
}

fn html(description: &str) -> Value {
    json!({"description": description, "content": {"text/html": {"schema": {"type": "string"}}}})
}

/// What an error status means on any operation of this API.
fn error_description(status: &str) -> &'static str {
    match status {
        "400" => "Bad request",
        "401" => "Not signed in, or the credential is invalid, expired or revoked (`unauthenticated`)",
        "403" => {
            "Not allowed: missing capability, a token's scope or narrowing, outside posting windows, rules not accepted"
        }
        "404" => "Not found, or not visible to the caller (no existence leak)",
        "405" => "Method not allowed",
        "409" => "Conflict with the current state (`conflict` or a more precise type)",
        "412" => "`If-Match` does not match the current version (`precondition-failed`)",
        "413" => "The request body is too large (`payload-too-large`)",
        "415" => "The body is not `application/json` (`unsupported-media-type`)",
        "422" => "Invalid input (`validation`): `errors` names each field",
        "428" => "`If-Match` is required (`precondition-required`)",
        "429" => "Rate limited (`rate-limited`); `Retry-After` says when to try again",
        "500" => "Internal error; nothing was changed (`internal`)",
        "502" => "The platform refused",
        "503" => "The platform or the database is unavailable; retry later",
        _ => "Error",
    }
}

fn success_description(status: &str) -> &'static str {
    match status {
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "Done; no content",
        "303" => "Redirect",
        _ => "Answer",
    }
}

/// Finishes the generated document in place.
pub fn finish(doc: &mut Value) {
    doc["openapi"] = json!("3.1.0");
    doc["info"]["version"] = json!("1");
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "description": "A session token from `POST /api/v1/auth/login`, or a personal access token (`POST /api/v1/me/tokens`).",
        },
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "steward_session",
            "description": "The browser session cookie set by sign-in. Unsafe methods also need the `X-CSRF-Token` header (from `GET /api/v1/me`).",
        },
    });
    add_outside_routes(doc);
    refine_inputs(doc);
    let binary = json!({"schema": {"type": "string", "format": "binary"}});
    let media: Value = ["image/png", "image/jpeg", "image/gif", "image/webp", "video/mp4", "video/quicktime"]
        .into_iter()
        .map(|t| (t.to_string(), binary.clone()))
        .collect::<Map<String, Value>>()
        .into();
    if let Some(upload) = doc.pointer_mut("/paths/~1api~1v1~1accounts~1{id}~1media/post/requestBody") {
        upload["content"] = media.clone();
        upload["required"] = json!(true);
    }
    // Alert thresholds are read strictly: only the four checks, each a count and a window.
    if let Some(thresholds) = doc.pointer_mut("/components/schemas/SettingsRequest/properties/alert_thresholds") {
        let threshold = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["count", "minutes"],
            "properties": {
                "count": {"type": "integer", "minimum": 1, "maximum": 1000},
                "minutes": {"type": "integer", "minimum": 1, "maximum": 1440},
            },
        });
        *thresholds = json!({
            "type": ["object", "null"],
            "description": "Alert thresholds; checks left out take their defaults (DESIGN.md \"Alerts\").",
            "additionalProperties": false,
            "properties": {
                "failed_sign_ins": threshold,
                "denied_actions": threshold,
                "post_burst": threshold,
                "member_change_burst": threshold,
            },
        });
    }
    // A stored file is served with its own type.
    if let Some(file) = doc.pointer_mut("/paths/~1api~1v1~1accounts~1{id}~1media~1{media_id}/get/responses/200") {
        file["content"] = media;
    }
    // The activity log streams as CSV or JSON lines when asked (`format`, or `Accept`).
    for pointer in [
        "/paths/~1api~1v1~1accounts~1{id}~1activity/get/responses/200",
        "/paths/~1api~1v1~1me~1activity/get/responses/200",
    ] {
        if let Some(content) =
            doc.pointer_mut(pointer).and_then(|r| r.get_mut("content")).and_then(Value::as_object_mut)
        {
            content.insert("text/csv".into(), json!({"schema": {"type": "string"}}));
            content.insert("application/x-ndjson".into(), json!({"schema": {"type": "string"}}));
        }
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else { continue };
        for method in METHODS {
            if let Some(op) = item.get_mut(method).and_then(Value::as_object_mut) {
                finish_operation(method, path, op);
            }
        }
    }
}

fn finish_operation(method: &str, path: &str, op: &mut Map<String, Value>) {
    let public = PUBLIC.contains(&(method, path));
    let cookie_only = COOKIE_ONLY.contains(&(method, path));
    if !op.contains_key("summary") {
        op.insert("summary".into(), json!(format!("{} {}", method.to_uppercase(), path)));
    }
    op.insert(
        "security".into(),
        if public {
            json!([])
        } else if cookie_only {
            json!([{"session": []}])
        } else {
            json!([{"bearer": []}, {"session": []}])
        },
    );
    let has_body = op.contains_key("requestBody");
    let json_body = op
        .get("requestBody")
        .and_then(|b| b.get("content"))
        .and_then(Value::as_object)
        .is_some_and(|c| c.contains_key("application/json"));
    let has_query =
        op.get("parameters").and_then(Value::as_array).is_some_and(|ps| ps.iter().any(|p| p["in"] == "query"));
    let has_path = path.contains('{');
    let responses = op.entry("responses").or_insert_with(|| json!({}));
    let Some(responses) = responses.as_object_mut() else { return };
    let mut add = |status: &str| {
        responses.entry(status.to_string()).or_insert_with(|| problem(error_description(status)));
    };
    if !public {
        // Any credential-bearing request may meet the per-address limit on unknown credentials.
        add("429");
        add("401");
        if !cookie_only {
            add("403");
        }
    }
    if has_path {
        add("404");
    }
    if has_body {
        add("413");
        add("422");
    }
    if json_body {
        add("415");
    }
    if has_query {
        add("422");
    }
    if path.starts_with("/api/") {
        add("500");
    }
    for (status, response) in responses.iter_mut() {
        let Some(response) = response.as_object_mut() else { continue };
        let error = status.starts_with('4') || status.starts_with('5');
        if !response.contains_key("description")
            || response.get("description").and_then(Value::as_str).is_some_and(str::is_empty)
        {
            let d = if error { error_description(status) } else { success_description(status) };
            response.insert("description".into(), json!(d));
        }
        // Errors are problem+json; a body documented as `Problem` under `application/json`
        // is the same body with its real media type.
        if error && let Some(content) = response.get_mut("content").and_then(Value::as_object_mut) {
            let is_problem =
                content.get("application/json").is_some_and(|m| m["schema"]["$ref"] == "#/components/schemas/Problem");
            if is_problem && let Some(media) = content.remove("application/json") {
                content.insert("application/problem+json".into(), media);
            }
        }
    }
}

/// One text with a character that is not white space (the server trims what people type).
const NOT_BLANK: &str = r"\S";
/// An `http://` or `https://` URL with a host (a name or an IPv4 address: no brackets), no white
/// space or control characters.
const MEDIA_URL: &str = r"^https?://[^/?#@\[\]\s\x00-\x1f\x7f-\x9f]+([/?#][^\s\x00-\x1f\x7f-\x9f]*)?$";
/// An email address as sign-up reads it.
const EMAIL: &str = r"^[!-?A-~]{1,64}@[!-\-/-?A-~]+(\.[!-\-/-?A-~]+)+$";

fn set(doc: &mut Value, schema: &str, field: &str, extra: Value) {
    if let (Some(target), Value::Object(extra)) =
        (doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}")), extra)
        && let Some(target) = target.as_object_mut()
    {
        target.extend(extra);
    }
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

/// Bounds, patterns and enums the server checks, where the handlers' types cannot say them.
/// Rules that depend on the clock or on stored state (an instant in the future, a window's
/// end after its start, a password that is not common, the account's platform's text limit)
/// are in the descriptions only.
fn refine_inputs(doc: &mut Value) {
    let capabilities: Vec<&str> = Capability::ALL.iter().map(|c| c.as_str()).collect();
    let grantable: Vec<&str> = Capability::ALL.iter().filter(|c| !c.is_owner_only()).map(|c| c.as_str()).collect();
    let roles: Vec<&str> = Role::ALL.iter().filter(|r| **r != Role::Owner).map(|r| r.as_str()).collect();
    let schemas = &mut doc["components"]["schemas"];
    schemas["TimeZone"] = json!({
        "type": "string",
        "description": "An IANA time zone name (the server also reads them in any letter case).",
        "enum": time_zone_names(),
    });
    schemas["Window"] = json!({
        "type": "object",
        "description": "A weekly posting window in the account's time zone: `[start, end)` on each of `days`; `end` must be after `start` (split a window that crosses midnight in two).",
        "required": ["days", "start", "end"],
        "properties": {
            "days": {"type": "array", "minItems": 1, "maxItems": 7, "uniqueItems": true,
                     "items": {"type": "string", "enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}},
            "start": {"type": "string", "description": "HH:MM, 00:00 to 23:59.", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$"},
            "end": {"type": "string", "description": "HH:MM, 00:01 to 24:00.", "pattern": "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"},
        },
    });
    let time_zone = json!({"$ref": "#/components/schemas/TimeZone"});
    let windows = json!({"items": {"$ref": "#/components/schemas/Window"}, "maxItems": 50});
    let quota = json!({"minimum": 1, "maximum": 100});
    let grants = json!({"items": {"type": "string", "enum": grantable}});
    let revokes = json!({"items": {"type": "string", "enum": capabilities}});
    let role = json!({"enum": roles});

    for (schema, field) in [("CreateAccountRequest", "time_zone"), ("SettingsRequest", "time_zone")] {
        if let Some(target) = doc.pointer_mut(&format!("/components/schemas/{schema}/properties/{field}")) {
            let description = target.get("description").cloned();
            *target = nullable(time_zone.clone());
            if let Some(d) = description {
                target["description"] = d;
            }
        }
    }
    set(doc, "CreateAccountRequest", "display_name", json!({"maxLength": 100}));
    // Each platform connected with credentials takes its own kinds of account (none given: the
    // only one) and its own credentials.
    let by_platform: Vec<Value> = ["bluesky", "sandbox"]
        .into_iter()
        .filter_map(platform::platform)
        .map(|p| {
            let mut kinds: Vec<Value> = p.kinds.iter().map(|k| json!(k.id)).collect();
            if p.kinds.len() == 1 {
                kinds.push(Value::Null);
            }
            let credentials = if p.id == "bluesky" {
                json!({"type": "object", "required": ["identifier", "app_password"], "properties": {
                    "identifier": {"type": "string", "pattern": NOT_BLANK, "description": "The handle or DID."},
                    "app_password": {"type": "string", "pattern": NOT_BLANK, "description": "An app password (never the account's main password)."},
                    "service": {"type": "string", "description": "The PDS's https URL (default https://bsky.social)."},
                }})
            } else {
                json!({"type": "object"})
            };
            json!({"properties": {"platform": {"const": p.id}, "account_kind": {"enum": kinds}, "credentials": credentials}})
        })
        .collect();
    schemas_of(doc, "CreateAccountRequest")["oneOf"] = json!(by_platform);

    set(doc, "InvitationRequest", "email", json!({"maxLength": 254, "pattern": EMAIL}));
    set(doc, "InvitationRequest", "role", role.clone());
    set(
        doc,
        "InvitationRequest",
        "expires_at",
        json!({"format": "date-time", "description": "When the membership ends (RFC 3339, in the future); none: until removed."}),
    );
    set(
        doc,
        "InvitationRequest",
        "invitation_expires_at",
        json!({"format": "date-time", "description": "When the invitation link stops working: in the future, at most 30 days away (default 7 days)."}),
    );
    set(doc, "InvitationRequest", "windows", windows.clone());
    set(doc, "InvitationRequest", "daily_quota", quota.clone());
    set(doc, "InvitationRequest", "grant", grants.clone());
    set(doc, "InvitationRequest", "revoke", revokes.clone());

    set(
        doc,
        "MemberUpdate",
        "role",
        json!({"enum": roles.iter().map(|r| json!(r)).chain([Value::Null]).collect::<Vec<_>>()}),
    );
    set(doc, "MemberUpdate", "status", json!({"enum": ["active", "suspended", null]}));
    set(
        doc,
        "MemberUpdate",
        "expires_at",
        json!({"format": "date-time", "description": "When the membership ends (RFC 3339, in the future); `null` removes the end date."}),
    );
    set(doc, "MemberUpdate", "windows", windows);
    set(doc, "MemberUpdate", "daily_quota", quota);
    set(doc, "MemberUpdate", "grant", grants);
    set(doc, "MemberUpdate", "revoke", revokes);

    let not_blank_list = json!({"minItems": 1, "maxItems": 100,
        "items": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NOT_BLANK}});
    set(doc, "CreateTokenRequest", "name", json!({"minLength": 1, "maxLength": 100, "pattern": NOT_BLANK}));
    set(
        doc,
        "CreateTokenRequest",
        "scopes",
        json!({"minItems": 1, "items": {"type": "string", "enum": ["read", "write"]}}),
    );
    set(
        doc,
        "CreateTokenRequest",
        "expires_at",
        json!({"format": "date-time", "description": "RFC 3339, in the future and at most a year away (default 90 days); the token stops working then."}),
    );
    set(doc, "CreateTokenRequest", "accounts", not_blank_list.clone());
    set(doc, "CreateTokenRequest", "capabilities", not_blank_list);

    let text = json!({"maxLength": 10_000, "description": "At most 10000 characters, and at most the account's platform's limit (docs/platforms.md: 300 on Bluesky)."});
    let title = json!({"maxLength": 300});
    let media = json!({"maxItems": 20});
    set(doc, "MediaItem", "kind", json!({"enum": ["image", "video"]}));
    set(doc, "MediaItem", "alt", json!({"maxLength": steward_app::posts::drafts::MAX_ALT_CHARS}));
    set(
        doc,
        "MediaItem",
        "url",
        json!({"maxLength": 2048, "pattern": MEDIA_URL,
        "description": "An external http(s) URL, or the `url` of a file uploaded to the post's account."}),
    );
    set(doc, "ContentRequest", "text", text.clone());
    set(doc, "ContentRequest", "title", title.clone());
    set(doc, "ContentRequest", "media", media.clone());
    // A post needs text or media.
    schemas_of(doc, "ContentRequest")["anyOf"] = json!([
        {"properties": {"text": {"pattern": NOT_BLANK}}},
        {"required": ["media"], "properties": {"media": {"minItems": 1}}},
    ]);
    for schema in ["ComposeRequest", "CopyRequest"] {
        set(doc, schema, "text", text.clone());
        set(doc, schema, "title", title.clone());
        set(doc, schema, "media", media.clone());
    }
    set(doc, "ComposeRequest", "copies", json!({"minItems": 1, "maxItems": 20}));
    set(doc, "EditRequest", "text", text);
    set(doc, "EditRequest", "title", title);
    set(doc, "EditRequest", "media", media);
    let comment = json!({"minLength": 1, "maxLength": 5000, "pattern": NOT_BLANK});
    set(doc, "CommentRequest", "body", comment.clone());
    set(doc, "RequestChangesRequest", "comment", comment);
    set(
        doc,
        "ScheduleRequest",
        "at",
        json!({"description": "RFC 3339 instant, in the future and at most 366 days away."}),
    );
    for (operation, name, extra) in [
        (
            "/paths/~1api~1v1~1accounts~1{id}~1comments~1{comment_id}~1reply/post",
            "comment_id",
            json!({"pattern": NOT_BLANK}),
        ),
        (
            "/paths/~1api~1v1~1accounts~1{id}~1comments~1{comment_id}~1hide/post",
            "comment_id",
            json!({"pattern": NOT_BLANK}),
        ),
        (
            "/paths/~1api~1v1~1accounts~1{id}~1comments~1{comment_id}~1delete/post",
            "comment_id",
            json!({"pattern": NOT_BLANK}),
        ),
        (
            "/paths/~1api~1v1~1accounts~1{id}~1comments~1{comment_id}~1mute-author/post",
            "comment_id",
            json!({"pattern": NOT_BLANK}),
        ),
        (
            "/paths/~1api~1v1~1accounts~1{id}~1comments~1{comment_id}~1block-author/post",
            "comment_id",
            json!({"pattern": NOT_BLANK}),
        ),
        // 1 to 255 visible ASCII characters (tabs and spaces inside).
        (
            "/paths/~1api~1v1~1accounts~1{id}~1posts/post",
            "Idempotency-Key",
            json!({"pattern": r"^[!-~]([\t -~]{0,253}[!-~])?$"}),
        ),
        (
            "/paths/~1api~1v1~1posts~1batch/post",
            "Idempotency-Key",
            json!({"pattern": r"^[!-~]([\t -~]{0,253}[!-~])?$"}),
        ),
        // Any list of tags but `*`, which would defeat the check (428); a stale tag is 412.
        ("/paths/~1api~1v1~1posts~1{id}/patch", "If-Match", json!({"pattern": r"^\s*$|[^\s*]|\*[\s\S]*\*"})),
    ] {
        if let Some(params) = doc.pointer_mut(&format!("{operation}/parameters")).and_then(Value::as_array_mut) {
            for p in params.iter_mut().filter(|p| p["name"] == name) {
                if let (Some(schema), Value::Object(extra)) = (p["schema"].as_object_mut(), extra.clone()) {
                    schema.extend(extra);
                }
            }
        }
    }
}

fn schemas_of<'a>(doc: &'a mut Value, schema: &str) -> &'a mut Value {
    &mut doc["components"]["schemas"][schema]
}

/// The browser routes outside `/api/v1` that the contract names: the OAuth callback (its
/// answers are pages) and the invitation page.
fn add_outside_routes(doc: &mut Value) {
    if let Some(callback) = doc.pointer_mut("/paths/~1oauth~1{platform}~1callback/get") {
        callback["description"] = json!(
            "The platform's browser redirect after the owner approved (or cancelled) the connection. \
             Authenticated by the session cookie that started `POST /api/v1/accounts/connect` (the single-use `state` is bound to it). \
             A refused callback (bad, replayed, expired or foreign `state`) changes nothing."
        );
        callback["responses"] = json!({
            "200": html("Connected: a page naming the account"),
            "400": html("Refused: the `state` or `code` is unusable (bad, replayed, expired or another session's)"),
            "409": html("Refused: the platform identity is not the account being reconnected"),
            "502": html("Refused: the platform did not accept the code"),
        });
    }
    doc["paths"]["/invite/{token}"] = json!({"get": {
        "tags": ["members"],
        "operationId": "invitation_page",
        "summary": "The invitation page",
        "description": "The page behind an invitation's `invite_url`: the invitee signs in or registers, then accepts. \
                        Served to anyone holding the token; accepting needs a session.",
        "parameters": [{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {
            "200": html("The invitation, with the account, the role and the forms to accept"),
            "404": html("The invitation is not valid: expired, withdrawn or already used"),
        },
    }, "post": {
        "tags": ["members"],
        "operationId": "invitation_submit",
        "summary": "Accept an invitation from its page",
        "description": "The page's form: accept while signed in (session cookie and its CSRF field), or \
                        `action=register` to create an account with the invitation. Answers with a page or a redirect.",
        "parameters": [{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}],
        "requestBody": {"content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object",
            "properties": {"action": {"type": "string"}, "csrf": {"type": "string"}},
        }}}},
        "responses": {
            "200": html("The page again, with what went wrong next to the field"),
            "303": {"description": "Accepted or registered: on to the account"},
            "403": html("The form had expired or the invitation is for another email address"),
            "404": html("The invitation is not valid: expired, withdrawn or already used"),
            "413": problem("The request body is too large (`payload-too-large`)"),
            "422": html("A field is invalid; the page names it"),
        },
    }});
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_carry_the_rules_the_server_checks() {
        let mut doc = json!({"openapi": "3.1.0", "info": {}, "components": {"schemas": {
            "CreateAccountRequest": {"type": "object", "properties": {"time_zone": {"type": ["string", "null"]}}},
            "InvitationRequest": {"type": "object", "properties": {"windows": {"type": "array", "items": {"type": "object"}}, "grant": {"type": "array"}}},
            "ContentRequest": {"type": "object", "properties": {"text": {"type": "string"}}},
        }}, "paths": {}});
        finish(&mut doc);
        let schemas = &doc["components"]["schemas"];
        let zones = schemas["TimeZone"]["enum"].as_array().expect("a list");
        assert!(zones.contains(&json!("Europe/Paris")) && zones.contains(&json!("UTC")));
        assert_eq!(
            schemas["CreateAccountRequest"]["properties"]["time_zone"]["oneOf"][0]["$ref"],
            "#/components/schemas/TimeZone"
        );
        let kinds: Vec<_> = schemas["CreateAccountRequest"]["oneOf"]
            .as_array()
            .expect("a list")
            .iter()
            .map(|b| (b["properties"]["platform"]["const"].clone(), b["properties"]["account_kind"]["enum"].clone()))
            .collect();
        assert_eq!(
            kinds,
            vec![(json!("bluesky"), json!(["account", null])), (json!("sandbox"), json!(["creator", null]))]
        );
        assert_eq!(
            schemas["InvitationRequest"]["properties"]["windows"]["items"]["$ref"],
            "#/components/schemas/Window"
        );
        let grantable =
            schemas["InvitationRequest"]["properties"]["grant"]["items"]["enum"].as_array().expect("a list");
        assert!(grantable.contains(&json!("drafts.create")) && !grantable.contains(&json!("ownership.transfer")));
        assert_eq!(schemas["ContentRequest"]["properties"]["text"]["maxLength"], 10_000);
        assert!(schemas["Window"]["properties"]["end"]["pattern"].as_str().expect("a pattern").contains("24:00"));
    }

    #[test]
    fn every_operation_is_finished() {
        let mut doc = json!({"openapi": "3.1.0", "info": {}, "components": {}, "paths": {
            "/api/v1/posts/{id}/approve": {"post": {
                "requestBody": {"content": {"application/json": {"schema": {}}}},
                "responses": {"200": {}, "404": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}}},
            }},
            "/healthz": {"get": {"responses": {"200": {"description": "up"}}}},
        }});
        finish(&mut doc);
        let op = &doc["paths"]["/api/v1/posts/{id}/approve"]["post"];
        for status in ["200", "401", "403", "404", "413", "415", "422", "500"] {
            assert!(op["responses"][status]["description"].is_string(), "{status}");
        }
        assert!(op["responses"]["404"]["content"]["application/problem+json"].is_object());
        assert!(op["responses"]["404"]["content"]["application/json"].is_null());
        assert_eq!(op["security"], json!([{"bearer": []}, {"session": []}]));
        assert_eq!(doc["paths"]["/healthz"]["get"]["security"], json!([]));
        assert!(doc["paths"]["/healthz"]["get"]["responses"]["401"].is_null());
        assert!(doc["paths"]["/invite/{token}"]["get"]["responses"]["404"].is_object());
    }
}
