//! The composer for several accounts (`/compose`): one text, the accounts to post it on (those
//! where the viewer may write drafts), a copy of the text per account with its platform's limit,
//! and one button that makes one draft per account through `posts::compose::compose_many`
//! (all or none; each draft then has its own review, approvals and rules).
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use steward_app::AppError;
use steward_app::accounts::view::{AccountView, list_accounts};
use steward_app::posts::compose::{ComposeRequest, CopyRequest, compose_many};
use steward_app::posts::drafts::MAX_TEXT_CHARS;
use steward_domain::ids::AccountId;
use steward_domain::platform;
use steward_domain::windows::parse_time_zone;

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::account::platform_name;
use crate::web::html::Html;
use crate::web::time::local_input_to_rfc3339;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};

/// One account the viewer may write on, with its copy's field.
pub struct Choice {
    pub id: AccountId,
    pub name: String,
    pub limit: usize,
    pub count: usize,
    pub checked: bool,
    /// The field of this account's copy (`text_<id>`).
    pub field: String,
    /// A Mastodon account: its copy may carry a content warning (`cw_<id>`).
    pub mastodon: bool,
}

#[derive(Template)]
#[template(path = "compose.html")]
pub(super) struct ComposePage {
    layout: Layout,
    form: Form,
    choices: Vec<Choice>,
    zone_name: String,
    at_label: String,
    idempotency_key: String,
    /// Which copies were refused and why, by account.
    problems: Vec<String>,
}

impl ComposePage {
    fn copy_field(&self, c: &Choice) -> Html {
        self.form.textarea(&c.field, &format!("Text on {}", c.name), 5)
    }

    fn warning_field(&self, c: &Choice) -> Html {
        let label = format!("Content warning on {} (optional): the status is folded behind it", c.name);
        self.form.input(&format!("cw_{}", c.id), &label, "text", "maxlength=\"500\"")
    }
}

fn limit_of(a: &AccountView) -> usize {
    platform::platform(&a.platform).map_or(MAX_TEXT_CHARS, |p| p.max_text_chars.min(MAX_TEXT_CHARS))
}

/// The accounts where the viewer may write drafts now.
async fn writable(state: &AppState, viewer: &Viewer) -> Result<Vec<AccountView>, ApiError> {
    Ok(list_accounts(state, &viewer.principal)
        .await?
        .into_iter()
        .filter(|a| a.my_status == "active" && a.my_capabilities.contains(&"drafts.create"))
        .collect())
}

fn page(viewer: &Viewer, accounts: &[AccountView], form: Form, values: &FormData, key: String) -> ComposePage {
    let chosen = values.all("account");
    let choices = accounts
        .iter()
        .map(|a| Choice {
            name: format!("{} ({})", a.display_name, platform_name(&a.platform)),
            limit: limit_of(a),
            count: platform::text_chars(values.get(&format!("text_{}", a.id)).unwrap_or("")),
            checked: chosen.iter().any(|c| a.id == *c),
            field: format!("text_{}", a.id),
            mastodon: a.platform == "mastodon",
            id: a.id.clone(),
        })
        .collect();
    let zone = values.get("zone").and_then(|z| parse_time_zone(z).ok());
    let zone_name = zone.and_then(|z| z.iana_name().map(str::to_string)).unwrap_or_else(|| "UTC".into());
    ComposePage {
        at_label: format!("Planned time (optional, in {zone_name})"),
        layout: viewer.layout("Write a post for several accounts"),
        form,
        choices,
        zone_name,
        idempotency_key: key,
        problems: Vec::new(),
    }
}

pub async fn compose_page(
    State(state): State<AppState>,
    viewer: Viewer,
    RawQuery(raw): RawQuery,
) -> Result<Response, PageError> {
    let accounts = writable(&state, &viewer).await.or_page(&viewer)?;
    // The hour chosen on the calendar, and the account it showed.
    let mut values = FormData::default();
    for (k, v) in form_urlencoded::parse(raw.as_deref().unwrap_or("").as_bytes()) {
        if matches!(k.as_ref(), "at" | "zone" | "account") {
            values.0.push((k.into_owned(), v.into_owned()));
        }
    }
    if values.get("zone").and_then(|z| parse_time_zone(z).ok()).is_none() {
        values.0.retain(|(k, _)| k != "zone");
        let zone = viewer.tz.as_ref().and_then(|z| z.iana_name()).unwrap_or("UTC").to_string();
        values.0.push(("zone".into(), zone));
    }
    if values.get("at").is_some_and(|at| at.parse::<jiff::civil::DateTime>().is_err()) {
        values.0.retain(|(k, _)| k != "at");
    }
    let form = Form::new("compose", &viewer.csrf).with_values(values.clone());
    let page = page(&viewer, &accounts, form, &values, uuid::Uuid::now_v7().to_string());
    Ok(render(StatusCode::OK, &page))
}

