//! The audit trail: one JSON line per decision (allowed and refused; STS, S3 and HTTP APIs),
//! shaped like a CloudTrail record, written off the request path.
//!
//! While a request is served, its protocol notes what it learns (the operation, the caller, the
//! bucket and key, the error) in a task-local [`Facts`]; the listener turns the facts and the
//! response status into one record and hands it to a bounded queue. A background thread writes
//! the queue to stdout and/or a file (reopened on SIGHUP, for log rotation). A full queue drops
//! the record and counts it (`stsgate_audit_dropped_total`): requests never wait for the audit
//! writer.
//!
//! Never in a record: a secret key, a signature, a session token, an encoded authorization
//! message (error messages are cut before it).

use std::cell::RefCell;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::identity::Caller;

/// `[audit]` settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditConfig {
    pub stdout: bool,
    pub file: Option<PathBuf>,
    /// Records held while the writer is busy; beyond this they are dropped (and counted).
    pub queue_capacity: usize,
}

/// Default `[audit] queue_capacity`.
pub const DEFAULT_QUEUE: usize = 65_536;

/// What a request's protocol learned, for its record.
#[derive(Debug, Default)]
pub struct Facts {
    pub event_source: &'static str,
    pub event_name: String,
    pub request_id: String,
    pub region: String,
    pub access_key_id: Option<String>,
    pub caller: Option<Caller>,
    pub bucket: Option<String>,
    pub key: Option<String>,
    /// The resource ARN a refusal or an HTTP API call names.
    pub resource: Option<String>,
    pub read_only: Option<bool>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    /// AssumeRoleWithWebIdentity: the provider's ARN, the matched audience and the subject.
    pub web_identity: Option<(String, String, String)>,
}

tokio::task_local! {
    static FACTS: RefCell<Facts>;
}

/// Adds to the current request's facts (nothing outside an audited request).
pub fn note(f: impl FnOnce(&mut Facts)) {
    let _ = FACTS.try_with(|facts| f(&mut facts.borrow_mut()));
}

/// Notes an error: its code and its message without any encoded authorization message.
pub fn note_error(code: &str, message: &str) {
    note(|f| {
        f.error_code = Some(code.to_string());
        let cut = message
            .split(" Encoded authorization failure message:")
            .next()
            .unwrap_or("");
        f.error_message = Some(cut.to_string());
    });
}

/// Runs `served` with fresh facts and returns its output and what it noted.
pub async fn scope<F: std::future::Future>(served: F) -> (F::Output, Facts) {
    FACTS
        .scope(RefCell::new(Facts::default()), async move {
            let out = served.await;
            let facts = FACTS.with(|f| std::mem::take(&mut *f.borrow_mut()));
            (out, facts)
        })
        .await
}

/// The writer side: a bounded queue and its thread.
pub struct Auditor {
    tx: Option<std::sync::mpsc::SyncSender<String>>,
    reopen: Arc<AtomicBool>,
    pub records: AtomicU64,
    pub dropped: Arc<AtomicU64>,
}

