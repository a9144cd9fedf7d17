//! Ceph's radosgw serves its admin API under `/admin/` (users, keys, buckets, quotas), Swift
//! under `/swift/` and Swift auth under `/auth/`: to a path-style S3 reader those are the buckets
//! `admin`, `swift` and `auth`. A session allowed `s3:*` on `*` must not reach them re-signed
//! with the backend's credentials, which an operator may well have given admin caps.

mod support;

use sha2::{Digest, Sha256};
use support::{Backend, Gateway, WRITER_ROLE, assume};

fn signed_get(
    endpoint: &str,
    signer: &stsgate::sigv4::Signer,
    path: &str,
    query: &str,
) -> support::RawReply {
    let host = endpoint.trim_start_matches("http://");
    let mut headers = http::HeaderMap::new();
    headers.insert("host", host.parse().unwrap());
    signer
        .sign(
            "GET",
            path,
            query,
            &mut headers,
            &hex::encode(Sha256::digest(b"")),
            stsgate::sigv4::AmzDate::now(),
        )
        .unwrap();
    let target = if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    };
    support::raw_request(
        endpoint,
        "GET",
        &target,
        &support::header_pairs(&headers),
        b"",
    )
}

#[test]
fn radosgw_admin_swift_and_auth_paths_are_refused_before_authorization() {
    let Some(backend) = Backend::start("radosgw") else {
        return;
    };
    // The operator's key has admin caps: straight to radosgw it reads user records (and keys).
    let caps = std::process::Command::new("radosgw-admin")
        .arg("-c")
        .arg(backend.dir().join("ceph.conf"))
        .args(["-n", "client.admin", "caps", "add", "--uid", "stsgate-test"])
        .args(["--caps", "users=*;buckets=*"])
        .output()
        .unwrap();
    assert!(
        caps.status.success(),
        "{}",
        String::from_utf8_lossy(&caps.stderr)
    );
    let operator = stsgate::sigv4::Signer::new(
        &backend.access_key_id,
        &backend.secret_access_key,
        None,
        &backend.region,
        "s3",
        stsgate::sigv4::SigningKeyCache::disabled(),
    );
    let direct = signed_get(
        &backend.endpoint,
        &operator,
        "/admin/user",
        "format=json&uid=stsgate-test",
    );
    assert_eq!(direct.status, 200, "{direct:?}");
    assert!(direct.body.contains("secret_key"), "{direct:?}");

    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "rgw-admin",
        None,
    );
    let session = creds.signer("s3");
    let mut leaks = Vec::new();
    for (path, query) in [
        ("/admin/user", "format=json&uid=stsgate-test"),
        ("/admin/bucket", "format=json"),
        ("/admin/usage", ""),
        ("/swift/v1", ""),
        ("/auth/1.0", ""),
        ("/admin", ""),
    ] {
        let reply = signed_get(&gw.endpoint, &session, path, query);
        if reply.status != 400
            || !reply.body.contains("InvalidBucketName")
            || reply.body.contains("secret_key")
        {
            leaks.push(format!("{path}?{query}: {reply:?}"));
        }
    }
    assert!(leaks.is_empty(), "reached radosgw's own APIs: {leaks:#?}");
}
