//! Session revocation ("revoke active sessions"): records that refuse the temporary
//! credentials of a role, a user, a role session name, a source identity or one access key that
//! were issued before a time. A record expires when no session it could match can still be alive
//! (sessions last 36 hours at most). Checked on every request that presents a session, as a
//! lookup in a small table. Kept in memory and, with `[revocation] file`, in a file that a
//! restart reads back.

pub mod client;

use std::path::PathBuf;
use std::sync::RwLock;

use serde::{Deserialize, Serialize};

use crate::sts::SessionClaims;

/// The longest a temporary credential lives (GetSessionToken's 36 hours): a record older than
/// this past its `before` can match nothing.
pub const LONGEST_SESSION: i64 = 36 * 3600;

/// The refusal of a revoked session's requests, in every protocol (as AWS's "revoke active
/// sessions" answers them: an explicit deny, `AccessDenied`).
pub const REVOKED_MESSAGE: &str = "Access Denied: the session was revoked (its credentials were issued before a revocation of its role, user, session name, source identity or key); get new credentials";

/// What a record revokes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Every session of this role (its ARN).
    Role(String),
    /// Every GetSessionToken session of this user (its ARN), and the role sessions chained from
    /// them.
    User(String),
    /// The sessions of a role with this session name.
    SessionName { role: String, name: String },
    /// Every session carrying this source identity.
    SourceIdentity(String),
    /// The session with this temporary access key id.
    AccessKey(String),
}

impl Scope {
    /// Whether a session's claims fall under this scope.
    fn covers(&self, c: &SessionClaims) -> bool {
        match self {
            Scope::Role(arn) => c.role_arn.as_deref() == Some(arn),
            Scope::User(arn) => {
                (c.role_arn.is_none() && c.arn == *arn) || c.origin_user.as_deref() == Some(arn)
            }
            Scope::SessionName { role, name } => {
                c.role_arn.as_deref() == Some(role) && c.session_name.as_deref() == Some(name)
            }
            Scope::SourceIdentity(id) => c.source_identity.as_deref() == Some(id),
            Scope::AccessKey(key) => c.access_key_id == *key,
        }
    }

    /// The ARN `stsgate:RevokeSessions` is authorized on: the role or user, else `*`.
    pub fn resource(&self) -> &str {
        match self {
            Scope::Role(arn) | Scope::User(arn) | Scope::SessionName { role: arn, .. } => arn,
            Scope::SourceIdentity(_) | Scope::AccessKey(_) => "*",
        }
    }
}

/// One revocation: sessions in `scope` issued before `before` (Unix seconds) are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub scope: Scope,
    pub before: i64,
    /// Who revoked (an ARN), for the audit trail and `GET /revocations`.
    pub by: String,
}

impl Record {
    pub fn expired(&self, now: i64) -> bool {
        now > self.before + LONGEST_SESSION
    }
}

/// The records of this gateway, persisted in `file` when set.
#[derive(Debug, Default)]
pub struct Revocations {
    records: RwLock<Vec<Record>>,
    file: Option<PathBuf>,
}

impl Revocations {
    /// The records in `file` (none if it does not exist yet), or an empty in-memory table.
    pub fn load(file: Option<PathBuf>) -> Result<Revocations, String> {
        let records = match &file {
            Some(path) => match std::fs::read_to_string(path) {
                Ok(text) => serde_json::from_str(&text)
                    .map_err(|e| format!("revocation file {}: {e}", path.display()))?,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(format!("revocation file {}: {e}", path.display())),
            },
            None => Vec::new(),
        };
        Ok(Revocations {
            records: RwLock::new(records),
            file,
        })
    }

    /// The record that refuses a session, if any (expired records never match).
    pub fn revoking(&self, claims: &SessionClaims, now: i64) -> Option<Record> {
        let records = self.records.read().unwrap_or_else(|p| p.into_inner());
        if records.is_empty() {
            return None;
        }
        records
            .iter()
            .find(|r| claims.issued_at < r.before && !r.expired(now) && r.scope.covers(claims))
            .cloned()
    }

    /// Adds a record, drops expired ones, and writes the file (through a temporary file and a
    /// rename) before answering. A scope keeps its latest `before`: a record reaching less far
    /// than one in force never weakens it. Returns the record in force for the scope.
    pub fn add(&self, record: Record, now: i64) -> std::io::Result<Record> {
        let mut records = self.records.write().unwrap_or_else(|p| p.into_inner());
        let kept = records
            .iter()
            .find(|r| r.scope == record.scope && !r.expired(now) && r.before >= record.before)
            .cloned()
            .unwrap_or(record);
        let mut next: Vec<Record> = records
            .iter()
            .filter(|r| !r.expired(now) && r.scope != kept.scope)
            .cloned()
            .collect();
        next.push(kept.clone());
        if let Some(path) = &self.file {
            let text = serde_json::to_string_pretty(&next).expect("records serialize");
            let mut tmp = path.as_os_str().to_owned();
            tmp.push(".tmp");
            std::fs::write(&tmp, text)?;
            std::fs::rename(&tmp, path)?;
        }
        *records = next;
        Ok(kept)
    }