pub async fn compose_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let accounts = writable(&state, &viewer).await.or_page(&viewer)?;
    let text = data.text("text").replace("\r\n", "\n");
    let chosen = data.all("account");
    let zone = parse_time_zone(data.get("zone").unwrap_or("UTC")).unwrap_or(jiff::tz::TimeZone::UTC);
    let planned = data.get("at").filter(|at| !at.trim().is_empty());
    let result = async {
        if chosen.is_empty() {
            return Err(ApiError::validation("account", "choose at least one account"));
        }
        let planned_for = match planned {
            Some(at) => Some(local_input_to_rfc3339(at, &zone).map_err(|m| ApiError::validation("at", m))?),
            None => None,
        };
        let copies = chosen
            .iter()
            .map(|id| CopyRequest {
                account_id: id.clone(),
                // An empty copy takes the common text.
                text: data.get(&format!("text_{id}")).filter(|t| !t.trim().is_empty()).map(|t| t.replace("\r\n", "\n")),
                title: None,
                media: None,
                // Only a Mastodon copy has the field.
                content_warning: data.opt(&format!("cw_{id}")),
            })
            .collect();
        let body =
            ComposeRequest { text: text.clone(), title: data.opt("title"), media: Vec::new(), planned_for, copies };
        let key = data.opt("idempotency_key");
        compose_many(&state, &viewer.ctx(), &viewer.principal, key.as_deref(), body).await.map_err(ApiError)
    }
    .await;
    match result {
        Ok(posts) => {
            let mut pairs = vec![("notice", "composed".to_string()), ("made", posts.len().to_string())];
            if let Some(at) = planned {
                pairs.push(("date", at.get(..10).unwrap_or_default().to_string()));
                pairs.push(("planned", at.to_string()));
            }
            Ok(see_other(&format!("/calendar?{}", serde_urlencoded::to_string(&pairs).unwrap_or_default())))
        }
        Err(e) => {
            let name_of = |id: &str| {
                accounts
                    .iter()
                    .find(|a| a.id == id)
                    .map(|a| format!("{} ({})", a.display_name, platform_name(&a.platform)))
                    .unwrap_or_else(|| "an account you may not write on".into())
            };
            let mut problems = Vec::new();
            // Each chosen account's copy shows the text it was given: its own, else the common one.
            let mut values = FormData::default();
            for (k, v) in &data.0 {
                let empty_copy = k.starts_with("text_") && v.trim().is_empty();
                values.0.push((k.clone(), if empty_copy { text.clone() } else { v.clone() }));
            }
            let mut form = Form::new("compose", &viewer.csrf).with_values(values.clone());
            match &e {
                ApiError(AppError::Validation(fields)) => {
                    for f in fields {
                        // `copies[1].text`: the second chosen account's copy.
                        let copy =
                            f.field.strip_prefix("copies[").and_then(|r| r.split_once(']')).and_then(|(i, rest)| {
                                Some((chosen.get(i.parse::<usize>().ok()?)?, rest.trim_start_matches('.')))
                            });
                        match copy {
                            Some((id, field)) => {
                                let what = match field {
                                    "text" => "the text",
                                    "content_warning" => "the content warning",
                                    other => other,
                                };
                                problems.push(crate::web::capitalize_sentence(&format!(
                                    "{}: {what} {}",
                                    name_of(id.as_str()),
                                    f.message
                                )));
                                if field == "text" {
                                    form = form.field_error(&format!("text_{id}"), &f.message);
                                } else if field == "content_warning" {
                                    form = form.field_error(&format!("cw_{id}"), &f.message);
                                }
                            }
                            None => form = form.field_error(&f.field, &f.message),
                        }
                    }
                }
                other => problems.push(crate::web::sentence(other)),
            }
            let mut p = page(&viewer, &accounts, form, &values, data.text("idempotency_key"));
            p.problems = problems;
            Ok(render_failed(&p, &e))
        }
    }
}
