//! `stsgate revoke`: a client of the admin listener's `POST /revocations`, signing with SigV4
//! for the `stsgate` service with the credentials in the environment (`AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, optionally `AWS_SESSION_TOKEN`; region `AWS_REGION`,
//! `AWS_DEFAULT_REGION` or `us-east-1`), the way aws-cli finds them.

use std::io::{Read, Write};
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::sigv4::{AmzDate, Signer, SigningKeyCache};

/// Sends one revocation (`ask`: the JSON body) to `admin` (`http://host:port`); the answer's
/// status and body.
pub fn revoke(admin: &str, ask: &serde_json::Value) -> Result<(u16, String), String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let key = env("AWS_ACCESS_KEY_ID").ok_or("AWS_ACCESS_KEY_ID is not set")?;
    let secret = env("AWS_SECRET_ACCESS_KEY").ok_or("AWS_SECRET_ACCESS_KEY is not set")?;
    let token = env("AWS_SESSION_TOKEN");
    let region = env("AWS_REGION")
        .or_else(|| env("AWS_DEFAULT_REGION"))
        .unwrap_or_else(|| "us-east-1".into());
    let authority = admin
        .strip_prefix("http://")
        .map(|a| a.trim_end_matches('/'))
        .filter(|a| !a.is_empty() && !a.contains('/'))
        .ok_or("--admin is http://host:port (the admin listener speaks plain HTTP)")?;
    let body = ask.to_string();
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "host",
        authority
            .parse()
            .map_err(|_| "--admin has no usable host")?,
    );
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    Signer::new(
        &key,
        &secret,
        token.as_deref(),
        &region,
        crate::server::revoke_http::SERVICE,
        SigningKeyCache::disabled(),
    )
    .sign(
        "POST",
        "/revocations",
        "",
        &mut headers,
        &hex::encode(Sha256::digest(body.as_bytes())),
        AmzDate::now(),
    )
    .map_err(|e| format!("cannot sign: {e}"))?;
    let mut wire = String::from("POST /revocations HTTP/1.1\r\n");
    for (name, value) in &headers {
        wire.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().map_err(|_| "a header is not text")?
        ));
    }
    wire.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    ));
    let mut stream = std::net::TcpStream::connect(authority)
        .map_err(|e| format!("cannot reach {admin}: {e}"))?;
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .and_then(|()| stream.write_all(wire.as_bytes()))
        .map_err(|e| format!("cannot send to {admin}: {e}"))?;
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .map_err(|e| format!("no answer from {admin}: {e}"))?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("{admin} did not answer HTTP"))?;
    Ok((status, body.to_string()))
}
