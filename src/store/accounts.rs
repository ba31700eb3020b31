//! Accounts, roles, recovery codes, vendor applications and login throttling.

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::StoreError;

/// What login needs to know about an account.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Account id.
    pub id: i64,
    /// Argon2 PHC string.
    pub password_hash: String,
    /// `active`, `suspended` or `banned`.
    pub status: String,
    /// Why suspended or banned.
    pub status_reason: Option<String>,
    /// Base32 TOTP secret when two-factor is on.
    pub totp_secret: Option<String>,
    /// Last TOTP time step accepted (replay protection).
    pub totp_last_step: i64,
    /// Consecutive failed logins.
    pub failed_logins: i64,
    /// No login before this time.
    pub locked_until: i64,
}

/// Creates an account; `None` when the username is taken.
pub fn insert(
    tx: &Transaction<'_>,
    username: &str,
    password_hash: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let inserted = tx.execute(
        "INSERT INTO accounts (username, password_hash, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (username) DO NOTHING",
        params![username, password_hash, now],
    )?;
    Ok((inserted == 1).then(|| tx.last_insert_rowid()))
}

/// Credentials by username (case-insensitive).
pub fn credentials_by_name(
    c: &Connection,
    username: &str,
) -> Result<Option<Credentials>, StoreError> {
    credentials_where(c, "username = ?1", &username)
}

/// Credentials by id.
pub fn credentials_by_id(c: &Connection, id: i64) -> Result<Option<Credentials>, StoreError> {
    credentials_where(c, "id = ?1", &id)
}

fn credentials_where(
    c: &Connection,
    cond: &str,
    arg: &dyn rusqlite::ToSql,
) -> Result<Option<Credentials>, StoreError> {
    let sql = format!(
        "SELECT id, password_hash, status, status_reason, totp_secret, totp_last_step, failed_logins, locked_until
         FROM accounts WHERE {cond}"
    );
    Ok(c.query_row(&sql, [arg], |r| {
        Ok(Credentials {
            id: r.get(0)?,
            password_hash: r.get(1)?,
            status: r.get(2)?,
            status_reason: r.get(3)?,
            totp_secret: r.get(4)?,
            totp_last_step: r.get(5)?,
            failed_logins: r.get(6)?,
            locked_until: r.get(7)?,
        })
    })
    .optional()?)
}

/// Username of an account.
pub fn username(c: &Connection, id: i64) -> Result<Option<String>, StoreError> {
    Ok(
        c.query_row("SELECT username FROM accounts WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .optional()?,
    )
}

/// Account id by username.
pub fn id_by_name(c: &Connection, username: &str) -> Result<Option<i64>, StoreError> {
    Ok(c.query_row(
        "SELECT id FROM accounts WHERE username = ?1",
        [username],
        |r| r.get(0),
    )
    .optional()?)
}

/// Records a failed login on the account.
pub fn record_failure(
    c: &Connection,
    id: i64,
    failed: i64,
    locked_until: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE accounts SET failed_logins = ?2, locked_until = ?3 WHERE id = ?1",
        params![id, failed, locked_until],
    )?;
    Ok(())
}

/// Clears failures after a good login and records the TOTP step used, if any.
pub fn record_success(c: &Connection, id: i64, totp_step: Option<i64>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE accounts SET failed_logins = 0, locked_until = 0,
                totp_last_step = coalesce(?2, totp_last_step)
         WHERE id = ?1",
        params![id, totp_step],
    )?;
    Ok(())
}

/// Replaces the password hash.
pub fn set_password(c: &Connection, id: i64, hash: &str) -> Result<(), StoreError> {
    c.execute(
        "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
        params![id, hash],
    )?;
    Ok(())
}

/// Turns two-factor on (Some) or off (None).
pub fn set_totp(
    c: &Connection,
    id: i64,
    secret: Option<&str>,
    step: i64,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE accounts SET totp_secret = ?2, totp_last_step = ?3 WHERE id = ?1",
        params![id, secret, step],
    )?;
    Ok(())
}

/// Sets the account status (`active`, `suspended`, `banned`) and the reason.
pub fn set_status(
    c: &Connection,
    id: i64,
    status: &str,
    reason: Option<&str>,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE accounts SET status = ?2, status_reason = ?3 WHERE id = ?1",
        params![id, status, reason],
    )? == 1)
}

