//! MinIO serves its admin API, metrics and health under `/minio/`: to a path-style S3 reader that
//! is the bucket `minio`. A session allowed `s3:*` on `*` must not reach them, least of all
//! re-signed with the backend's own (often root) credentials.

mod support;

use support::{Backend, Gateway, WRITER_ROLE, assume};

#[test]
fn minio_admin_metrics_and_health_paths_are_refused_before_authorization() {
    let Some(backend) = Backend::start("minio") else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let creds = assume(
        &gw,
        "arn:aws:iam::111122223333:role/s3_writer",
        "admin",
        None,
    );
    let port = gw.endpoint.rsplit(':').next().unwrap().to_string();
    let mut leaks = Vec::new();
    for (method, path, host) in [
        ("GET", "/minio/admin/v3/info", format!("127.0.0.1:{port}")),
        (
            "GET",
            "/minio/admin/v3/list-users",
            format!("127.0.0.1:{port}"),
        ),
        (
            "PUT",
            "/minio/admin/v3/add-user",
            format!("127.0.0.1:{port}"),
        ),
        (
            "GET",
            "/minio/v2/metrics/cluster",
            format!("127.0.0.1:{port}"),
        ),
        ("GET", "/minio/health/cluster", format!("127.0.0.1:{port}")),
        (
            "GET",
            "/admin/v3/info",
            format!("minio.s3.localhost:{port}"),
        ),
    ] {
        let mut headers = http::HeaderMap::new();
        headers.insert("host", host.parse().unwrap());
        let body_hash = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(b""));
        creds
            .signer("s3")
            .sign(
                method,
                path,
                "",
                &mut headers,
                &body_hash,
                stsgate::sigv4::AmzDate::now(),
            )
            .unwrap();
        let mut curl = std::process::Command::new("curl");
        curl.args(["-sS", "-X", method, "-w", "\n%{http_code}"])
            .args(["--resolve", &format!("{}:127.0.0.1", host)]);
        for (k, v) in &headers {
            if k != "host" {
                curl.arg("-H").arg(format!("{k}: {}", v.to_str().unwrap()));
            }
        }
        if method == "PUT" {
            curl.args(["-H", "content-length: 0", "--data-binary", ""]);
        }
        let out = curl.arg(format!("http://{host}{path}")).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let status = text.lines().last().unwrap_or("").to_string();
        if status != "400" || !text.contains("InvalidBucketName") {
            leaks.push(format!("{method} {path} (host {host}): {text}"));
        }
    }
    assert!(
        leaks.is_empty(),
        "MinIO's reserved paths were reachable:\n{}",
        leaks.join("\n\n")
    );
}
