//! Messages, reviews, disputes and notifications through the real binary and its
//! HTML forms, with JavaScript-free browsers. Seeding uses the CLI and the web forms;
//! payments (not built yet) and role grants (the admin pages live on another branch)
//! go through the library's domain API on the same SQLite file.

#[path = "../common/mod.rs"]
mod common;
mod market;

mod disputes;
mod notifications;
mod reviews;
mod threads;
