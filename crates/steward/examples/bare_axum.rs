//! The reference for `bench/http.sh`: a bare axum server (the same axum and tokio as Steward,
//! no middleware, no database) answering `GET /` with a short body. Steward's endpoints are
//! measured as a share of what this serves in the same run on the same machine.
//!
//!     cargo build --release -p steward --example bare_axum
//!     target/release/examples/bare_axum 127.0.0.1:8090
#![allow(clippy::expect_used)]

#[tokio::main]
async fn main() {
    let addr = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".to_string());
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = tokio::net::TcpListener::bind(&addr).await.expect("bind the address given");
    println!("bare axum listening on http://{addr}");
    axum::serve(listener, app).await.expect("serve");
}
