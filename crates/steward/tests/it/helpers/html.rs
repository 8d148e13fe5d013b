//! The web app over plain HTTP: a client that does not follow redirects, pages, and forms
//! posted with the session cookie.
use super::{Session, TestApp};

/// A browser-like client that does not follow redirects (so 303s can be checked).
pub(crate) fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

pub(crate) fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf_token\" value=\"").expect("a form with a CSRF token");
    let rest = &html[at + "name=\"csrf_token\" value=\"".len()..];
    rest[..rest.find('"').expect("end of value")].to_string()
}

pub(crate) async fn page(app: &TestApp, s: &Session, path: &str) -> (u16, String) {
    let r = browser().get(format!("{}{path}", app.base)).header("cookie", s.cookie()).send().await.expect("get");
    (r.status().as_u16(), r.text().await.expect("body"))
}

pub(crate) async fn post_form(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> (u16, String, String) {
    let r =
        browser().post(format!("{}{path}", app.base)).header("cookie", cookie).form(form).send().await.expect("post");
    let location = r.headers().get("location").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    (r.status().as_u16(), location, r.text().await.expect("body"))
}