    /// Adds the records another replica stored (through `[shared_state]`): a scope keeps the
    /// latest `before`; nothing is written to the file (the shared store keeps them).
    pub fn merge(&self, shared: Vec<Record>, now: i64) {
        let mut records = self.records.write().unwrap_or_else(|p| p.into_inner());
        for r in shared {
            if r.expired(now) {
                continue;
            }
            match records.iter_mut().find(|x| x.scope == r.scope) {
                Some(x) if x.before >= r.before => {}
                Some(x) => *x = r,
                None => records.push(r),
            }
        }
    }

    /// The records in force.
    pub fn list(&self, now: i64) -> Vec<Record> {
        self.records
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|r| !r.expired(now))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(role: Option<&str>, name: &str, issued_at: i64) -> SessionClaims {
        serde_json::from_value(serde_json::json!({
            "access_key_id": "ASIAEXAMPLE", "secret_access_key": "s", "account": "111122223333",
            "principal_type": if role.is_some() { "AssumedRole" } else { "User" },
            "arn": role.map_or("arn:aws:iam::111122223333:user/develop".to_string(),
                |r| format!("{r}/{name}")),
            "user_id": "AROA:x", "role_arn": role, "role_name": null, "session_name": name,
            "user_name": null, "issued_at": issued_at, "expires_at": issued_at + 3600,
            "mfa_at": null, "source_identity": "alice", "session_policy": null, "chained": false
        }))
        .unwrap()
    }

    const ROLE: &str = "arn:aws:iam::111122223333:role/s3_role";

    #[test]
    fn records_refuse_older_sessions_of_their_scope_only() {
        let r = Revocations::default();
        let now = 1_000_000;
        r.add(
            Record {
                scope: Scope::Role(ROLE.into()),
                before: now,
                by: "x".into(),
            },
            now,
        )
        .unwrap();
        assert!(
            r.revoking(&claims(Some(ROLE), "a", now - 10), now)
                .is_some()
        );
        // Issued after the revocation: fine.
        assert!(r.revoking(&claims(Some(ROLE), "a", now + 1), now).is_none());
        // Another role, a user's session.
        assert!(
            r.revoking(
                &claims(Some("arn:aws:iam::111122223333:role/other"), "a", 0),
                now
            )
            .is_none()
        );
        assert!(r.revoking(&claims(None, "", 0), now).is_none());
        // Past the longest session, the record is gone.
        assert!(
            r.revoking(
                &claims(Some(ROLE), "a", now - 10),
                now + LONGEST_SESSION + 1
            )
            .is_none()
        );
        // A session name, a source identity, one key: session "b" shares the last two.
        for (scope, b_revoked) in [
            (
                Scope::SessionName {
                    role: ROLE.into(),
                    name: "a".into(),
                },
                false,
            ),
            (Scope::SourceIdentity("alice".into()), true),
            (Scope::AccessKey("ASIAEXAMPLE".into()), true),
        ] {
            let r = Revocations::default();
            r.add(
                Record {
                    scope: scope.clone(),
                    before: now,
                    by: "x".into(),
                },
                now,
            )
            .unwrap();
            assert!(
                r.revoking(&claims(Some(ROLE), "a", 0), now).is_some(),
                "{scope:?}"
            );
            assert_eq!(
                r.revoking(&claims(Some(ROLE), "b", 0), now).is_some(),
                b_revoked,
                "{scope:?}"
            );
        }
    }

    #[test]
    fn a_user_revocation_covers_the_role_sessions_chained_from_its_sessions() {
        let r = Revocations::default();
        let user = "arn:aws:iam::111122223333:user/develop";
        r.add(
            Record {
                scope: Scope::User(user.into()),
                before: 100,
                by: "x".into(),
            },
            100,
        )
        .unwrap();
        let mut chained = claims(Some(ROLE), "c", 50);
        assert!(
            r.revoking(&chained, 100).is_none(),
            "a role session of its own"
        );
        chained.origin_user = Some(user.into());
        assert!(r.revoking(&chained, 100).is_some());
    }

    #[test]
    fn an_earlier_time_never_weakens_a_revocation_in_force() {
        let r = Revocations::default();
        let scope = Scope::Role(ROLE.into());
        let later = Record {
            scope: scope.clone(),
            before: 900,
            by: "a".into(),
        };
        r.add(later.clone(), 900).unwrap();
        let kept = r
            .add(
                Record {
                    scope,
                    before: 100,
                    by: "b".into(),
                },
                900,
            )
            .unwrap();
        assert_eq!(kept, later);
        assert!(r.revoking(&claims(Some(ROLE), "a", 500), 900).is_some());
    }

    #[test]
    fn the_file_keeps_records_across_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("revocations.json");
        let r = Revocations::load(Some(file.clone())).unwrap();
        let record = Record {
            scope: Scope::User("arn:aws:iam::111122223333:user/develop".into()),
            before: 500,
            by: "arn:aws:iam::111122223333:user/oncall".into(),
        };
        r.add(record.clone(), 500).unwrap();
        let again = Revocations::load(Some(file)).unwrap();
        assert_eq!(again.list(500), vec![record]);
        assert!(again.revoking(&claims(None, "", 100), 600).is_some());
    }
}
