//! Security round 2, row 1, against every real backend: a multipart upload id is bound to the
//! key it was created for. One session starts an upload of a key another session may not touch;
//! the other, allowed only `tmp/*`, tries CompleteMultipartUpload, UploadPart, ListParts and
//! AbortMultipartUpload with that id on its own key: each is `404 NoSuchUpload`, the backend's own
//! listing still has the upload, and nothing was assembled. Then the owner resumes the upload as a
//! client does (ListMultipartUploads → ListParts → Complete) and gets its object.
//!
//! s3s-fs binds an upload only to the access key that created it, and behind the gateway every
//! caller shares the backend's key: without the gateway's binding this test fails there.

mod support;

use support::{Backend, Creds, Gateway, RawReply, WRITER_ROLE, assume};

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";

fn signed(
    gw: &Gateway,
    creds: &Creds,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
) -> RawReply {
    support::signed_s3_request(&gw.endpoint, creds, method, path, query, body)
}

fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    xml.split(&format!("<{name}>"))
        .nth(1)
        .and_then(|rest| rest.split(&format!("</{name}>")).next())
}

fn complete_body(etag: &str) -> String {
    format!(
        "<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>{etag}</ETag></Part></CompleteMultipartUpload>"
    )
}

fn upload_ids_are_bound_to_their_key(kind: &str) {
    let Some(backend) = Backend::start(kind) else {
        return;
    };
    let gw = Gateway::in_front_of(&backend, WRITER_ROLE);
    let bucket = backend.bucket.clone();
    let victim = assume(&gw, WRITER, "victim", None);
    let tmp_only = format!(
        r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::{bucket}/tmp/*","arn:aws:s3:::{bucket}"]}}}}"#
    );
    let attacker = assume(&gw, WRITER, "attacker", Some(&tmp_only));
    let victim_path = format!("/{bucket}/private/victim");
    let loot_path = format!("/{bucket}/tmp/loot");

    let created = signed(&gw, &victim, "POST", &victim_path, "uploads=", b"");
    assert_eq!(created.status, 200, "{kind}: {created:?}");
    let id = element(&created.body, "UploadId")
        .expect("UploadId")
        .to_string();
    let part_body = b"the victim's secret part".repeat(10);
    let part = signed(
        &gw,
        &victim,
        "PUT",
        &victim_path,
        &format!("partNumber=1&uploadId={id}"),
        &part_body,
    );
    assert_eq!(part.status, 200, "{kind}: {part:?}");
    let etag = part.header("etag").expect("ETag").to_string();

    // The attacker's four tries, each on its own allowed key.
    let complete = complete_body(&etag);
    for (method, query, body) in [
        ("POST", format!("uploadId={id}"), complete.as_bytes()),
        ("PUT", format!("partNumber=2&uploadId={id}"), &b"more"[..]),
        ("GET", format!("uploadId={id}"), &b""[..]),
        ("DELETE", format!("uploadId={id}"), &b""[..]),
    ] {
        let reply = signed(&gw, &attacker, method, &loot_path, &query, body);
        assert_eq!(
            (reply.status, element(&reply.body, "Code")),
            (404, Some("NoSuchUpload")),
            "{kind}: {method} tmp/loot?{query}: {reply:?}"
        );
    }
    // Nothing was assembled, and the upload is still there (Abort never reached the backend).
    assert!(
        !support::backend_has(&backend, "tmp/loot"),
        "{kind}: the victim's parts were assembled into the attacker's key"
    );
    let listed = backend.aws().ok(&[
        "s3api",
        "list-parts",
        "--bucket",
        &bucket,
        "--key",
        "private/victim",
        "--upload-id",
        // The backend's own id: what the gateway forwards for the owner's requests.
        &backend_upload_id(&backend, &bucket),
    ]);
    assert!(listed.contains("\"PartNumber\": 1"), "{kind}: {listed}");

    // The owner resumes: the listing shows the same id it was given, ListParts answers with it.
    let uploads = signed(&gw, &victim, "GET", &format!("/{bucket}"), "uploads=", b"");
    if uploads.status == 501 {
        // s3s-fs does not implement ListMultipartUploads.
        println!(
            "{kind}: ListMultipartUploads not implemented by the backend (501), passed through"
        );
    } else {
        assert_eq!(uploads.status, 200, "{kind}: {uploads:?}");
        assert!(
            uploads.body.contains(&format!("<UploadId>{id}</UploadId>")),
            "{kind}: the listing does not show the id the gateway issued: {}",
            uploads.body
        );
    }
    let parts = signed(
        &gw,
        &victim,
        "GET",
        &victim_path,
        &format!("uploadId={id}"),
        b"",
    );
    assert_eq!(parts.status, 200, "{kind}: {parts:?}");
    assert_eq!(
        element(&parts.body, "UploadId"),
        Some(id.as_str()),
        "{kind}: {}",
        parts.body
    );
    let done = signed(
        &gw,
        &victim,
        "POST",
        &victim_path,
        &format!("uploadId={id}"),
        complete.as_bytes(),
    );
    assert_eq!(done.status, 200, "{kind}: {done:?}");
    let got = signed(&gw, &victim, "GET", &victim_path, "", b"");
    assert_eq!(
        (got.status, got.body.as_bytes()),
        (200, &part_body[..]),
        "{kind}"
    );
}

/// The backend's own id of the one upload in `bucket`, listed with the backend's credentials
/// (s3s-fs has no ListMultipartUploads: its id is found in its data directory).
fn backend_upload_id(backend: &Backend, bucket: &str) -> String {
    if backend.kind == "s3s-fs" {
        let entry = std::fs::read_dir(backend.dir().join("root"))
            .unwrap()
            .filter_map(Result::ok)
            .find_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_prefix(".upload-")
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            });
        return entry.expect("s3s-fs keeps a .upload-<id>.json per upload");
    }
    let out = backend.aws().ok(&[
        "s3api",
        "list-multipart-uploads",
        "--bucket",
        bucket,
        "--query",
        "Uploads[?Key=='private/victim'].UploadId",
        "--output",
        "text",
    ]);
    out.trim().to_string()
}

#[test]
fn upload_ids_are_bound_to_their_key_on_s3s_fs() {
    upload_ids_are_bound_to_their_key("s3s-fs");
}

#[test]
fn upload_ids_are_bound_to_their_key_on_garage() {
    upload_ids_are_bound_to_their_key("garage");
}

#[test]
fn upload_ids_are_bound_to_their_key_on_minio() {
    upload_ids_are_bound_to_their_key("minio");
}

#[test]
fn upload_ids_are_bound_to_their_key_on_radosgw() {
    upload_ids_are_bound_to_their_key("radosgw");
}
