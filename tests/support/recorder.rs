//! An in-process S3 backend that records every request the gateway forwards to it.
//!
//! Real backends (Garage, s3s-fs) show *what ended up stored*; this one shows *what arrived*:
//! each request's method, path, query, headers and body, and whether the gateway's re-signature
//! verifies with the backend's own credentials. It keeps objects and tag sets in memory (neither
//! Garage nor s3s-fs implements object tagging), and can be told to fail, stall or stay silent,
//! so forwarding, pass-through and timeouts can be asserted from the backend's side.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::s3s_reading::{Reading, s3s_reading, stsgate_reading};

/// The recorder's own key pair: the gateway must re-sign with it.
pub const RECORDER_KEY: (&str, &str) = (
    "GKrecorder0123456789abcdef",
    "recorder-secret-0123456789abcdef0123456789abcdef0123456789abcd",
);

/// One request as the backend received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: HeaderMap,
    /// `None` if the body did not arrive whole (the gateway aborted the upload).
    pub body: Option<Bytes>,
    /// The gateway's re-signature checked with [`RECORDER_KEY`] (and the body against its hash).
    pub signature: Result<(), String>,
    /// How the `s3s` crate's router read the request (operation, bucket, key).
    pub s3s: Result<Reading, String>,
    /// How stsgate's classifier reads the same bytes.
    pub stsgate: Result<Reading, String>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// What the recorder does with the next requests.
#[derive(Debug, Clone)]
pub enum Behaviour {
    /// Store and serve objects and tag sets in memory.
    Store,
    /// Answer every request with this S3 error (after reading the body).
    Fail { status: u16, code: &'static str },
    /// Read the request, then wait this long before answering as `Store` would.
    Delay(Duration),
    /// Answer 200 announcing 100 bytes, send 10, then go silent forever.
    StallBody,
}

/// A response body that sends one piece and then never another.
struct Stalling(Option<Bytes>);

impl http_body::Body for Stalling {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        match self.0.take() {
            Some(b) => std::task::Poll::Ready(Some(Ok(http_body::Frame::data(b)))),
            None => std::task::Poll::Pending,
        }
    }
}

#[derive(Default)]
struct Shared {
    seen: Vec<Seen>,
    objects: HashMap<String, Bytes>,
    tags: HashMap<String, Bytes>,
}

/// A running recorder; stops when dropped.
pub struct Recorder {
    pub endpoint: String,
    pub addr: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    behaviour: Arc<Mutex<Behaviour>>,
    _runtime: tokio::runtime::Runtime,
}

