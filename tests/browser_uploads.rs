//! CORS and browser POST uploads through the running gateway in front of s3s-fs, over the wire:
//! preflights answered by the gateway (never the backend), CORS headers on answers and refusals,
//! Get/Put/DeleteBucketCors from the config; POST uploads signed by boto3's
//! `generate_presigned_post` (a real client) stored byte-exact, and every attack on a POST policy
//! refused with S3's code with nothing written. `tests/browser.rs` does the same from Chromium.

mod support;

use std::process::Command;

use support::{
    Backend, Creds, Gateway, WRITER_ROLE, assume, backend_has, config_with_backend, raw_request,
};

const ORIGIN: &str = "https://app.example.com";

fn cors_rules() -> String {
    format!(
        r#"{{"CORSRules":[{{"AllowedOrigins":["{ORIGIN}"],"AllowedMethods":["GET","PUT","POST","HEAD"],"AllowedHeaders":["*"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":600}}]}}"#
    )
}

struct Setup {
    backend: Backend,
    gw: Gateway,
    writer: Creds,
    dir: tempfile::TempDir,
}

const WRITER: &str = "arn:aws:iam::111122223333:role/s3_writer";

/// s3s-fs with its bucket (CORS rules inline) and `managed-cors` (rules in a file the gateway
/// manages, none yet); a writer session of s3_writer.
fn setup() -> Option<Setup> {
    let backend = Backend::start("s3s-fs")?;
    backend.aws().ok(&["s3", "mb", "s3://managed-cors"]);
    let dir = tempfile::tempdir().unwrap();
    let backend_toml = format!(
        "{}\n[[backends.buckets]]\nname = \"{}\"\ncors = '{}'\n[[backends.buckets]]\nname = \"managed-cors\"\ncors = \"file:{}\"\nmanage_cors = true\n",
        backend.toml(),
        backend.bucket,
        cors_rules(),
        dir.path().join("managed-cors.xml").display()
    );
    let gw = Gateway::start(&config_with_backend(&backend_toml, WRITER_ROLE));
    let writer = assume(&gw, WRITER, "uploader", None);
    Some(Setup {
        backend,
        gw,
        writer,
        dir,
    })
}

fn header<'a>(reply: &'a support::RawReply, name: &str) -> Option<&'a str> {
    reply.header(name)
}

fn preflight(
    gw: &Gateway,
    path: &str,
    origin: &str,
    method: &str,
    headers: &str,
) -> support::RawReply {
    let mut h = vec![
        ("origin".to_string(), origin.to_string()),
        (
            "access-control-request-method".to_string(),
            method.to_string(),
        ),
    ];
    if !headers.is_empty() {
        h.push((
            "access-control-request-headers".to_string(),
            headers.to_string(),
        ));
    }
    raw_request(&gw.endpoint, "OPTIONS", path, &h, b"")
}

