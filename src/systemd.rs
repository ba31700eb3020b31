//! systemd integration: `READY=1` once serving, `STOPPING=1` on shutdown and
//! watchdog pings. Outside systemd (no `NOTIFY_SOCKET`) every call does nothing.

use std::time::Duration;

use sd_notify::NotifyState;

/// Tells systemd the service is up.
pub fn ready() {
    notify(&[NotifyState::Ready]);
}

/// Tells systemd a clean stop has begun.
pub fn stopping() {
    notify(&[NotifyState::Stopping]);
}

/// Tells systemd the process is still healthy.
pub fn watchdog_ping() {
    notify(&[NotifyState::Watchdog]);
}

/// How often to ping the watchdog: half its timeout, when systemd set one.
pub fn watchdog_period() -> Option<Duration> {
    sd_notify::watchdog_enabled().map(|t| t / 2)
}

fn notify(state: &[NotifyState<'_>]) {
    if std::env::var_os("NOTIFY_SOCKET").is_none() {
        return;
    }
    if let Err(e) = sd_notify::notify(state) {
        tracing::warn!(error = %e, "cannot notify systemd");
    }
}
