//! Uploaded media: a tiny image, and an upload through the API as a member makes it.
use super::{Session, TestApp};

/// A 1×1 PNG.
#[must_use]
pub fn png() -> Vec<u8> {
    let b64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==";
    base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap()
}

/// Uploads `bytes` to the account's media as `s`; answers the upload's URL.
pub async fn upload(app: &TestApp, s: &Session, account: &str, content_type: &str, bytes: Vec<u8>) -> String {
    let r = app.post(&format!("/api/v1/accounts/{account}/media")).auth(s).body(content_type, bytes).send().await;
    assert_eq!(r.status, 201, "{}", r.text);
    r.body["url"].as_str().unwrap().to_string()
}