/// Sets the vendor's public PGP key (None removes it).
pub fn set_pgp_key(c: &Connection, id: i64, key: Option<&str>) -> Result<(), StoreError> {
    c.execute(
        "UPDATE accounts SET pgp_key = ?2 WHERE id = ?1",
        params![id, key],
    )?;
    Ok(())
}

/// Stores fresh recovery code hashes, replacing the old ones.
pub fn replace_recovery_codes(
    c: &Connection,
    id: i64,
    hashes: &[Vec<u8>],
) -> Result<(), StoreError> {
    c.execute("DELETE FROM recovery_codes WHERE account_id = ?1", [id])?;
    let mut stmt =
        c.prepare("INSERT INTO recovery_codes (account_id, code_hash) VALUES (?1, ?2)")?;
    for h in hashes {
        stmt.execute(params![id, h])?;
    }
    Ok(())
}

/// Marks an unused recovery code used; false when there was none such.
pub fn use_recovery_code(
    c: &Connection,
    id: i64,
    hash: &[u8],
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "UPDATE recovery_codes SET used_at = ?3 WHERE account_id = ?1 AND code_hash = ?2 AND used_at IS NULL",
        params![id, hash, now],
    )? == 1)
}

/// Unused recovery codes left.
pub fn recovery_codes_left(c: &Connection, id: i64) -> Result<i64, StoreError> {
    Ok(c.query_row(
        "SELECT count(*) FROM recovery_codes WHERE account_id = ?1 AND used_at IS NULL",
        [id],
        |r| r.get(0),
    )?)
}

/// Grants a role (idempotent).
pub fn grant_role(
    c: &Connection,
    id: i64,
    role: &str,
    by: Option<i64>,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO account_roles (account_id, role, granted_by, granted_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT DO NOTHING",
        params![id, role, by, now],
    )?;
    Ok(())
}

/// Accounts holding a role, active ones only (for notifying every arbiter).
pub fn with_role(c: &Connection, role: &str) -> Result<Vec<i64>, StoreError> {
    let mut st = c.prepare_cached(
        "SELECT r.account_id FROM account_roles r JOIN accounts a ON a.id = r.account_id
         WHERE r.role = ?1 AND a.status = 'active' ORDER BY r.account_id",
    )?;
    let ids = st
        .query_map([role], |r| r.get(0))?
        .collect::<Result<Vec<i64>, _>>()?;
    Ok(ids)
}

/// Revokes a role; false when it was not held.
pub fn revoke_role(c: &Connection, id: i64, role: &str) -> Result<bool, StoreError> {
    Ok(c.execute(
        "DELETE FROM account_roles WHERE account_id = ?1 AND role = ?2",
        params![id, role],
    )? == 1)
}

/// Role names of an account.
pub fn roles(c: &Connection, id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt =
        c.prepare_cached("SELECT role FROM account_roles WHERE account_id = ?1 ORDER BY role")?;
    let rows = stmt
        .query_map([id], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(rows)
}

/// Whether any account holds `role`.
pub fn anyone_has_role(c: &Connection, role: &str) -> Result<bool, StoreError> {
    Ok(c.query_row(
        "SELECT EXISTS (SELECT 1 FROM account_roles WHERE role = ?1)",
        [role],
        |r| r.get(0),
    )?)
}

/// Per-jar throttle state: (failures, locked_until).
pub fn jar_state(c: &Connection, jar: &[u8]) -> Result<(i64, i64), StoreError> {
    Ok(c.query_row(
        "SELECT failures, locked_until FROM login_throttle WHERE jar_hash = ?1",
        [jar],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )
    .optional()?
    .unwrap_or((0, 0)))
}

/// Records a failure for a jar.
pub fn jar_failure(
    c: &Connection,
    jar: &[u8],
    failures: i64,
    locked_until: i64,
    now: i64,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO login_throttle (jar_hash, failures, locked_until, updated_at) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (jar_hash) DO UPDATE SET failures = ?2, locked_until = ?3, updated_at = ?4",
        params![jar, failures, locked_until, now],
    )?;
    Ok(())
}