impl Recorder {
    pub fn start() -> Recorder {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().unwrap();
        let shared = Arc::new(Mutex::new(Shared::default()));
        let behaviour = Arc::new(Mutex::new(Behaviour::Store));
        let (s, b) = (shared.clone(), behaviour.clone());
        runtime.spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (s, b) = (s.clone(), b.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        let (s, b) = (s.clone(), b.clone());
                        async move { Ok::<_, std::convert::Infallible>(handle(s, b, addr, req).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Recorder {
            endpoint: format!("http://{addr}"),
            addr,
            shared,
            behaviour,
            _runtime: runtime,
        }
    }

    pub fn set(&self, behaviour: Behaviour) {
        *self.behaviour.lock().unwrap() = behaviour;
    }

    /// Every request received so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.shared.lock().unwrap().seen.clone()
    }

    /// A `[[backends]]` entry pointing at this recorder with its key.
    pub fn backend_toml(&self) -> String {
        format!(
            "[[backends]]\nname = \"recorder\"\nkind = \"s3\"\nurl = \"{}\"\nregion = \"us-east-1\"\naccess_key_id = \"{}\"\nsecret_access_key = \"{}\"",
            self.endpoint, RECORDER_KEY.0, RECORDER_KEY.1
        )
    }

    /// How many requests have arrived so far.
    pub fn seen_count(&self) -> usize {
        self.shared.lock().unwrap().seen.len()
    }

    /// The requests that arrived after the first `start`.
    pub fn seen_from(&self, start: usize) -> Vec<Seen> {
        self.shared.lock().unwrap().seen[start..].to_vec()
    }

    /// The stored object at `/bucket/key`.
    pub fn object(&self, path: &str) -> Option<Bytes> {
        self.shared.lock().unwrap().objects.get(path).cloned()
    }

    /// Stores an object as if it had been uploaded (`path` is `/bucket/key`, encoded as the
    /// gateway sends it).
    pub fn put_object(&self, path: &str, body: &[u8]) {
        self.shared
            .lock()
            .unwrap()
            .objects
            .insert(path.to_string(), Bytes::copy_from_slice(body));
    }

    /// Requests that arrived whole but that `s3s` and stsgate read differently (or that either
    /// could not read): each would be a request the backend executes other than authorized.
    pub fn disagreements(&self) -> Vec<String> {
        self.seen()
            .iter()
            .filter(|s| s.body.is_some() && s.signature.is_ok())
            .filter(|s| !matches!((&s.s3s, &s.stsgate), (Ok(a), Ok(b)) if a == b))
            .map(|s| {
                format!(
                    "{} {}?{}: s3s {:?}, stsgate {:?}",
                    s.method, s.path, s.query, s.s3s, s.stsgate
                )
            })
            .collect()
    }

    /// Forgets what was received (objects stay).
    pub fn clear_seen(&self) {
        self.shared.lock().unwrap().seen.clear();
    }
}

/// Every test that uses the recorder is also a differential check: when it ends, every request
/// the gateway forwarded must have been read alike by `s3s` and by stsgate's classifier.
impl Drop for Recorder {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let disagreements = self.disagreements();
        assert!(
            disagreements.is_empty(),
            "the backend received requests that two S3 parsers read differently:\n{}",
            disagreements.join("\n")
        );
    }
}

fn verify(
    parts: &http::request::Parts,
    body: Option<&Bytes>,
    listen: SocketAddr,
) -> Result<(), String> {
    use stsgate::sigv4::*;
    let now = AmzDate::now();
    let regions = ["us-east-1".to_string()];
    let policy = verify::VerifyPolicy {
        regions: &regions,
        services: &["s3"],
        max_skew: Duration::from_secs(900),
        now,
    };
    let host = parts.headers.get("host").and_then(|v| v.to_str().ok());
    if host != Some(&listen.to_string()) {
        return Err(format!(
            "Host is {host:?}, not the backend's address {listen}"
        ));
    }
    let req = RequestParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        query: parts.uri.query().unwrap_or(""),
        headers: &parts.headers,
        authority: None,
    };
    let parsed = verify::parse_request_auth(&req, &policy)
        .map_err(|e| e.to_string())?
        .ok_or("the request is not signed")?;
    if parsed.credential.access_key_id() != RECORDER_KEY.0 {
        return Err(format!(
            "signed with {}, not the backend's key",
            parsed.credential.access_key_id()
        ));
    }
    let payload = parsed
        .content_sha256
        .unwrap_or("UNSIGNED-PAYLOAD")
        .to_string();
    verify::verify_signature(
        &parsed,
        &req,
        RECORDER_KEY.1,
        &payload,
        UriMode::S3,
        &SigningKeyCache::disabled(),
    )
    .map_err(|e| e.to_string())?;
    if payload != "UNSIGNED-PAYLOAD"
        && let Some(body) = body
        && hex::encode(Sha256::digest(body)) != payload
    {
        return Err("the body does not match the signed x-amz-content-sha256".into());
    }
    Ok(())
}

fn xml_error(status: u16, code: &str) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/xml")
        .header("x-amz-request-id", "RECORDER-REQUEST-ID")
        .header("x-recorder-note", "passed through")
        .body(Full::new(Bytes::from(format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>the recorder says {code}</Message><Resource>recorder</Resource><RequestId>RECORDER-REQUEST-ID</RequestId></Error>"
        ))))
        .unwrap()
}

async fn handle(
    shared: Arc<Mutex<Shared>>,
    behaviour: Arc<Mutex<Behaviour>>,
    listen: SocketAddr,
    req: Request<Incoming>,
) -> Response<RecorderBody> {
    let stall = matches!(*behaviour.lock().unwrap(), Behaviour::StallBody);
    let response = stored(shared, behaviour, listen, req).await;
    if stall {
        return Response::builder()
            .status(200)
            .header("content-length", "100")
            .body(Stalling(Some(Bytes::from_static(b"0123456789"))).boxed())
            .unwrap();
    }
    response.map(|b| b.map_err(|never| match never {}).boxed())
}

type RecorderBody = http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>;