#[test]
fn preflights_are_answered_by_the_gateway_with_s3_rules() {
    let Some(s) = setup() else { return };
    let object = format!("/{}/photos/cat.png", s.backend.bucket);
    let ok = preflight(&s.gw, &object, ORIGIN, "PUT", "content-type,x-amz-date");
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(header(&ok, "access-control-allow-origin"), Some(ORIGIN));
    assert_eq!(
        header(&ok, "access-control-allow-methods"),
        Some("GET, PUT, POST, HEAD")
    );
    assert_eq!(
        header(&ok, "access-control-allow-headers"),
        Some("content-type, x-amz-date")
    );
    assert_eq!(header(&ok, "access-control-expose-headers"), Some("ETag"));
    assert_eq!(header(&ok, "access-control-max-age"), Some("600"));
    assert_eq!(
        header(&ok, "access-control-allow-credentials"),
        Some("true")
    );
    assert!(header(&ok, "vary").is_some_and(|v| v.contains("Origin")));
    // An origin no rule allows, and a method no rule allows: S3's AccessForbidden.
    for (origin, method) in [("https://evil.example.net", "PUT"), (ORIGIN, "DELETE")] {
        let no = preflight(&s.gw, &object, origin, method, "");
        assert_eq!(no.status, 403, "{origin} {method}");
        assert!(
            no.body.contains("<Code>AccessForbidden</Code>"),
            "{}",
            no.body
        );
        assert!(
            no.body
                .contains("CORSResponse: This CORS request is not allowed"),
            "{}",
            no.body
        );
        assert!(
            no.body.contains(&format!("<Method>{method}</Method>")),
            "{}",
            no.body
        );
        assert!(
            no.body.contains("<ResourceType>OBJECT</ResourceType>"),
            "{}",
            no.body
        );
        assert_eq!(header(&no, "access-control-allow-origin"), None);
    }
    // A bucket without rules, an incomplete preflight.
    let off = preflight(&s.gw, "/managed-cors/x", ORIGIN, "GET", "");
    assert_eq!(off.status, 403);
    assert!(
        off.body.contains("CORS is not enabled for this bucket"),
        "{}",
        off.body
    );
    let no_origin = raw_request(&s.gw.endpoint, "OPTIONS", &object, &[], b"");
    assert_eq!(no_origin.status, 400);
    assert!(
        no_origin.body.contains("<Code>BadRequest</Code>"),
        "{}",
        no_origin.body
    );
    // None of them reached the backend: the gateway's log forwarded nothing.
    assert!(
        !s.gw.log().contains("forwarding"),
        "a preflight was forwarded"
    );
    // Counted as preflights by outcome, not as forwarded requests.
    let metrics = support::metrics(&s.gw);
    for line in [
        "stsgate_cors_preflights_total{protocol=\"s3\",outcome=\"allowed\"} 1",
        "stsgate_cors_preflights_total{protocol=\"s3\",outcome=\"AccessForbidden\"} 3",
        "stsgate_cors_preflights_total{protocol=\"s3\",outcome=\"BadRequest\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    assert!(
        metrics.contains("stsgate_s3_forwarded_total{class=\"2xx\"} 0"),
        "{metrics}"
    );
}

fn curl_status_headers(args: &[&str]) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", "-w", "%{http_code}"])
        .args(args)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let status = text[text.len() - 3..].parse().unwrap();
    (status, text.to_ascii_lowercase())
}

