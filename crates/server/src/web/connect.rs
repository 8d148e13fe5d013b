//! Connecting an account: the sandbox, Bluesky with an app password, and the OAuth platforms
//! (LinkedIn, TikTok, Mastodon) by sending the browser to the platform's consent page.
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use steward_app::AppError;
use steward_domain::ids::{AccountId, PageChoiceId};
use steward_domain::platform::{ConnectMethod, PLATFORMS};

use steward_app::accounts::create::{CreateAccountRequest, create_account};
use steward_app::connect::linkedin_pages::{ChoosePagesRequest, PageChoiceView, choose_pages, page_choice};
use steward_app::connect::oauth::{ConnectRequest, Refusal, start_connect};
use steward_domain::platform;

use crate::error::{ApiError, Query};
use crate::state::AppState;
use crate::web::html::Html;
use crate::web::html::capitalize;
use crate::web::time::zones_datalist;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};
use serde::Deserialize;

pub struct OauthPlatform {
    pub id: &'static str,
    pub name: &'static str,
    pub kinds: Vec<(String, String)>,
    pub needs_instance: bool,
    pub form: Form,
}

#[derive(Template)]
#[template(path = "connect.html")]
struct ConnectPage {
    layout: Layout,
    sandbox: Form,
    bluesky: Form,
    oauth: Vec<OauthPlatform>,
    zones: Html,
    /// Why the last connection through a platform's page connected nothing, in words.
    refused: Option<String>,
}

fn connect_view(viewer: &Viewer) -> ConnectPage {
    let zone = viewer.tz.as_ref().and_then(|z| z.iana_name()).unwrap_or("UTC").to_string();
    ConnectPage {
        layout: viewer.layout("Connect an account"),
        sandbox: Form::new("sandbox", &viewer.csrf).value("time_zone", zone.clone()),
        bluesky: Form::new("bluesky", &viewer.csrf).value("time_zone", zone),
        zones: zones_datalist(),
        refused: None,
        oauth: PLATFORMS
            .iter()
            .filter(|p| p.connect == ConnectMethod::Oauth)
            .map(|p| OauthPlatform {
                id: p.id,
                name: p.name,
                kinds: p.kinds.iter().map(|k| (k.id.to_string(), k.name.to_string())).collect(),
                needs_instance: p.id == "mastodon",
                form: Form::new(p.id, &viewer.csrf),
            })
            .collect(),
    }
}

/// Where the browser goes next to approve the connection on the platform.
#[derive(Template)]
#[template(path = "oauth_continue.html")]
struct ContinuePage {
    layout: Layout,
    platform: String,
    authorize_url: String,
}

/// The connect page's query: after a platform's consent that connected nothing, the callback
/// sends the browser here with the reason's key (never text: a link cannot make the page say
/// anything else).
#[derive(Deserialize)]
pub struct ConnectQuery {
    refused: Option<String>,
    platform: Option<String>,
}

/// Why nothing was connected, in words, for a key the callback sends (`Refusal::as_str`).
#[must_use]
pub fn refusal_words(key: &str, platform: Option<&str>) -> Option<String> {
    let name = platform.and_then(platform::platform).map_or("the platform", |p| p.name);
    let text = match Refusal::ALL.into_iter().find(|r| r.as_str() == key)? {
        Refusal::Cancelled => format!(
            "You cancelled on {name}'s page, or did not allow Steward in, so nothing was connected. Connect again when you are ready."
        ),
        Refusal::Expired => format!(
            "Signing in on {name} took more than 10 minutes, so that attempt was stopped and nothing was connected. Please start again."
        ),
        Refusal::Unusable => format!(
            "The way back from {name} was not valid or was already used, so nothing was connected. Please start again from this page."
        ),
        Refusal::PlatformError => format!(
            "{} could not finish the sign-in and sent back an error, so nothing was connected. Try again in a moment; if it keeps happening, tell whoever runs this Steward server.",
            capitalize(name)
        ),
        Refusal::PlatformRefused => format!(
            "{} did not let Steward finish connecting, so nothing was connected. Try again; if it keeps happening, tell whoever runs this Steward server.",
            capitalize(name)
        ),
        Refusal::OtherIdentity => format!(
            "You signed in on {name} as someone else than the account you were reconnecting, so nothing changed. Sign in as the account itself and try again."
        ),
        Refusal::NotPageAdmin => "The LinkedIn member you signed in as does not administer this Company Page, so nothing changed. Sign in as one of its administrators and try again.".into(),
        Refusal::NoPages => "The LinkedIn member you signed in as administers no Company Page that Steward can connect (an approved administrator role is needed), so nothing was connected.".into(),
    };
    Some(text)
}

pub async fn connect_page(viewer: Viewer, Query(q): Query<ConnectQuery>) -> Response {
    let mut page = connect_view(&viewer);
    page.refused = q.refused.as_deref().and_then(|key| refusal_words(key, q.platform.as_deref()));
    render(StatusCode::OK, &page)
}