async fn stored(
    shared: Arc<Mutex<Shared>>,
    behaviour: Arc<Mutex<Behaviour>>,
    listen: SocketAddr,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // The gateway's readiness probe: answered, not recorded (tests count what arrives).
    if parts
        .headers
        .get("user-agent")
        .is_some_and(|v| v == "stsgate-readiness-probe")
    {
        return xml_error(403, "AccessDenied");
    }
    // Test-only: the recorder keeps whole bodies so tests can compare them.
    let body = body.collect().await.ok().map(|b| b.to_bytes());
    let signature = verify(&parts, body.as_ref(), listen);
    let query = parts.uri.query().unwrap_or("").to_string();
    let path = parts.uri.path().to_string();
    let s3s = match &body {
        Some(b) => s3s_reading(&parts, b.clone()).await,
        None => Err("the body did not arrive whole".to_string()),
    };
    shared.lock().unwrap().seen.push(Seen {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        headers: parts.headers.clone(),
        body: body.clone(),
        signature,
        s3s,
        stsgate: stsgate_reading(&parts),
    });
    let Some(body) = body else {
        return xml_error(400, "IncompleteBody");
    };
    let behaviour = behaviour.lock().unwrap().clone();
    match behaviour {
        Behaviour::Fail { status, code } => return xml_error(status, code),
        Behaviour::Delay(d) => tokio::time::sleep(d).await,
        Behaviour::Store | Behaviour::StallBody => {}
    }
    let tagging = query.split('&').any(|p| p == "tagging" || p == "tagging=");
    let mut s = shared.lock().unwrap();
    let ok = |status: StatusCode, body: Bytes| {
        Response::builder()
            .status(status)
            .header("x-amz-request-id", "RECORDER-REQUEST-ID")
            .body(Full::new(body))
            .unwrap()
    };
    match (parts.method.as_str(), tagging) {
        ("PUT", true) => {
            s.tags.insert(path, body);
            ok(StatusCode::OK, Bytes::new())
        }
        ("GET", true) => match s.tags.get(&path) {
            Some(t) => ok(StatusCode::OK, t.clone()),
            None => ok(
                StatusCode::OK,
                Bytes::from_static(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Tagging xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><TagSet></TagSet></Tagging>"),
            ),
        },
        ("DELETE", true) => {
            s.tags.remove(&path);
            ok(StatusCode::NO_CONTENT, Bytes::new())
        }
        ("PUT", false) => {
            let etag = format!("\"{}\"", &hex::encode(Sha256::digest(&body))[..32]);
            s.objects.insert(path, body);
            let mut r = ok(StatusCode::OK, Bytes::new());
            r.headers_mut().insert("etag", etag.parse().unwrap());
            r
        }
        ("GET" | "HEAD", false) => match s.objects.get(&path) {
            Some(o) => {
                let etag = format!("\"{}\"", &hex::encode(Sha256::digest(o))[..32]);
                let mut r = ok(
                    StatusCode::OK,
                    if parts.method == http::Method::HEAD {
                        Bytes::new()
                    } else {
                        o.clone()
                    },
                );
                r.headers_mut().insert("etag", etag.parse().unwrap());
                r.headers_mut()
                    .insert("content-type", "application/octet-stream".parse().unwrap());
                r.headers_mut()
                    .insert("content-length", o.len().to_string().parse().unwrap());
                r
            }
            None => xml_error(404, "NoSuchKey"),
        },
        ("DELETE", false) => {
            s.objects.remove(&path);
            ok(StatusCode::NO_CONTENT, Bytes::new())
        }
        // CreateMultipartUpload: the recorder's own id for the upload (the path's digest).
        ("POST", false) if query == "uploads" || query == "uploads=" => {
            let id = format!("recorder-upload-{}", &hex::encode(Sha256::digest(path.as_bytes()))[..16]);
            ok(
                StatusCode::OK,
                Bytes::from(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>b</Bucket><Key>k</Key><UploadId>{id}</UploadId></InitiateMultipartUploadResult>"
                )),
            )
        }
        // CompleteMultipartUpload, answered as backends do: naming themselves.
        ("POST", false) if query.starts_with("uploadId=") => {
            let mut r = ok(
                StatusCode::OK,
                Bytes::from(format!(
                    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CompleteMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Location>http://{listen}{path}</Location><Bucket>b</Bucket><Key>k</Key><ETag>\"e-1\"</ETag></CompleteMultipartUploadResult>"
                )),
            );
            r.headers_mut().insert("server", "RecorderStore/1.0".parse().unwrap());
            r.headers_mut().insert("x-amz-id-2", "recorder-host-id".parse().unwrap());
            r
        }
        _ => ok(StatusCode::OK, Bytes::new()),
    }
}