impl Auditor {
    /// No audit trail.
    pub fn disabled() -> Auditor {
        Auditor {
            tx: None,
            reopen: Arc::new(AtomicBool::new(false)),
            records: AtomicU64::new(0),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Opens the file (appending) and starts the writer thread.
    pub fn start(config: &AuditConfig) -> std::io::Result<Auditor> {
        if !config.stdout && config.file.is_none() {
            return Ok(Auditor::disabled());
        }
        let open = |path: &PathBuf| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
        };
        let mut file = match &config.file {
            Some(path) => Some(open(path)?),
            None => None,
        };
        let (tx, rx) = std::sync::mpsc::sync_channel::<String>(config.queue_capacity);
        let reopen = Arc::new(AtomicBool::new(false));
        let (flag, path, stdout) = (reopen.clone(), config.file.clone(), config.stdout);
        std::thread::Builder::new()
            .name("stsgate-audit".into())
            .spawn(move || {
                let mut out = std::io::stdout();
                while let Ok(first) = rx.recv() {
                    if flag.swap(false, Ordering::Relaxed)
                        && let Some(p) = &path
                    {
                        match open(p) {
                            Ok(f) => file = Some(f),
                            Err(e) => tracing::error!(path = %p.display(), error = %e, "cannot reopen the audit file; writing to the old one"),
                        }
                    }
                    // Batch what is queued into one write.
                    let mut batch = first;
                    batch.push('\n');
                    while batch.len() < 256 * 1024 {
                        match rx.try_recv() {
                            Ok(line) => {
                                batch.push_str(&line);
                                batch.push('\n');
                            }
                            Err(_) => break,
                        }
                    }
                    if let Some(f) = &mut file
                        && let Err(e) = f.write_all(batch.as_bytes())
                    {
                        tracing::error!(error = %e, "cannot write the audit file");
                    }
                    if stdout {
                        let _ = out.write_all(batch.as_bytes());
                        let _ = out.flush();
                    }
                }
            })?;
        Ok(Auditor {
            tx: Some(tx),
            reopen,
            records: AtomicU64::new(0),
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    pub fn enabled(&self) -> bool {
        self.tx.is_some()
    }

    /// Queues a record; drops and counts it if the queue is full.
    pub fn record(&self, line: String) {
        let Some(tx) = &self.tx else { return };
        match tx.try_send(line) {
            Ok(()) => {
                self.records.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Reopens the file before the next write (SIGHUP, after a log rotation moved it).
    pub fn reopen(&self) {
        self.reopen.store(true, Ordering::Relaxed);
    }
}

/// What the listener knows of every request, besides the facts.
pub struct Request<'a> {
    pub now: time::OffsetDateTime,
    pub source_ip: String,
    pub user_agent: Option<&'a str>,
    pub status: u16,
}

/// The CloudTrail-shaped record of one request.
pub fn record(request: &Request<'_>, facts: &Facts) -> Value {
    let mut r = json!({
        "eventVersion": "1.08",
        "eventTime": request.now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "eventSource": facts.event_source,
        "eventName": facts.event_name,
        "awsRegion": facts.region,
        "sourceIPAddress": request.source_ip,
        "userAgent": request.user_agent.unwrap_or(""),
        "userIdentity": user_identity(facts),
        "requestParameters": request_parameters(facts),
        "requestID": facts.request_id,
        "eventID": crate::sts::xml::request_id(),
        "eventType": "AwsApiCall",
        "httpStatus": request.status,
    });
    if let Some(read_only) = facts.read_only {
        r["readOnly"] = json!(read_only);
    }
    if let Some(code) = &facts.error_code {
        r["errorCode"] = json!(code);
        r["errorMessage"] = json!(facts.error_message.clone().unwrap_or_default());
    }
    let mut resources = Vec::new();
    if let Some(bucket) = &facts.bucket {
        resources.push(json!({"type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}));
        if let Some(key) = &facts.key {
            resources.push(
                json!({"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{bucket}/{key}")}),
            );
        }
    } else if let Some(resource) = &facts.resource {
        resources.push(json!({"ARN": resource}));
    }
    if !resources.is_empty() {
        r["resources"] = Value::Array(resources);
    }
    r
}

fn request_parameters(facts: &Facts) -> Value {
    let mut p = json!({});
    if let Some(b) = &facts.bucket {
        p["bucketName"] = json!(b);
    }
    if let Some(k) = &facts.key {
        p["key"] = json!(k);
    }
    if p.as_object().is_some_and(|o| o.is_empty()) {
        Value::Null
    } else {
        p
    }
}

fn user_identity(facts: &Facts) -> Value {
    if let Some((provider, aud, sub)) = &facts.web_identity {
        return json!({
            "type": "WebIdentityUser",
            "principalId": format!("{provider}:{aud}:{sub}"),
            "userName": sub,
            "identityProvider": provider,
        });
    }
    let Some(caller) = &facts.caller else {
        return match &facts.access_key_id {
            // Named a key, but was not authenticated as its owner.
            Some(key) => json!({"type": "Unknown", "accessKeyId": key}),
            None => json!({"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}),
        };
    };
    let mut id = json!({
        "principalId": caller.user_id(),
        "arn": caller.arn(),
        "accountId": caller.account(),
        "accessKeyId": facts.access_key_id.clone().unwrap_or_default(),
    });
    match caller {
        Caller::User { user, .. } => {
            id["type"] = json!("IAMUser");
            id["userName"] = json!(user.name);
        }
        Caller::Session(s) => {
            let mut context = json!({
                "attributes": {
                    "creationDate": crate::sts::xml::timestamp(s.issued_at),
                    "mfaAuthenticated": s.mfa_at.is_some().to_string(),
                }
            });
            match &s.role_arn {
                Some(role_arn) => {
                    id["type"] = json!("AssumedRole");
                    context["sessionIssuer"] = json!({
                        "type": "Role",
                        "principalId": s.user_id.split(':').next().unwrap_or(""),
                        "arn": role_arn,
                        "accountId": caller.account(),
                        "userName": s.role_name.clone().unwrap_or_default(),
                    });
                }
                None => {
                    id["type"] = json!("IAMUser");
                    id["userName"] = json!(s.user_name.clone().unwrap_or_default());
                }
            }
            if let Some(si) = &s.source_identity {
                context["sourceIdentity"] = json!(si);
            }
            if let Some(provider) = &s.federated_provider {
                context["webIdFederationData"] =
                    json!({"federatedProvider": provider, "attributes": {}});
            }
            id["sessionContext"] = context;
        }
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_lose_the_encoded_message() {
        let facts = FACTS.sync_scope(RefCell::new(Facts::default()), || {
            note_error(
                "AccessDenied",
                "User: x is not authorized to perform: s3:GetObject on resource: y because no identity-based policy allows the s3:GetObject action Encoded authorization failure message: AQxSEALED",
            );
            FACTS.with(|f| std::mem::take(&mut *f.borrow_mut()))
        });
        let message = facts.error_message.unwrap();
        assert!(
            !message.contains("AQx") && message.ends_with("action"),
            "{message}"
        );
    }

    #[test]
    fn anonymous_and_unauthenticated_callers_are_named_as_such() {
        let request = Request {
            now: time::OffsetDateTime::UNIX_EPOCH,
            source_ip: "127.0.0.1".into(),
            user_agent: None,
            status: 403,
        };
        let facts = Facts {
            event_source: "s3.amazonaws.com",
            event_name: "GetObject".into(),
            bucket: Some("b".into()),
            key: Some("k".into()),
            error_code: Some("AccessDenied".into()),
            ..Facts::default()
        };
        let r = record(&request, &facts);
        assert_eq!(r["userIdentity"]["accountId"], "anonymous");
        assert_eq!(r["requestParameters"]["key"], "k");
        assert_eq!(r["resources"][1]["ARN"], "arn:aws:s3:::b/k");
        assert_eq!(r["eventTime"], "1970-01-01T00:00:00Z");
        let facts = Facts {
            access_key_id: Some("AKIAEXAMPLE".into()),
            ..Facts::default()
        };
        assert_eq!(record(&request, &facts)["userIdentity"]["type"], "Unknown");
    }
}
