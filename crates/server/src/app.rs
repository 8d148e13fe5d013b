//! Assembles the server: state, router, background work, and serving with graceful shutdown.
use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::routing::get;
use steward_store::Store;
use tokio::net::TcpListener;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;
use crate::{api, worker};
use steward_app::clock::Clock;
use steward_app::config::{Settings, redact_url};
use steward_app::crypto::MasterKey;

use crate::request::BODY_LIMIT;

#[derive(OpenApi)]
#[openapi(
    info(title = "Steward API", description = "Share the work on a social media account, never the password. Contract: API.md."),
    components(schemas(crate::error::Problem, crate::error::FieldErrorDoc)),
    tags((name = "identity"), (name = "me"), (name = "accounts"), (name = "members"), (name = "posts"), (name = "operations"), (name = "alerts"), (name = "notifications"))
)]
struct ApiDoc;

pub struct App {
    pub state: AppState,
    router: Router,
}

impl App {
    /// Opens the database (migrating it), loads the master key and builds the router.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::default()).await
    }

    pub async fn build_with_clock(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        // The routes first, before anything that stays: making them builds and drops the API's
        // description (about 3 MiB), and the memory it frees is then reused by what follows
        // rather than left as holes under it (BENCHMARKS.md, "Less code and fewer holes").
        let routes = routes();
        if settings.database_url.starts_with("sqlite:") {
            std::fs::create_dir_all(&settings.data_dir).map_err(|e| {
                anyhow::anyhow!(
                    "cannot create the data directory {}: {e}; create it (writable by this user) or set STEWARD_DATA_DIR",
                    settings.data_dir.display()
                )
            })?;
        }
        steward_app::files::check_master_key_file(&settings.master_key)?;
        steward_app::files::tighten(&settings)?;
        // The database first: one that cannot be reached stops start-up before a key file is created.
        // Without mail, alerts queue no email deliveries at all (rather than one given up per alert).
        let store = Store::open(&settings.database_url).await?.with_email_deliveries(settings.mail_enabled());
        let master = MasterKey::load(&settings.master_key)?;
        tracing::info!(database = %redact_url(&settings.database_url), "database ready");
        let state = AppState::new(settings, store, &master, clock)?;
        let router = with_state(routes, state.clone());
        Ok(Self { state, router })
    }

    pub fn router(&self) -> Router {
        self.router.clone()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let services = self.state.services().clone();
        // PostgreSQL: this replica's read cache, kept in step with the others (a no-op on SQLite).
        self.state.store.start_replica_sync();
        let housekeeping = tokio::spawn(worker::housekeeping::run(services.clone()));
        let sweeper = tokio::spawn(worker::sweeper::run(services.clone()));
        let scheduler = tokio::spawn(worker::publishing::run(services.clone()));
        let deliveries = tokio::spawn(worker::deliveries::run(services.clone()));
        let notifications = tokio::spawn(worker::notifications::run(services.clone()));
        let anchored = steward_app::audit_verify::start_up(&services).await;
        let anchor = tokio::spawn(worker::anchor::run(services, anchored));
        let result = axum::serve(listener, self.router.into_make_service_with_connect_info::<SocketAddr>())
            .with_graceful_shutdown(shutdown)
            .await;
        housekeeping.abort();
        sweeper.abort();
        scheduler.abort();
        deliveries.abort();
        notifications.abort();
        anchor.abort();
        self.state.store.close().await;
        result
    }
}

/// The OpenAPI document: generated from the handlers' annotations, finished by
/// [`crate::openapi::finish`] with what holds for every operation.
#[must_use]
pub fn openapi() -> serde_json::Value {
    finished(&api_router().into_openapi())
}

fn finished(api: &utoipa::openapi::OpenApi) -> serde_json::Value {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|_| serde_json::json!({}));
    crate::openapi::finish(&mut doc);
    doc
}

fn api_router() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .nest(
            "/api/v1",
            OpenApiRouter::new()
                .merge(api::identity::router())
                .merge(api::me::router())
                .merge(api::accounts::router())
                .merge(api::members::router())
                .merge(api::engagement::router())
                .merge(api::posts::router())
                .merge(api::connect::api_router())
                .merge(api::activity::router())
                .merge(api::alerts::router())
                .merge(api::notifications::router())
                .merge(api::lockdown::router()),
        )
        .merge(api::connect::callback_router())
        .merge(api::ops::router())
}

/// Every route, without the state (which needs the database).
fn routes() -> Router<AppState> {
    let (router, _) = api_router().split_for_parts();
    // The document is made when first asked for, not at start: it lists every time zone, and
    // making it touches code and memory (about 2 MiB) an idle server has no use for.
    let api_json: std::sync::Arc<std::sync::OnceLock<axum::body::Bytes>> = std::sync::Arc::default();
    router
        .route(
            "/api/openapi.json",
            get(move || {
                let body = api_json.get_or_init(|| openapi().to_string().into()).clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .merge(crate::web::router())
        .fallback(api::ops::not_found)
        .method_not_allowed_fallback(api::ops::method_not_allowed)
}

fn with_state(routes: Router<AppState>, state: AppState) -> Router {
    // Every layer added with `Router::layer` wraps each route in one more boxed service, and a
    // request pays for every box (an allocation and a copy of the future each): so what holds
    // for every request (the size check, the response headers, metrics and the log line) is
    // one middleware, `request::middleware`, and only the body limit is a layer of its own.
    routes
        .layer(axum::middleware::from_fn_with_state(state.clone(), crate::request::middleware))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed when this is called, not
/// when it is first awaited: a SIGTERM that arrives right after start-up (after the address is
/// announced, before serving begins) still shuts down gracefully instead of killing the process.
pub fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        #[cfg(unix)]
        let term = async move {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutting down: finishing requests in flight");
    }
}
