//! Registration, sign-in and out, password recovery, and the account pages.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;

use super::chrome::{Chrome, render, render_status};
use super::forms::Submitted;
use super::session::{CurrentViewer, FORM_COOKIE, SESSION_COOKIE, SignedIn, cookie, set_cookie};
use super::{AppState, WebError};
use crate::market::auth::{self, Role, SESSION_IDLE_SECS};
use crate::market::{MarketError, accounts};

#[derive(Template)]
#[template(path = "register.html")]
struct RegisterPage {
    chrome: Chrome,
    message: String,
    username: String,
}

#[derive(Template)]
#[template(path = "codes.html")]
struct CodesPage {
    chrome: Chrome,
    codes: Vec<String>,
    next: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    chrome: Chrome,
    message: String,
    username: String,
    next: String,
}

#[derive(Template)]
#[template(path = "recover.html")]
struct RecoverPage {
    chrome: Chrome,
    message: String,
    username: String,
}

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    message: String,
    username: String,
    roles: Vec<String>,
    totp: bool,
    is_vendor: bool,
    pgp: String,
    application: Option<crate::store::accounts::Application>,
    can_apply: bool,
    open_signup: bool,
}

#[derive(Template)]
#[template(path = "sessions.html")]
struct SessionsPage {
    chrome: Chrome,
    sessions: Vec<crate::store::sessions::SessionInfo>,
}

crate::page!(
    RegisterPage,
    CodesPage,
    LoginPage,
    RecoverPage,
    AccountPage,
    SessionsPage
);

/// A local path to go back to after signing in (never another site).
fn safe_next(next: &str) -> String {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && next.len() < 200;
    if ok { next.to_owned() } else { "/".to_owned() }
}

/// Signs the browser in: a fresh session cookie, replacing any anonymous one.
fn with_session(mut res: Response, token: &str, secure: bool) -> Response {
    let h = res.headers_mut();
    h.append(
        header::SET_COOKIE,
        set_cookie(SESSION_COOKIE, token, secure, Some(SESSION_IDLE_SECS)),
    );
    h.append(
        header::SET_COOKIE,
        set_cookie(FORM_COOKIE, "", secure, Some(0)),
    );
    res
}

/// Status and message for a failed form, shown on the form again.
pub(super) fn form_error(e: MarketError) -> Result<(StatusCode, String, Option<u64>), WebError> {
    match e {
        MarketError::Invalid(m) => Ok((StatusCode::UNPROCESSABLE_ENTITY, m, None)),
        MarketError::Conflict(m) => Ok((StatusCode::CONFLICT, m, None)),
        MarketError::Throttled { retry_after_secs } => Ok((
            StatusCode::TOO_MANY_REQUESTS,
            format!("Too many attempts. Try again in {retry_after_secs} s."),
            Some(retry_after_secs),
        )),
        other => Err(other.into()),
    }
}

fn with_retry_after(mut res: Response, secs: Option<u64>) -> Response {
    if let Some(s) = secs
        && let Ok(v) = s.to_string().parse()
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// `GET /register`.
pub async fn register_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<CurrentViewer>,
) -> Result<Response, WebError> {
    if viewer.is_some() {
        return Ok(Redirect::to("/account").into_response());
    }
    render(&RegisterPage {
        chrome: Chrome::new(&state, &headers, None),
        message: String::new(),
        username: String::new(),
    })
}

/// The registration form.
#[derive(Deserialize)]
pub struct RegisterForm {
    username: String,
    password: String,
    password2: String,
}