/// The sandbox and Bluesky: connected with the credential (sealed at once).
pub async fn connect_credentials(State(state): State<AppState>, viewer: Viewer, data: FormData) -> Response {
    let bluesky = data.get("platform") == Some("bluesky");
    let body = if bluesky {
        let mut credentials = json!({
            "identifier": data.text("identifier"),
            "app_password": data.get("app_password").unwrap_or("").trim(),
        });
        if let Some(service) = data.opt("service") {
            credentials["service"] = json!(service);
        }
        CreateAccountRequest {
            platform: "bluesky".into(),
            account_kind: None,
            // The PDS tells the real handle; the identifier stands in until it answers.
            handle: data.text("identifier"),
            display_name: None,
            time_zone: data.opt("time_zone"),
            credentials,
        }
    } else {
        CreateAccountRequest {
            platform: "sandbox".into(),
            account_kind: None,
            handle: data.text("handle"),
            display_name: data.opt("display_name"),
            time_zone: data.opt("time_zone"),
            credentials: json!({ "sandbox": true }),
        }
    };
    match create_account(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(view) => see_other(&format!("/accounts/{}?notice=connected", view.id)),
        Err(e) => {
            let mut page = connect_view(&viewer);
            let form =
                Form::new(if bluesky { "bluesky" } else { "sandbox" }, &viewer.csrf).with_values(data).failed(&e);
            if bluesky {
                page.bluesky = form;
            } else {
                page.sandbox = form;
            }
            render_failed(&page, &e)
        }
    }
}

/// OAuth platforms: start the flow and send the browser on to the platform (or reconnect one).
/// The answer is a page with the link to follow, not a redirect: a form may only send the
/// browser to Steward itself (`form-action 'self'`), which a browser also applies to redirects.
pub async fn connect_oauth(
    State(state): State<AppState>,
    viewer: Viewer,
    data: FormData,
) -> Result<Response, PageError> {
    let body = ConnectRequest {
        platform: data.text("platform"),
        account_kind: data.opt("account_kind"),
        instance_url: data.opt("instance_url"),
        account_id: data.opt("account_id"),
    };
    let platform = body.platform.clone();
    let reconnecting = body.account_id.clone();
    // The web app signs in with sessions only, which the platform's callback comes back to.
    match start_connect(&state, &viewer.ctx(), &viewer.principal, body).await.map_err(ApiError) {
        Ok(r) => {
            let name = PLATFORMS.iter().find(|p| p.id == platform).map_or(platform.as_str(), |p| p.name);
            let page = ContinuePage {
                layout: viewer.layout(format!("Continue on {name}")),
                platform: name.to_string(),
                authorize_url: r.authorize_url,
            };
            Ok(render(StatusCode::OK, &page))
        }
        Err(e @ (ApiError(AppError::NotFound) | ApiError(AppError::NotFoundDenied(_)))) => {
            Err(PageError::new(Some(&viewer), e))
        }
        Err(e) if reconnecting.is_some() => Err(PageError::new(Some(&viewer), e)),
        Err(e) => {
            let mut page = connect_view(&viewer);
            for p in &mut page.oauth {
                if p.id == platform {
                    p.form = Form::new(p.id, &viewer.csrf).with_values(data.clone()).failed(&e);
                }
            }
            Ok(render_failed(&page, &e))
        }
    }
}

/// LinkedIn Company Pages: after signing in on LinkedIn, the owner picks which of the pages
/// they administer to connect (the callback sends the browser here).
#[derive(Template)]
#[template(path = "linkedin_pages.html")]
struct PagesPage {
    layout: Layout,
    choice_id: PageChoiceId,
    member: String,
    form: Form,
    /// (organization URN, page name) of the pages that can be chosen.
    options: Vec<(String, String)>,
    /// (page name, account id) of the pages connected already.
    connected: Vec<(String, AccountId)>,
}

fn pages_view(viewer: &Viewer, choice: PageChoiceView, form: Form) -> PagesPage {
    let mut options = Vec::new();
    let mut connected = Vec::new();
    for item in choice.pages {
        let label = match &item.page.vanity_name {
            Some(v) => format!("{} (linkedin.com/company/{v})", item.page.name),
            None => item.page.name.clone(),
        };
        match item.connected_account_id {
            Some(id) => connected.push((item.page.name, id)),
            None => options.push((item.page.organization, label)),
        }
    }
    PagesPage {
        layout: viewer.layout("Choose your LinkedIn pages"),
        choice_id: choice.id,
        member: choice.member,
        form,
        options,
        connected,
    }
}

pub async fn pages_page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(choice_id): Path<PageChoiceId>,
) -> Result<Response, PageError> {
    let choice = page_choice(&state, &viewer.ctx(), &viewer.principal, &choice_id).await.or_page(&viewer)?;
    let zone = viewer.tz.as_ref().and_then(|z| z.iana_name()).unwrap_or("UTC").to_string();
    let form = Form::new("pages", &viewer.csrf).value("time_zone", zone);
    Ok(render(StatusCode::OK, &pages_view(&viewer, choice, form)))
}

pub async fn pages_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(choice_id): Path<PageChoiceId>,
    data: FormData,
) -> Result<Response, PageError> {
    let input = ChoosePagesRequest { organizations: data.all("organizations"), time_zone: data.opt("time_zone") };
    match choose_pages(&state, &viewer.ctx(), &viewer.principal, &choice_id, input).await.map_err(ApiError) {
        Ok(chosen) => Ok(match chosen.items.as_slice() {
            [one] => see_other(&format!("/accounts/{}?notice=connected", one.id)),
            _ => see_other("/?notice=connected"),
        }),
        Err(e @ ApiError(AppError::Validation(_))) => {
            let choice = page_choice(&state, &viewer.ctx(), &viewer.principal, &choice_id).await.or_page(&viewer)?;
            let form = Form::new("pages", &viewer.csrf).with_values(data).failed(&e);
            Ok(render_failed(&pages_view(&viewer, choice, form), &e))
        }
        Err(e) => Err(PageError::new(Some(&viewer), e)),
    }
}
