//! Errors are problem+json, never a 500 for a client's mistake (DESIGN.md invariant 11); docs
//! and health endpoints.
use serde_json::json;

use crate::helpers::accounts::sandbox_account;
use crate::helpers::*;

/// Writes `request` on a fresh connection and returns what the server answers first.
async fn raw_request(base: &str, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let mut got = 0;
    while got < buf.len() {
        match tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf[got..])).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => {
                got += n;
                if String::from_utf8_lossy(&buf[..got]).contains("}") {
                    break;
                }
            }
            Ok(Err(_)) => break,
        }
    }
    String::from_utf8_lossy(&buf[..got]).to_string()
}

both_backends! {
    async fn client_mistakes_get_problem_json(app: TestApp) {
        app.post("/api/v1/auth/login").body("application/json", "{not json").send().await.assert_problem(422, "validation");
        let missing = app.post("/api/v1/auth/login").json(json!({"email": "a@example.com"})).send().await;
        missing.assert_problem(422, "validation");
        assert_eq!(missing.body["errors"][0]["field"], "password");
        let wrong_type = app.post("/api/v1/auth/login").json(json!({"email": 5, "password": "x"})).send().await;
        wrong_type.assert_problem(422, "validation");
        app.post("/api/v1/auth/login").body("text/plain", "hello").send().await.assert_problem(415, "unsupported-media-type");
        app.get("/api/v1/no-such-thing").send().await.assert_problem(404, "not-found");
        app.req(reqwest::Method::PUT, "/api/v1/auth/login").send().await.assert_problem(405, "method-not-allowed");
        // The limit is enforced from Content-Length before any body is read, so send only the
        // headers: a client still uploading would race the early answer.
        let raw = raw_request(
            &app.base,
            "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2097152\r\n\r\n",
        )
        .await;
        assert!(raw.starts_with("HTTP/1.1 413"), "{raw}");
        assert!(raw.contains("application/problem+json") && raw.contains("urn:steward:problem:payload-too-large"), "{raw}");
        let s = app.user("p@example.com").await;
        app.get("/api/v1/me/activity?limit=0").auth(&s).send().await.assert_problem(422, "validation");
        app.get("/api/v1/me/activity?cursor=zzz").auth(&s).send().await.assert_problem(422, "validation");
        app.get("/api/v1/me").send().await.assert_problem(401, "unauthenticated");
        app.get("/api/v1/me").bearer("sts_made-up").send().await.assert_problem(401, "unauthenticated");
        app.get("/api/v1/me").header("authorization", "Basic Zm9vOmJhcg==").send().await.assert_problem(401, "unauthenticated");
    }

    async fn bodies_of_the_wrong_shape_are_refused_naming_the_field(app: TestApp) {
        let owner = app.user("shape@example.com").await;
        let account = sandbox_account(&app, &owner, "@shape").await;
        let acc = format!("/api/v1/accounts/{account}");
        let post = app.post(&format!("{acc}/posts")).auth(&owner).json(json!({"text": "hello"})).send().await;
        assert_eq!(post.status, 201, "{}", post.text);
        let post_id = post.body["id"].as_str().unwrap().to_string();

        // A fraction where an integer is expected names the field, in words, not the parser's
        // (`1.0` is the integer 1, as JSON Schema counts it).
        let r = app.post(&format!("/api/v1/posts/{post_id}/approve")).auth(&owner).json(json!({"version": 1.5})).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "version", "{}", r.text);
        assert_eq!(r.body["errors"][0]["message"], "must be an integer", "{}", r.text);
        assert!(!r.text.contains("i64") && !r.text.contains("line 1"), "{}", r.text);

        // An array is not an object, even if its elements would fill the fields in order.
        for body in [json!([true]), json!([])] {
            let r = app.post(&format!("{acc}/lockdown")).auth(&owner).json(body).send().await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0], json!({"field": "body", "message": "must be an object"}), "{}", r.text);
        }
        let still = app.get(&acc).auth(&owner).send().await;
        assert_eq!(still.body["status"], "active", "nothing was locked down: {}", still.text);

        // Nothing is silently ignored: a threshold object must be an object, with known keys.
        let before = app.get(&acc).auth(&owner).send().await.body["settings"]["alert_thresholds"].clone();
        for (body, field) in [
            (json!({"alert_thresholds": []}), "alert_thresholds"),
            (json!({"alert_thresholds": {"post_burst": [5, 60]}}), "alert_thresholds.post_burst"),
            (json!({"alert_thresholds": {"post_burts": {"count": 5, "minutes": 60}}}), "alert_thresholds.post_burts"),
            (json!({"max_members": "ten"}), "max_members"),
        ] {
            let r = app.req(reqwest::Method::PATCH, &format!("{acc}/settings")).auth(&owner).json(body.clone()).send().await;
            r.assert_problem(422, "validation");
            assert_eq!(r.body["errors"][0]["field"], field, "{body}: {}", r.text);
        }
        assert_eq!(app.get(&acc).auth(&owner).send().await.body["settings"]["alert_thresholds"], before);

        // A strict body names the unknown field; a wrong enum value lists what is accepted.
        let r = app.post(&format!("{acc}/lockdown")).auth(&owner).json(json!({"disconect_credential": true})).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "disconect_credential", "{}", r.text);
        let r = app.post(&format!("{acc}/invitations")).auth(&owner).json(json!({"email": "x@example.com", "role": "king"})).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "role", "{}", r.text);
        assert!(r.body["errors"][0]["message"].as_str().unwrap().contains("editor"), "{}", r.text);
        // A query parameter of the wrong type names the parameter.
        let r = app.get("/api/v1/me/activity?limit=many").auth(&owner).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "limit", "{}", r.text);
    }

    async fn requests_the_document_calls_valid_are_refused_only_for_their_real_reason(app: TestApp) {
        let owner = app.user("exact@example.com").await;
        let account = sandbox_account(&app, &owner, "@exact").await;
        let acc = format!("/api/v1/accounts/{account}");

        // A comment that does not exist is a missing resource (404), not an invalid field.
        let r = app.post(&format!("{acc}/comments/no-such-comment/reply")).auth(&owner).json(json!({"text": "hi"})).send().await;
        r.assert_problem(404, "not-found");

        // An invalid field is named (422) whatever version `If-Match` names; only a valid edit
        // against a stale version is 412. Nothing changes either way.
        let post = app.post(&format!("{acc}/posts")).auth(&owner).json(json!({"text": "first"})).send().await;
        assert_eq!(post.status, 201, "{}", post.text);
        let post_id = post.body["id"].as_str().unwrap().to_string();
        let url = format!("/api/v1/posts/{post_id}");
        let long_title = "t".repeat(301);
        let r = app.req(reqwest::Method::PATCH, &url).auth(&owner).header("if-match", "\"1.0\"").json(json!({"title": long_title})).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "title", "{}", r.text);
        let r = app.req(reqwest::Method::PATCH, &url).auth(&owner).header("if-match", "\"1.0\"").json(json!({"title": "fine"})).send().await;
        r.assert_problem(412, "precondition-failed");
        let now = app.get(&url).auth(&owner).send().await;
        assert_eq!((now.body["version"].as_i64(), now.body["text"].as_str()), (Some(1), Some("first")), "{}", now.text);

        // A page's cursor has the grammar the document states; anything else names `cursor`.
        let second = app.post(&format!("{acc}/posts")).auth(&owner).json(json!({"text": "second"})).send().await;
        assert_eq!(second.status, 201, "{}", second.text);
        let page = app.get(&format!("{acc}/posts?limit=1")).auth(&owner).send().await;
        let cursor = page.body["next_cursor"].as_str().unwrap().to_string();
        let (at, id) = cursor.split_once('.').unwrap();
        assert!(at.parse::<i64>().is_ok() && !id.is_empty(), "{cursor}");
        let next = app.get(&format!("{acc}/posts?limit=1&cursor={cursor}")).auth(&owner).send().await;
        assert_eq!((next.status, next.body["items"].as_array().map(Vec::len)), (200, Some(1)), "{}", next.text);
        assert_ne!(next.body["items"][0]["id"], page.body["items"][0]["id"]);
        let r = app.get(&format!("{acc}/posts?cursor=zzz")).auth(&owner).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "cursor", "{}", r.text);

        // Lengths are counted in characters, as the document's `maxLength` counts them.
        let two_hundred = "é".repeat(200);
        let ok = app.get(&format!("/api/v1/me/activity?action={two_hundred}")).auth(&owner).send().await;
        assert_eq!(ok.status, 200, "{}", ok.text);
        let r = app.get(&format!("/api/v1/me/activity?action={two_hundred}é")).auth(&owner).send().await;
        r.assert_problem(422, "validation");
        assert_eq!(r.body["errors"][0]["field"], "action", "{}", r.text);
        let r = app.post(&format!("{acc}/posts")).auth(&owner)
            .json(json!({"text": "", "media": [{"kind": "image", "url": format!("https://example.com/{}", "é".repeat(2000))}]}))
            .send().await;
        assert_eq!(r.status, 201, "a 2020-character URL is within 2048 characters: {}", r.text);
    }

    async fn health_readiness_and_metrics(app: TestApp) {
        let h = app.get("/healthz").send().await;
        assert_eq!((h.status, h.body["status"].as_str()), (200, Some("ok")));
        let r = app.get("/readyz").send().await;
        assert_eq!((r.status, r.body["status"].as_str()), (200, Some("ready")));
        let m = app.get("/metrics").send().await;
        assert_eq!(m.status, 200);
        assert!(m.header("content-type").unwrap().starts_with("text/plain"));
        assert!(m.text.contains("steward_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 1"), "{}", m.text);
        assert!(m.text.contains("steward_http_request_duration_seconds_bucket"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_every_route() {
    let app = TestApp::spawn(Backend::Sqlite).await.unwrap();
    let doc = app.get("/api/openapi.json").send().await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc.body["paths"].as_object().unwrap();
    // Generated clients name their methods after operation ids: each must be unique.
    let mut ids = std::collections::HashMap::new();
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            if let Some(id) = op.get("operationId").and_then(|i| i.as_str()) {
                let first = ids.insert(id.to_string(), format!("{method} {path}"));
                assert!(first.is_none(), "operationId {id} of {method} {path} is also {}", first.unwrap());
            }
        }
    }
    let expected = [
        ("/api/v1/auth/register", "post"),
        ("/api/v1/auth/login", "post"),
        ("/api/v1/auth/logout", "post"),
        ("/api/v1/auth/password-reset", "post"),
        ("/api/v1/auth/password-reset/confirm", "post"),
        ("/api/v1/me", "get"),
        ("/api/v1/me", "delete"),
        ("/api/v1/me/export", "get"),
        ("/api/v1/me/password", "post"),
        ("/api/v1/me/totp", "post"),
        ("/api/v1/me/totp/confirm", "post"),
        ("/api/v1/me/totp", "delete"),
        ("/api/v1/me/sessions", "get"),
        ("/api/v1/me/sessions/{id}", "delete"),
        ("/api/v1/me/sessions/revoke-all", "post"),
        ("/api/v1/me/tokens", "post"),
        ("/api/v1/me/tokens", "get"),
        ("/api/v1/me/tokens/{id}", "delete"),
        ("/api/v1/me/activity", "get"),
        ("/api/v1/me/notification-preferences", "get"),
        ("/api/v1/me/notification-preferences", "put"),
        ("/api/v1/notifications", "get"),
        ("/api/v1/notifications/{id}/read", "post"),
        ("/api/v1/platforms", "get"),
        ("/api/v1/accounts", "post"),
        ("/api/v1/accounts", "get"),
        ("/api/v1/accounts/{id}", "get"),
        ("/api/v1/accounts/{id}", "delete"),
        ("/api/v1/accounts/{id}/settings", "patch"),
        ("/api/v1/accounts/{id}/rules/accept", "post"),
        ("/api/v1/accounts/{id}/transfer", "post"),
        ("/api/v1/accounts/{id}/members", "get"),
        ("/api/v1/accounts/{id}/members/{user_id}", "patch"),
        ("/api/v1/accounts/{id}/members/{user_id}", "delete"),
        ("/api/v1/accounts/{id}/members/{user_id}/sessions", "get"),
        ("/api/v1/accounts/{id}/members/{user_id}/sessions/{session_id}", "delete"),
        ("/api/v1/accounts/{id}/invitations", "post"),
        ("/api/v1/accounts/{id}/invitations", "get"),
        ("/api/v1/accounts/{id}/invitations/{inv}", "delete"),
        ("/api/v1/accounts/{id}/invitations/{inv}/resend", "post"),
        ("/api/v1/invitations/{token}/accept", "post"),
        ("/api/v1/accounts/connect", "post"),
        ("/api/v1/accounts/connect/linkedin-pages/{choice_id}", "get"),
        ("/api/v1/accounts/connect/linkedin-pages/{choice_id}", "post"),
        ("/api/v1/accounts/{id}/check", "post"),
        ("/oauth/{platform}/callback", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
    ];
    for (path, method) in expected {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing from the OpenAPI document"
        );
    }
    // The contract's structure: a description on every response, problem+json for every error
    // documented as a problem, and a security requirement and a 401 wherever a credential is needed.
    let public = [
        "get /invite/{token}",
        "post /invite/{token}",
        "post /api/v1/auth/register",
        "post /api/v1/auth/login",
        "post /api/v1/auth/password-reset",
        "post /api/v1/auth/password-reset/confirm",
        "get /healthz",
        "get /readyz",
        "get /metrics",
    ];
    assert_eq!(doc.body["components"]["securitySchemes"]["bearer"]["scheme"], "bearer");
    assert_eq!(doc.body["components"]["securitySchemes"]["session"]["name"], "steward_session");
    assert!(paths.get("/invite/{token}").and_then(|p| p.get("get")).is_some(), "the invitation page is described");
    for (path, item) in paths {
        for (method, op) in item.as_object().unwrap() {
            let name = format!("{method} {path}");
            let responses = op["responses"].as_object().unwrap();
            for (status, response) in responses {
                assert!(
                    response["description"].as_str().is_some_and(|d| !d.is_empty()),
                    "{name} {status}: no description"
                );
                if status.starts_with('4') || status.starts_with('5') {
                    assert!(
                        response["content"]
                            .get("application/json")
                            .is_none_or(|m| m["schema"]["$ref"] != "#/components/schemas/Problem"),
                        "{name} {status}: a problem documented as application/json"
                    );
                }
            }
            assert!(op["summary"].as_str().is_some_and(|s| !s.is_empty()), "{name}: no summary");
            let security = op["security"].as_array().unwrap_or_else(|| panic!("{name}: no security"));
            if public.contains(&name.as_str()) {
                assert!(security.is_empty(), "{name} is public");
            } else {
                assert!(!security.is_empty(), "{name}: needs a credential but declares no security");
                let unauthorized = &responses["401"];
                assert!(unauthorized["content"]["application/problem+json"].is_object(), "{name}: no 401 problem");
            }
            if op.get("requestBody").is_some() {
                assert!(
                    responses.contains_key("422") && responses.contains_key("413"),
                    "{name}: a body but no 422/413"
                );
            }
        }
    }
    // The upload is the file itself, not an array of numbers.
    let upload = &paths["/api/v1/accounts/{id}/media"]["post"]["requestBody"]["content"];
    assert_eq!(upload["image/png"]["schema"]["format"], "binary", "{upload}");

    // And nothing is served that the document does not describe: every documented path answers
    // something other than the router's 404 fallback.
    for (path, item) in paths {
        for method in item.as_object().unwrap().keys() {
            let concrete = path.replace("{id}", "00000000-0000-0000-0000-000000000000");
            let r = app.req(method.to_uppercase().parse().unwrap(), &concrete).send().await;
            assert!(
                !(r.status == 404
                    && r.body["detail"] == "There is nothing here, or you may not see it."
                    && !path.contains('{')),
                "{method} {path} is documented but not routed"
            );
        }
    }
}
