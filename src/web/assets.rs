//! Static files embedded from `assets/static/`, served with their content type, an
//! ETag and a cache lifetime.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use super::WebError;

#[derive(RustEmbed)]
#[folder = "assets/static/"]
struct Static;

/// `GET /static/{*path}`.
pub async fn serve(Path(path): Path<String>, req_headers: HeaderMap) -> Result<Response, WebError> {
    let file = Static::get(&path).ok_or(WebError::NotFound)?;
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..12]));
    let not_modified = req_headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let headers = res.headers_mut();
    let mime = file.metadata.mimetype();
    let mime = if mime.starts_with("text/") && !mime.contains("charset") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    if let Ok(v) = HeaderValue::from_str(&mime) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=86400"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, v);
    }
    Ok(res)
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