/// Forgets a jar's failures after a good login.
pub fn jar_success(c: &Connection, jar: &[u8]) -> Result<(), StoreError> {
    c.execute("DELETE FROM login_throttle WHERE jar_hash = ?1", [jar])?;
    Ok(())
}

/// A vendor application in the admin queue.
#[derive(Debug, Clone)]
pub struct Application {
    /// Id.
    pub id: i64,
    /// Applicant.
    pub account_id: i64,
    /// Applicant's name.
    pub username: String,
    /// What they wrote.
    pub statement: String,
    /// `pending`, `approved`, `rejected`.
    pub state: String,
    /// Admin's reason.
    pub reason: Option<String>,
    /// When applied.
    pub created_at: i64,
}

/// Files an application; false when one is already pending.
pub fn insert_application(
    c: &Connection,
    id: i64,
    statement: &str,
    now: i64,
) -> Result<bool, StoreError> {
    Ok(c.execute(
        "INSERT INTO vendor_applications (account_id, statement, created_at) VALUES (?1, ?2, ?3)
         ON CONFLICT DO NOTHING",
        params![id, statement, now],
    )? == 1)
}

fn application_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Application> {
    Ok(Application {
        id: r.get(0)?,
        account_id: r.get(1)?,
        username: r.get(2)?,
        statement: r.get(3)?,
        state: r.get(4)?,
        reason: r.get(5)?,
        created_at: r.get(6)?,
    })
}

const APPLICATION_COLUMNS: &str =
    "v.id, v.account_id, a.username, v.statement, v.state, v.reason, v.created_at";

/// Pending applications, oldest first.
pub fn pending_applications(
    c: &Connection,
    limit: i64,
    offset: i64,
) -> Result<Vec<Application>, StoreError> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM vendor_applications v JOIN accounts a ON a.id = v.account_id
         WHERE v.state = 'pending' ORDER BY v.created_at, v.id LIMIT ?1 OFFSET ?2"
    );
    let mut stmt = c.prepare(&sql)?;
    let rows = stmt
        .query_map(params![limit, offset], application_row)?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}

/// The latest application of an account.
pub fn latest_application(
    c: &Connection,
    account_id: i64,
) -> Result<Option<Application>, StoreError> {
    let sql = format!(
        "SELECT {APPLICATION_COLUMNS} FROM vendor_applications v JOIN accounts a ON a.id = v.account_id
         WHERE v.account_id = ?1 ORDER BY v.id DESC LIMIT 1"
    );
    Ok(c.query_row(&sql, [account_id], application_row)
        .optional()?)
}

/// Decides a pending application (compare-and-set on `pending`); returns the applicant.
pub fn decide_application(
    c: &Connection,
    id: i64,
    approve: bool,
    by: Option<i64>,
    reason: &str,
    now: i64,
) -> Result<Option<i64>, StoreError> {
    let state = if approve { "approved" } else { "rejected" };
    Ok(c.query_row(
        "UPDATE vendor_applications SET state = ?2, decided_by = ?3, decided_at = ?4, reason = ?5
         WHERE id = ?1 AND state = 'pending' RETURNING account_id",
        params![id, state, by, now, reason],
        |r| r.get(0),
    )
    .optional()?)
}

/// An account as admins see it.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    /// Id.
    pub id: i64,
    /// Name.
    pub username: String,
    /// Status.
    pub status: String,
    /// Roles, comma separated.
    pub roles: String,
    /// Member since.
    pub created_at: i64,
}

/// Accounts whose name starts with `prefix`, by name.
pub fn search_accounts(
    c: &Connection,
    prefix: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<AccountSummary>, StoreError> {
    let pattern = format!("{}%", prefix.replace(['%', '_'], ""));
    let mut stmt = c.prepare(
        "SELECT a.id, a.username, a.status,
                coalesce((SELECT group_concat(role, ', ') FROM account_roles r WHERE r.account_id = a.id), ''),
                a.created_at
         FROM accounts a WHERE a.username LIKE ?1 ORDER BY a.username LIMIT ?2 OFFSET ?3",
    )?;
    let rows = stmt
        .query_map(params![pattern, limit, offset], |r| {
            Ok(AccountSummary {
                id: r.get(0)?,
                username: r.get(1)?,
                status: r.get(2)?,
                roles: r.get(3)?,
                created_at: r.get(4)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(rows)
}