/// `POST /register`: creates the account, signs in, shows the recovery codes once.
pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    Submitted(f): Submitted<RegisterForm>,
) -> Result<Response, WebError> {
    let result = if f.password != f.password2 {
        Err(MarketError::Invalid(
            "The two passwords differ: type the same password twice.".to_owned(),
        ))
    } else {
        accounts::register(&state.db, f.username.trim(), &f.password).await
    };
    match result {
        Ok(reg) => {
            let token = auth::start_session(&state.db, reg.account_id).await?;
            let page = CodesPage {
                chrome: Chrome::anonymous(&state.config.shop.name),
                codes: reg.recovery_codes,
                next: "/account".to_owned(),
            };
            Ok(with_session(
                render(&page)?,
                &token,
                state.config.market.cookie_secure,
            ))
        }
        Err(e) => {
            let (status, message, _) = form_error(e)?;
            render_status(
                &RegisterPage {
                    chrome: Chrome::new(&state, &headers, None),
                    message,
                    username: f.username,
                },
                status,
            )
        }
    }
}

/// `?next=` on the sign-in page.
#[derive(Deserialize, Default)]
#[serde(default)]
pub struct NextParam {
    next: String,
}

/// `GET /login`.
pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    viewer: Option<CurrentViewer>,
    Query(p): Query<NextParam>,
) -> Result<Response, WebError> {
    if viewer.is_some() {
        return Ok(Redirect::to(&safe_next(&p.next)).into_response());
    }
    render(&LoginPage {
        chrome: Chrome::new(&state, &headers, None),
        message: String::new(),
        username: String::new(),
        next: safe_next(&p.next),
    })
}

/// The sign-in form.
#[derive(Deserialize)]
pub struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    code: String,
    #[serde(default)]
    next: String,
}

/// `POST /login`.
pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Submitted(f): Submitted<LoginForm>,
) -> Result<Response, WebError> {
    let jar = cookie(&headers, FORM_COOKIE).unwrap_or_default();
    match accounts::sign_in(&state.db, &f.username, &f.password, &f.code, &jar).await {
        Ok(id) => {
            let token = auth::start_session(&state.db, id).await?;
            let res = Redirect::to(&safe_next(&f.next)).into_response();
            Ok(with_session(res, &token, state.config.market.cookie_secure))
        }
        Err(e) => {
            let (status, message, retry) = form_error(e)?;
            let res = render_status(
                &LoginPage {
                    chrome: Chrome::new(&state, &headers, None),
                    message,
                    username: f.username,
                    next: safe_next(&f.next),
                },
                status,
            )?;
            Ok(with_retry_after(res, retry))
        }
    }
}

/// The empty form of buttons.
#[derive(Deserialize)]
pub struct Empty {}

/// `POST /logout`.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
    Submitted(_): Submitted<Empty>,
) -> Result<Response, WebError> {
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        auth::end_session(&state.db, &token).await?;
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            "",
            state.config.market.cookie_secure,
            Some(0),
        ),
    );
    Ok(res)
}

/// `GET /recover`.
pub async fn recover_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    render(&RecoverPage {
        chrome: Chrome::new(&state, &headers, None),
        message: String::new(),
        username: String::new(),
    })
}

/// The recovery form.
#[derive(Deserialize)]
pub struct RecoverForm {
    username: String,
    code: String,
    password: String,
}

/// `POST /recover`.
pub async fn recover(
    State(state): State<AppState>,
    headers: HeaderMap,
    Submitted(f): Submitted<RecoverForm>,
) -> Result<Response, WebError> {
    let jar = cookie(&headers, FORM_COOKIE).unwrap_or_default();
    match accounts::reset_with_recovery_code(&state.db, &f.username, &f.code, &f.password, &jar)
        .await
    {
        Ok(fresh) => match fresh {
            Some(codes) => render(&CodesPage {
                chrome: Chrome::anonymous(&state.config.shop.name),
                codes,
                next: "/login".to_owned(),
            }),
            None => Ok(Redirect::to("/login").into_response()),
        },
        Err(e) => {
            let (status, message, retry) = form_error(e)?;
            let res = render_status(
                &RecoverPage {
                    chrome: Chrome::new(&state, &headers, None),
                    message,
                    username: f.username,
                },
                status,
            )?;
            Ok(with_retry_after(res, retry))
        }
    }
}

