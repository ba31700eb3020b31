//! `souk bench-serve FILE --listen ADDR` (hidden): serves FILE's bytes from memory
//! at every path, through the shop's own layers (security headers, error pages,
//! request ids, metrics, timeout) and the same HTTP server. bench/catalogue.sh
//! measures the real catalogue against this baseline, in the same run.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::routing::get;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::store::Db;
use crate::telemetry::metrics::Metrics;
use crate::web::{self, AppState};

/// Serves `file` on `listen` until SIGTERM or SIGINT.
pub async fn run(file: &Path, listen: SocketAddr) -> Result<(), Vec<String>> {
    let page = Bytes::from(
        std::fs::read(file).map_err(|e| vec![format!("cannot read {}: {e}", file.display())])?,
    );
    // The state the layers need: a throw-away database, the default config and a
    // real metrics recorder (the shop pays for metrics on every request too).
    let temp = super::TempDir::create().map_err(|e| vec![e])?;
    let path = temp.0.join("souk.db");
    let (db, _) = tokio::task::spawn_blocking(move || Db::open(&path))
        .await
        .map_err(|e| vec![e.to_string()])?
        .map_err(|e| vec![e.to_string()])?;
    let config = Config {
        data_dir: temp.0.clone(),
        ..Config::default()
    };
    let metrics = Metrics::install().map_err(|e| vec![e])?;
    let state = AppState::new(db, Arc::new(config), metrics, None);
    let answer = move || {
        let page = page.clone();
        async move { ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page) }
    };
    let routes = Router::new()
        .route("/", get(answer.clone()))
        .route("/{*path}", get(answer));
    let router = web::with_shop_layers(routes, state);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| vec![format!("bench-serve: cannot listen on {listen}: {e}")])?;
    let stop = CancellationToken::new();
    let stopper = stop.clone();
    tokio::spawn(async move {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut term), Ok(mut int)) = (
            signal(SignalKind::terminate()),
            signal(SignalKind::interrupt()),
        ) else {
            return;
        };
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        stopper.cancel();
    });
    crate::net::serve(crate::net::Bound::Tcp(listener), router, stop)
        .await
        .map_err(|e| vec![format!("bench-serve: {e}")])
}
