//! The HTTP limit of this machine for the ingest benchmark: an axum handler
//! that answers the seed's sword purchase with the same body as pipec, on
//! the same tokio runtime, but sends nothing to Kafka.
//!
//! Usage: bare_http ADDRESS   (e.g. 127.0.0.1:5101)

use axum::routing::get;
use axum::Router;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let address = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:5101".to_string());
    let app = Router::new().route("/purchase_a_sword", get(|| async { "Sword Purchased!\n" }));
    let listener = tokio::net::TcpListener::bind(&address).await?;
    eprintln!("bare_http listening on {address}");
    axum::serve(listener, app).await
}
