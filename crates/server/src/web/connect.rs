//! Connecting an account: the sandbox, Bluesky with an app password, and the OAuth platforms
//! (LinkedIn, TikTok, Mastodon) by sending the browser to the platform's consent page.
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;
use steward_app::AppError;
use steward_domain::platform::{ConnectMethod, PLATFORMS};

use steward_app::accounts::create::{CreateAccountRequest, create_account};
use steward_app::connect::linkedin_pages::{ChoosePagesRequest, PageChoiceView, choose_pages, page_choice};
use steward_app::connect::oauth::{ConnectRequest, start_connect};

use crate::error::ApiError;
use crate::state::AppState;
use crate::web::html::Html;
use crate::web::time::zones_datalist;
use crate::web::{Form, FormData, Layout, OrPage, PageError, Viewer, render, render_failed, see_other};

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
}

fn connect_view(viewer: &Viewer) -> ConnectPage {
    let zone = viewer.tz.as_ref().and_then(|z| z.iana_name()).unwrap_or("UTC").to_string();
    ConnectPage {
        layout: viewer.layout("Connect an account"),
        sandbox: Form::new("sandbox", &viewer.csrf).value("time_zone", zone.clone()),
        bluesky: Form::new("bluesky", &viewer.csrf).value("time_zone", zone),
        zones: zones_datalist(),
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

pub async fn connect_page(viewer: Viewer) -> Response {
    render(StatusCode::OK, &connect_view(&viewer))
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
    choice_id: String,
    member: String,
    form: Form,
    /// (organization URN, page name) of the pages that can be chosen.
    options: Vec<(String, String)>,
    /// (page name, account id) of the pages connected already.
    connected: Vec<(String, String)>,
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
    Path(choice_id): Path<String>,
) -> Result<Response, PageError> {
    let choice = page_choice(&state, &viewer.ctx(), &viewer.principal, &choice_id).await.or_page(&viewer)?;
    let zone = viewer.tz.as_ref().and_then(|z| z.iana_name()).unwrap_or("UTC").to_string();
    let form = Form::new("pages", &viewer.csrf).value("time_zone", zone);
    Ok(render(StatusCode::OK, &pages_view(&viewer, choice, form)))
}

pub async fn pages_submit(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(choice_id): Path<String>,
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