#[test]
fn answers_and_refusals_carry_the_rule_headers_for_an_allowed_origin() {
    let Some(s) = setup() else { return };
    let aws = s.writer.aws(&s.gw);
    let file = s.dir.path().join("hello.txt");
    std::fs::write(&file, "hello").unwrap();
    let url = format!("s3://{}/hello.txt", s.backend.bucket);
    aws.ok(&["s3", "cp", file.to_str().unwrap(), &url]);
    let presigned = aws.ok(&["s3", "presign", &url]).trim().to_string();
    let (status, headers) = curl_status_headers(&["-H", &format!("Origin: {ORIGIN}"), &presigned]);
    assert_eq!(status, 200);
    assert!(
        headers.contains(&format!("access-control-allow-origin: {ORIGIN}")),
        "{headers}"
    );
    assert!(
        headers.contains("access-control-expose-headers: etag"),
        "{headers}"
    );
    // A refusal (a tampered signature) carries them too, so the page can read the error.
    let last = presigned.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &presigned[..presigned.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let (status, headers) = curl_status_headers(&["-H", &format!("Origin: {ORIGIN}"), &tampered]);
    assert_eq!(status, 403);
    assert!(
        headers.contains(&format!("access-control-allow-origin: {ORIGIN}")),
        "{headers}"
    );
    // Another origin gets no CORS headers (the browser then hides the answer), only Vary.
    let (_, headers) = curl_status_headers(&["-H", "Origin: https://evil.example.net", &presigned]);
    assert!(
        !headers.contains("access-control-allow-origin"),
        "{headers}"
    );
    assert!(headers.contains("vary: origin"), "{headers}");
}

#[test]
fn bucket_cors_is_read_and_managed_through_the_gateway() {
    let Some(s) = setup() else { return };
    let aws = s.writer.aws(&s.gw);
    let got = aws.ok(&["s3api", "get-bucket-cors", "--bucket", &s.backend.bucket]);
    let v: serde_json::Value = serde_json::from_str(&got).unwrap();
    assert_eq!(v["CORSRules"][0]["AllowedOrigins"][0], ORIGIN);
    assert_eq!(v["CORSRules"][0]["MaxAgeSeconds"], 600);
    // An inline configuration is the config's: PutBucketCors is refused, nothing changes.
    let rules = r#"{"CORSRules":[{"AllowedOrigins":["*"],"AllowedMethods":["GET"]}]}"#;
    let refused = support::fails(
        &aws,
        &[
            "s3api",
            "put-bucket-cors",
            "--bucket",
            &s.backend.bucket,
            "--cors-configuration",
            rules,
        ],
    );
    assert!(refused.contains("NotImplemented"), "{refused}");
    // The managed bucket: none yet, then put (the file is written and reloaded), then deleted.
    let none = support::fails(
        &aws,
        &["s3api", "get-bucket-cors", "--bucket", "managed-cors"],
    );
    assert!(none.contains("NoSuchCORSConfiguration"), "{none}");
    aws.ok(&[
        "s3api",
        "put-bucket-cors",
        "--bucket",
        "managed-cors",
        "--cors-configuration",
        rules,
    ]);
    let file = s.dir.path().join("managed-cors.xml");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let p = preflight(&s.gw, "/managed-cors/k", "https://any.example", "GET", "");
        if p.status == 200 {
            assert_eq!(header(&p, "access-control-allow-origin"), Some("*"));
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the put rules never took effect"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .contains("<AllowedOrigin>*</AllowedOrigin>")
    );
    // Malformed rules are refused with S3's code and leave the file as it was.
    let bad = r#"{"CORSRules":[{"AllowedOrigins":["*"],"AllowedMethods":["PATCH"]}]}"#;
    let err = support::fails(
        &aws,
        &[
            "s3api",
            "put-bucket-cors",
            "--bucket",
            "managed-cors",
            "--cors-configuration",
            bad,
        ],
    );
    assert!(
        err.contains("MalformedXML") || err.contains("PATCH"),
        "{err}"
    );
    aws.ok(&["s3api", "delete-bucket-cors", "--bucket", "managed-cors"]);
    assert!(!file.exists());
}

/// boto3's `generate_presigned_post` for `creds` against the gateway: (url, fields).
fn boto3_post(
    gw: &Gateway,
    creds: &Creds,
    bucket: &str,
    key: &str,
    fields: &str,
    conditions: &str,
) -> (String, Vec<(String, String)>) {
    let script = format!(
        "{}p = s3.generate_presigned_post(\"{bucket}\", \"{key}\", Fields={fields}, Conditions={conditions}, ExpiresIn=600)\nprint(json.dumps(p))",
        creds.boto3_s3(gw)
    );
    let v: serde_json::Value = serde_json::from_str(&support::python(&script, &[])).unwrap();
    let fields = v["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    (v["url"].as_str().unwrap().to_string(), fields)
}

const BOUNDARY: &str = "----stsgateTestBoundary7MA4YWxk";

fn multipart(fields: &[(String, String)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in fields {
        out.extend_from_slice(
            format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n{v}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    out
}

fn post(gw: &Gateway, path: &str, body: &[u8]) -> support::RawReply {
    raw_request(
        &gw.endpoint,
        "POST",
        path,
        &[(
            "content-type".to_string(),
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )],
        body,
    )
}

#[test]
fn a_boto3_presigned_post_stores_the_file_byte_exact() {
    let Some(s) = setup() else { return };
    let (url, fields) = boto3_post(
        &s.gw,
        &s.writer,
        &s.backend.bucket,
        "uploads/${filename}",
        r#"{"success_action_status": "201", "Content-Type": "image/png", "x-amz-meta-owner": "alice"}"#,
        r#"[{"success_action_status": "201"}, ["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 1048576], ["starts-with", "$key", "uploads/"], ["starts-with", "$x-amz-meta-owner", ""]]"#,
    );
    assert_eq!(url, format!("{}/{}", s.gw.endpoint, s.backend.bucket));
    // Every byte value, and the boundary's opening characters, inside the file.
    let mut file: Vec<u8> = (0..=255u8).cycle().take(200_000).collect();
    file.extend_from_slice(b"\r\n--not the boundary\r\n");
    let reply = post(
        &s.gw,
        &format!("/{}", s.backend.bucket),
        &multipart(&fields, "cat.png", &file),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert!(
        reply.body.contains("<Key>uploads/cat.png</Key>"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("<ETag>"), "{}", reply.body);
    assert_eq!(support::backend_bytes(&s.backend, "uploads/cat.png"), file);
    let head = s.backend.aws().ok(&[
        "s3api",
        "head-object",
        "--bucket",
        &s.backend.bucket,
        "--key",
        "uploads/cat.png",
    ]);
    assert!(head.contains("image/png"), "{head}");
    assert!(
        head.contains("\"owner\": \"alice\""),
        "metadata fields become metadata: {head}"
    );
    // The browser's CORS headers are on the answer of an allowed origin.
    let with_origin = raw_request(
        &s.gw.endpoint,
        "POST",
        &format!("/{}", s.backend.bucket),
        &[
            (
                "content-type".to_string(),
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            ("origin".to_string(), ORIGIN.to_string()),
        ],
        &multipart(&fields, "dog.png", b"woof"),
    );
    assert_eq!(with_origin.status, 201, "{}", with_origin.body);
    assert_eq!(
        with_origin.header("access-control-allow-origin"),
        Some(ORIGIN)
    );
}

/// A form signed here (as the SDKs sign it) for `creds`, with `conditions` besides the
/// signature fields' own, and `expiration`.
fn signed_fields(
    creds: &Creds,
    expiration: &str,
    conditions: &[serde_json::Value],
    fields: &[(&str, &str)],
) -> Vec<(String, String)> {
    let now = stsgate::sigv4::AmzDate::now();
    let credential = format!(
        "{}/{}/us-east-1/s3/aws4_request",
        creds.key_id,
        now.date_str()
    );
    let token = creds.token.clone().unwrap();
    let mut all = conditions.to_vec();
    all.push(serde_json::json!({"x-amz-algorithm": "AWS4-HMAC-SHA256"}));
    all.push(serde_json::json!({"x-amz-credential": credential}));
    all.push(serde_json::json!({"x-amz-date": now.as_str()}));
    all.push(serde_json::json!({"x-amz-security-token": token}));
    let doc = serde_json::json!({"expiration": expiration, "conditions": all}).to_string();
    let policy = data_encoding::BASE64.encode(doc.as_bytes());
    let key = stsgate::sigv4::SigningKey::derive(&creds.secret, now.date_str(), "us-east-1", "s3");
    let mut out: Vec<(String, String)> = fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    out.extend([
        ("x-amz-algorithm".into(), "AWS4-HMAC-SHA256".into()),
        ("x-amz-credential".into(), credential),
        ("x-amz-date".into(), now.as_str().to_string()),
        ("x-amz-security-token".into(), token),
        (
            "x-amz-signature".into(),
            hex::encode(key.sign(policy.as_bytes())),
        ),
        ("policy".into(), policy),
    ]);
    out
}

/// What an attack changes, the form, the file, the status and code S3 answers, the key it aimed at.
type Attack<'a> = (
    &'a str,
    Vec<(String, String)>,
    &'a [u8],
    u16,
    &'a str,
    &'a str,
);

#[test]
fn attacks_on_a_post_policy_are_refused_with_s3_codes_and_nothing_is_written() {
    let Some(s) = setup() else { return };
    let bucket = s.backend.bucket.clone();
    let later = "2099-01-01T00:00:00.000Z";
    let conditions = |key_prefix: &str| {
        vec![
            serde_json::json!({"bucket": bucket}),
            serde_json::json!(["starts-with", "$key", key_prefix]),
            serde_json::json!(["content-length-range", 0, 16]),
        ]
    };
    // The same form, well signed, stores: what follows breaks one thing each.
    let good = signed_fields(&s.writer, later, &conditions("in/"), &[("key", "in/good")]);
    let r = post(&s.gw, &format!("/{bucket}"), &multipart(&good, "f", b"ok"));
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(support::backend_bytes(&s.backend, "in/good"), b"ok");

    let swap = |fields: &[(String, String)], name: &str, value: &str| -> Vec<(String, String)> {
        fields
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    if k == name {
                        value.to_string()
                    } else {
                        v.clone()
                    },
                )
            })
            .collect()
    };
    let expired = signed_fields(
        &s.writer,
        "2020-01-01T00:00:00.000Z",
        &conditions("in/"),
        &[("key", "in/expired")],
    );
    let tampered_policy = {
        let f = signed_fields(
            &s.writer,
            later,
            &conditions("in/"),
            &[("key", "out/tampered")],
        );
        let other = signed_fields(
            &s.writer,
            later,
            &conditions("out/"),
            &[("key", "out/tampered")],
        );
        let policy = other.iter().find(|(k, _)| k == "policy").unwrap().1.clone();
        swap(&f, "policy", &policy)
    };
    let tampered_signature = {
        let f = signed_fields(
            &s.writer,
            later,
            &conditions("in/"),
            &[("key", "in/badsig")],
        );
        let sig = f
            .iter()
            .find(|(k, _)| k == "x-amz-signature")
            .unwrap()
            .1
            .clone();
        let flipped = format!(
            "{}{}",
            if sig.starts_with('0') { "1" } else { "0" },
            &sig[1..]
        );
        swap(&f, "x-amz-signature", &flipped)
    };
    let outside = signed_fields(
        &s.writer,
        later,
        &conditions("in/"),
        &[("key", "out/outside")],
    );
    let too_big = signed_fields(
        &s.writer,
        later,
        &conditions("in/"),
        &[("key", "in/too-big")],
    );
    let other_bucket = signed_fields(
        &s.writer,
        later,
        &[
            serde_json::json!({"bucket": "managed-cors"}),
            serde_json::json!(["starts-with", "$key", ""]),
        ],
        &[("key", "in/other-bucket"), ("bucket", "managed-cors")],
    );
    let repeated = {
        let mut f = signed_fields(
            &s.writer,
            later,
            &conditions("in/"),
            &[("key", "in/repeated")],
        );
        f.push(("Key".into(), "out/repeated".into()));
        f
    };
    let uncovered = signed_fields(
        &s.writer,
        later,
        &conditions("in/"),
        &[("key", "in/uncovered"), ("acl", "public-read")],
    );
    // A session whose own policy denies the key: the policy document allows it, IAM does not.
    let narrow = assume(
        &s.gw,
        WRITER,
        "narrow",
        Some(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:PutObject","Resource":"arn:aws:s3:::*/in/allowed/*"}]}"#,
        ),
    );
    let denied_session = signed_fields(&narrow, later, &conditions("in/"), &[("key", "in/denied")]);
    let cases: Vec<Attack> = vec![
        (
            "expired policy",
            expired,
            b"x",
            403,
            "AccessDenied",
            "in/expired",
        ),
        (
            "tampered policy",
            tampered_policy,
            b"x",
            403,
            "SignatureDoesNotMatch",
            "out/tampered",
        ),
        (
            "tampered signature",
            tampered_signature,
            b"x",
            403,
            "SignatureDoesNotMatch",
            "in/badsig",
        ),
        (
            "key outside starts-with",
            outside,
            b"x",
            403,
            "AccessDenied",
            "out/outside",
        ),
        (
            "file over content-length-range",
            too_big,
            &[7u8; 17],
            400,
            "EntityTooLarge",
            "in/too-big",
        ),
        (
            "bucket field naming another bucket",
            other_bucket,
            b"x",
            403,
            "AccessDenied",
            "in/other-bucket",
        ),
        (
            "a field repeated",
            repeated,
            b"x",
            400,
            "MalformedPOSTRequest",
            "in/repeated",
        ),
        (
            "a field no condition covers",
            uncovered,
            b"x",
            403,
            "AccessDenied",
            "in/uncovered",
        ),
        (
            "session policy denies the key",
            denied_session,
            b"x",
            403,
            "AccessDenied",
            "in/denied",
        ),
    ];
    for (what, fields, file, status, code, key) in cases {
        let r = post(&s.gw, &format!("/{bucket}"), &multipart(&fields, "f", file));
        assert_eq!(r.status, status, "{what}: {}", r.body);
        assert!(
            r.body.contains(&format!("<Code>{code}</Code>")),
            "{what}: {}",
            r.body
        );
        assert!(!backend_has(&s.backend, key), "{what}: {key} was written");
        if what == "bucket field naming another bucket" {
            let listed = s
                .backend
                .aws()
                .ok(&["s3", "ls", "s3://managed-cors/", "--recursive"]);
            assert!(
                listed.trim().is_empty(),
                "written to the other bucket: {listed}"
            );
        }
    }
    // The form's boundary inside the file: another reader would see a second part; refused and
    // the upload aborted before the object is complete.
    let f = signed_fields(
        &s.writer,
        later,
        &[
            serde_json::json!({"bucket": bucket}),
            serde_json::json!(["starts-with", "$key", "in/"]),
        ],
        &[("key", "in/smuggled")],
    );
    let mut body = multipart(&f, "f", b"");
    let closing = format!("\r\n--{BOUNDARY}--\r\n");
    body.truncate(body.len() - closing.len());
    body.extend_from_slice(format!("first\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nin/x{closing}").as_bytes());
    let r = post(&s.gw, &format!("/{bucket}"), &body);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("MalformedPOSTRequest"), "{}", r.body);
    assert!(!backend_has(&s.backend, "in/smuggled"));
    // A form announcing more than one PutObject may hold is refused before it is read.
    let huge = raw_request(
        &s.gw.endpoint,
        "POST",
        &format!("/{bucket}"),
        &[
            (
                "content-type".to_string(),
                format!("multipart/form-data; boundary={BOUNDARY}"),
            ),
            ("content-length".to_string(), (6u64 << 30).to_string()),
        ],
        b"--",
    );
    assert_eq!(huge.status, 400, "{}", huge.body);
    assert!(huge.body.contains("EntityTooLarge"), "{}", huge.body);
    // No signature at all: an anonymous upload, refused without a bucket policy granting it.
    let anon = multipart(
        &[("key".to_string(), "in/anonymous".to_string())],
        "f",
        b"x",
    );
    let r = post(&s.gw, &format!("/{bucket}"), &anon);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(!backend_has(&s.backend, "in/anonymous"));
}

/// The stores users put behind the gateway: a boto3 form stores 3 MiB byte-exact on MinIO,
/// Garage and radosgw, and a form whose file smuggles the boundary after its first MiB (already
/// streamed to the store when the gateway sees it) is refused and leaves nothing there: the
/// aborted upload is not completed by any of them.
#[test]
fn post_uploads_store_byte_exact_and_abort_cleanly_on_minio_garage_and_radosgw() {
    for kind in ["minio", "garage", "radosgw"] {
        let Some(backend) = Backend::start(kind) else {
            continue;
        };
        let gw = Gateway::start(&config_with_backend(&backend.toml(), WRITER_ROLE));
        let writer = assume(&gw, WRITER, "uploader", None);
        let bucket = backend.bucket.clone();
        let (_, fields) = boto3_post(
            &gw,
            &writer,
            &bucket,
            "forms/${filename}",
            "{}",
            r#"[["starts-with", "$key", "forms/"]]"#,
        );
        let file: Vec<u8> = (0..=255u8).cycle().take(3 << 20).collect();
        let r = post(
            &gw,
            &format!("/{bucket}"),
            &multipart(&fields, "big.bin", &file),
        );
        assert_eq!(r.status, 204, "{kind}: {}", r.body);
        assert_eq!(
            support::backend_bytes(&backend, "forms/big.bin"),
            file,
            "{kind}"
        );
        let mut smuggled: Vec<u8> = vec![b'a'; 1 << 20];
        smuggled.extend_from_slice(
            format!("\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv")
                .as_bytes(),
        );
        let r = post(
            &gw,
            &format!("/{bucket}"),
            &multipart(&fields, "smuggled.bin", &smuggled),
        );
        assert_eq!(r.status, 400, "{kind}: {}", r.body);
        assert!(
            r.body.contains("MalformedPOSTRequest"),
            "{kind}: {}",
            r.body
        );
        assert!(
            !backend_has(&backend, "forms/smuggled.bin"),
            "{kind} completed an aborted upload"
        );
    }
}