async fn account_page(
    state: &AppState,
    headers: &HeaderMap,
    v: &auth::Viewer,
    message: String,
    status: StatusCode,
) -> Result<Response, WebError> {
    let application = accounts::latest_application(&state.db, v).await?;
    let pending = application.as_ref().is_some_and(|a| a.state == "pending");
    render_status(
        &AccountPage {
            chrome: Chrome::new(state, headers, Some(v)),
            message,
            username: v.username.clone(),
            roles: v.roles().iter().map(|r| r.to_string()).collect(),
            totp: accounts::totp_enabled(&state.db, v).await?,
            is_vendor: v.has(Role::Vendor),
            pgp: accounts::pgp_key(&state.db, v).await?.unwrap_or_default(),
            application,
            can_apply: !pending,
            open_signup: state.config.market.open_vendor_signup,
        },
        status,
    )
}

/// `GET /account`.
pub async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    account_page(&state, &headers, &v, String::new(), StatusCode::OK).await
}

/// Runs an account action and shows the account page with its outcome.
async fn account_result(
    state: &AppState,
    headers: &HeaderMap,
    v: &auth::Viewer,
    result: Result<(), MarketError>,
    done: &str,
) -> Result<Response, WebError> {
    match result {
        Ok(()) => account_page(state, headers, v, done.to_owned(), StatusCode::OK).await,
        Err(e) => {
            let (status, message, _) = form_error(e)?;
            account_page(state, headers, v, message, status).await
        }
    }
}

/// The password form.
#[derive(Deserialize)]
pub struct PasswordForm {
    current: String,
    new: String,
}

/// `POST /account/password`.
pub async fn change_password(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<PasswordForm>,
) -> Result<Response, WebError> {
    let r = accounts::change_password(&state.db, &v, &f.current, &f.new).await;
    account_result(
        &state,
        &headers,
        &v,
        r,
        "Password changed. Your other sessions have ended.",
    )
    .await
}

/// The PGP key form.
#[derive(Deserialize)]
pub struct PgpForm {
    pgp: String,
}

/// `POST /account/pgp`.
pub async fn set_pgp(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<PgpForm>,
) -> Result<Response, WebError> {
    let vendor = v.vendor()?;
    let r = accounts::set_pgp_key(&state.db, &vendor, &f.pgp).await;
    account_result(&state, &headers, &v, r, "Key saved.").await
}

/// The vendor application form.
#[derive(Deserialize)]
pub struct ApplicationForm {
    #[serde(default)]
    statement: String,
}

/// `POST /account/vendor-application`.
pub async fn apply_vendor(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
    Submitted(f): Submitted<ApplicationForm>,
) -> Result<Response, WebError> {
    let open = state.config.market.open_vendor_signup;
    match accounts::apply_as_vendor(&state.db, &v, &f.statement, open).await {
        Ok(()) if open => Ok(Redirect::to("/sell").into_response()),
        r => {
            account_result(
                &state,
                &headers,
                &v,
                r,
                "Application sent: an admin will decide.",
            )
            .await
        }
    }
}

/// `GET /account/sessions`.
pub async fn sessions(
    State(state): State<AppState>,
    headers: HeaderMap,
    SignedIn(v): SignedIn,
) -> Result<Response, WebError> {
    let current = cookie(&headers, SESSION_COOKIE).unwrap_or_default();
    render(&SessionsPage {
        sessions: auth::list_sessions(&state.db, &v, &current).await?,
        chrome: Chrome::new(&state, &headers, Some(&v)),
    })
}

/// `POST /account/sessions/end-all`: ends every session, this one included.
pub async fn end_all(
    State(state): State<AppState>,
    SignedIn(v): SignedIn,
    Submitted(_): Submitted<Empty>,
) -> Result<Response, WebError> {
    auth::end_all_sessions(&state.db, &v).await?;
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(
            SESSION_COOKIE,
            "",
            state.config.market.cookie_secure,
            Some(0),
        ),
    );
    Ok(res)
}
