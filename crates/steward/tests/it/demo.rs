//! `steward demo` as a newcomer meets it: the real binary, its printed people, their accounts on
//! every platform, posts in every state, activity and an alert; `--empty` starts bare; the
//! audit chain the seeding wrote verifies.
use std::collections::BTreeSet;
use std::process::Stdio;

use serde_json::{Value, json};

use crate::helpers::binary::{BIN, start};

fn http() -> reqwest::Client {
    steward_connectors::http::install_crypto_provider();
    reqwest::Client::new()
}

async fn get(c: &reqwest::Client, url: String, token: &str) -> Value {
    let r = c.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "GET {url}");
    r.json().await.unwrap()
}

async fn sign_in(c: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let r = c
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{email} signs in with the printed password");
    let body: Value = r.json().await.unwrap();
    body["token"].as_str().unwrap().to_string()
}

/// The people the banner prints, one a line: (name, email, password).
fn printed_people(lines: &[String]) -> Vec<(String, String, String)> {
    lines
        .iter()
        .filter(|l| l.contains("@demo.steward.test"))
        .map(|l| {
            let words: Vec<&str> = l.split_whitespace().collect();
            let at = words.iter().position(|w| w.contains('@')).unwrap();
            (words[..at].join(" "), words[at].to_string(), words[at + 1].to_string())
        })
        .collect()
}

fn audit_verify(dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(BIN)
        .args(["admin", "audit", "verify"])
        .env("STEWARD_DATA_DIR", dir)
        .env_remove("STEWARD_DATABASE_URL")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_a_living_team_on_every_platform() {
    let dir = tempfile::tempdir().unwrap();
    let demo = start(&["demo"], dir.path(), &[]).await;
    let people = printed_people(&demo.stdout_lines);
    let names: Vec<&str> = people.iter().map(|p| p.0.as_str()).collect();
    for who in ["Olivia Owner", "Eddie Editor", "Mona Moderator", "Andy Analyst"] {
        assert!(names.contains(&who), "{who} is printed: {:?}", demo.stdout_lines);
    }
    let banner = demo.stdout_lines.join("\n");
    for platform in ["LinkedIn", "TikTok", "Mastodon", "Bluesky"] {
        assert!(banner.contains(&format!("{platform} (local double")), "{banner}");
    }
    let c = http();
    let base = demo.base.clone();
    let mut tokens = Vec::new();
    for (_, email, password) in &people {
        tokens.push((email.clone(), sign_in(&c, &base, email, password).await));
    }
    // The pre-existing owner's sign-in keeps working (Schemathesis uses it).
    let olivia = sign_in(&c, &base, "olivia@demo.steward.test", "olivia-demo-passphrase").await;

    let accounts = get(&c, format!("{base}/api/v1/accounts"), &olivia).await;
    let items = accounts["items"].as_array().unwrap();
    let kinds: BTreeSet<(String, String)> = items
        .iter()
        .map(|a| (a["platform"].as_str().unwrap().to_string(), a["account_kind"].as_str().unwrap().to_string()))
        .collect();
    for platform in ["linkedin", "tiktok", "mastodon", "bluesky"] {
        assert!(kinds.iter().any(|(p, _)| p == platform), "an account on {platform}: {kinds:?}");
    }
    assert!(kinds.contains(&("linkedin".into(), "organization".into())), "a Company Page: {kinds:?}");

    // Posts in every state, a hold among them, and a review thread.
    let mut states = BTreeSet::new();
    let mut held = 0;
    let mut thread = 0;
    for a in items {
        let id = a["id"].as_str().unwrap();
        let posts = get(&c, format!("{base}/api/v1/accounts/{id}/posts"), &olivia).await;
        for p in posts["items"].as_array().unwrap() {
            states.insert(p["state"].as_str().unwrap().to_string());
            if !p["hold_reason"].is_null() {
                held += 1;
            }
            if p["state"] == "in_review" {
                let pid = p["id"].as_str().unwrap();
                let comments = get(&c, format!("{base}/api/v1/posts/{pid}/comments"), &olivia).await;
                thread = comments["items"].as_array().map_or(0, Vec::len);
            }
        }
    }
    for state in ["draft", "in_review", "approved", "scheduled", "published"] {
        assert!(states.contains(state), "a post in {state}: {states:?}");
    }
    assert!(held >= 1, "a held post");
    assert!(thread >= 2, "the post in review has a comment thread");

    let alerts = get(&c, format!("{base}/api/v1/alerts"), &olivia).await;
    assert!(
        alerts["items"].as_array().unwrap().iter().any(|a| a["kind"] == "post_held"),
        "the owner has an alert: {alerts}"
    );
    let member = items.iter().find(|a| a["account_kind"] == "member").unwrap()["id"].as_str().unwrap().to_string();
    let activity = get(&c, format!("{base}/api/v1/accounts/{member}/activity"), &olivia).await;
    assert!(activity["items"].as_array().unwrap().len() >= 5, "activity: {activity}");

    // Every collaborator sees the shared accounts at their first sign-in.
    for (email, token) in &tokens {
        let theirs = get(&c, format!("{base}/api/v1/accounts"), token).await;
        if email.starts_with("tess@") {
            continue;
        }
        assert!(!theirs["items"].as_array().unwrap().is_empty(), "{email} sees accounts");
    }
    demo.terminate().await;

    let ok = audit_verify(dir.path());
    assert!(ok.status.success(), "{}{}", String::from_utf8_lossy(&ok.stdout), String::from_utf8_lossy(&ok.stderr));
    assert!(String::from_utf8_lossy(&ok.stdout).contains("intact"), "{}", String::from_utf8_lossy(&ok.stdout));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_empty_demo_starts_bare() {
    let dir = tempfile::tempdir().unwrap();
    let demo = start(&["demo", "--empty"], dir.path(), &[]).await;
    let people = printed_people(&demo.stdout_lines);
    assert!(people.iter().any(|p| p.1 == "olivia@demo.steward.test"), "{:?}", demo.stdout_lines);
    let c = http();
    let olivia = sign_in(&c, &demo.base, "olivia@demo.steward.test", "olivia-demo-passphrase").await;
    let accounts = get(&c, format!("{}/api/v1/accounts", demo.base), &olivia).await;
    assert_eq!(accounts["items"].as_array().unwrap().len(), 0, "no accounts: {accounts}");
    demo.terminate().await;
}
