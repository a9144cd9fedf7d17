//! The form reader and the policy rules, attacked: two readings of one form, repeated fields,
//! policies tampered with, conditions not met, fields not covered.

use super::*;

const B: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

fn form(fields: &[(&str, &str)], filename: &str, file: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in fields {
        out.extend_from_slice(
            format!("--{B}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                .as_bytes(),
        );
    }
    out.extend_from_slice(
        format!("--{B}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: text/plain\r\n\r\n").as_bytes(),
    );
    out.extend_from_slice(file);
    out.extend_from_slice(&Form::closing(B));
    out
}

fn scanned(body: &[u8]) -> Result<Form, PostError> {
    match scan_form(body, B)? {
        Scan::Form(f) => Ok(f),
        Scan::NeedMore => panic!("the whole form was given"),
    }
}

#[test]
fn a_browser_form_reads_up_to_the_file_at_every_split() {
    let body = form(
        &[
            ("key", "user/alice/${filename}"),
            ("Content-Type", "image/png"),
        ],
        "cat.png",
        b"PNG...",
    );
    let f = scanned(&body).unwrap();
    assert_eq!(f.get("KEY"), Some("user/alice/${filename}"));
    assert_eq!(f.get("content-type"), Some("image/png"));
    assert_eq!(f.filename, "cat.png");
    assert_eq!(&body[f.file_start..f.file_start + 6], b"PNG...");
    assert_eq!(object_key(&f).unwrap(), "user/alice/cat.png");
    // However the bytes arrive, the reader asks for more until the file starts, then agrees.
    for cut in 0..f.file_start {
        assert_eq!(
            scan_form(&body[..cut], B),
            Ok(Scan::NeedMore),
            "cut at {cut}"
        );
    }
}

#[test]
fn forms_another_reader_could_read_otherwise_are_refused() {
    let dup = form(&[("key", "a"), ("KEY", "b")], "f", b"x");
    assert_eq!(scanned(&dup).unwrap_err().code, "MalformedPOSTRequest");
    let preamble = [b"junk\r\n".as_slice(), &form(&[("key", "a")], "f", b"x")].concat();
    assert_eq!(scanned(&preamble).unwrap_err().code, "MalformedPOSTRequest");
    let encoded = format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"key\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYQ==\r\n"
    );
    assert_eq!(
        scan_form(encoded.as_bytes(), B).unwrap_err().code,
        "MalformedPOSTRequest"
    );
    let two_names = format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"key\"; name=\"bucket\"\r\n\r\na\r\n"
    );
    assert_eq!(
        scan_form(two_names.as_bytes(), B).unwrap_err().code,
        "MalformedPOSTRequest"
    );
    let escaped = format!("--{B}\r\nContent-Disposition: form-data; name=\"ke\\\"y\"\r\n\r\na\r\n");
    assert_eq!(
        scan_form(escaped.as_bytes(), B).unwrap_err().code,
        "MalformedPOSTRequest"
    );
    let other_file = format!(
        "--{B}\r\nContent-Disposition: form-data; name=\"key\"; filename=\"k\"\r\n\r\na\r\n"
    );
    assert_eq!(
        scan_form(other_file.as_bytes(), B).unwrap_err().code,
        "MalformedPOSTRequest"
    );
    let no_file =
        format!("--{B}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\na\r\n--{B}--\r\n");
    assert_eq!(
        scan_form(no_file.as_bytes(), B).unwrap_err().message,
        PostError::missing("file").message
    );
}

#[test]
fn fields_before_the_file_are_bounded() {
    let big = "v".repeat(MAX_PRE_FILE + MAX_PART_HEADERS);
    let body = form(&[("x-amz-meta-big", &big)], "f", b"x");
    assert_eq!(
        scanned(&body).unwrap_err().code,
        "MaxPostPreDataLengthExceededError"
    );
    // Refused as soon as the limit is passed, not when the whole field has arrived.
    assert_eq!(
        scan_form(&body[..MAX_PRE_FILE + MAX_PART_HEADERS + 200], B)
            .unwrap_err()
            .code,
        "MaxPostPreDataLengthExceededError"
    );
}

#[test]
fn boundaries_come_from_the_content_type_only() {
    assert_eq!(
        boundary(&format!("multipart/form-data; boundary={B}")).unwrap(),
        B
    );
    assert_eq!(
        boundary("multipart/form-data; boundary=\"a b\"")
            .unwrap_err()
            .code,
        "MalformedPOSTRequest"
    );
    assert_eq!(
        boundary("multipart/form-data; boundary=\"abc\"").unwrap(),
        "abc"
    );
    assert!(boundary("multipart/form-data; boundary=a; boundary=b").is_err());
    assert!(boundary("application/x-www-form-urlencoded").is_err());
    assert!(boundary("multipart/form-data").is_err());
}

fn policy(json: &str) -> String {
    data_encoding::BASE64.encode(json.as_bytes())
}

const NOW: i64 = 1_790_000_000; // 2026-09-21

fn doc(conditions: &str) -> String {
    format!(r#"{{"expiration": "2026-12-31T12:00:00.000Z", "conditions": [{conditions}]}}"#)
}

fn fields(pairs: &[(&str, &str)]) -> Form {
    Form {
        fields: pairs
            .iter()
            .map(|(n, v)| Field {
                name: n.to_string(),
                value: v.to_string(),
            })
            .collect(),
        filename: "cat.png".into(),
        file_start: 0,
    }
}

const SIGNED: &[(&str, &str)] = &[
    ("x-amz-algorithm", "AWS4-HMAC-SHA256"),
    (
        "x-amz-credential",
        "ASIAX/20260921/us-east-1/s3/aws4_request",
    ),
    ("x-amz-date", "20260921T000000Z"),
    ("x-amz-signature", "00"),
    ("policy", "..."),
];

fn with_signed(extra: &[(&'static str, &'static str)]) -> Form {
    let mut all = SIGNED.to_vec();
    all.extend_from_slice(extra);
    fields(&all)
}

const SIGNED_CONDITIONS: &str = r#"{"x-amz-algorithm": "AWS4-HMAC-SHA256"}, {"x-amz-credential": "ASIAX/20260921/us-east-1/s3/aws4_request"}, {"x-amz-date": "20260921T000000Z"}"#;

#[test]
fn a_policy_that_covers_the_form_passes_and_each_broken_condition_is_named() {
    let p = Policy::parse(&policy(&doc(&format!(
        r#"{{"bucket": "uploads"}}, ["starts-with", "$key", "user/alice/"], ["starts-with", "$Content-Type", "image/"], ["content-length-range", 1, 1024], {{"success_action_status": "201"}}, {SIGNED_CONDITIONS}"#
    ))))
    .unwrap();
    let ok = with_signed(&[
        ("key", "user/alice/${filename}"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
    ]);
    p.check(&ok, "uploads", NOW, 10).unwrap();
    // The bucket is the URL's: a policy for another bucket does not fit this one.
    let e = p.check(&ok, "other", NOW, 10).unwrap_err();
    assert_eq!((e.status, e.code), (403, "AccessDenied"));
    assert_eq!(
        e.message,
        "Invalid according to Policy: Policy Condition failed: [\"eq\", \"$bucket\", \"uploads\"]"
    );
    // A key outside the prefix.
    let out = with_signed(&[
        ("key", "user/bob/x"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
    ]);
    assert!(
        p.check(&out, "uploads", NOW, 10)
            .unwrap_err()
            .message
            .contains("[\"starts-with\", \"$key\", \"user/alice/\"]")
    );
    // Sizes outside the range.
    let big = p.check(&ok, "uploads", NOW, 1025).unwrap_err();
    assert_eq!((big.status, big.code), (400, "EntityTooLarge"));
    assert_eq!(
        big.extra,
        vec![
            ("ProposedSize", "1025".to_string()),
            ("MaxSizeAllowed", "1024".to_string())
        ]
    );
    assert_eq!(
        p.check(&ok, "uploads", NOW, 0).unwrap_err().code,
        "EntityTooSmall"
    );
    // A field no condition names.
    let extra = with_signed(&[
        ("key", "user/alice/a"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
        ("acl", "public-read"),
    ]);
    assert_eq!(
        p.check(&extra, "uploads", NOW, 10).unwrap_err().message,
        "Invalid according to Policy: Extra input fields: acl"
    );
    // A bucket field is a field like any other: it must be covered (here it is, and matches).
    let bucket_field = with_signed(&[
        ("key", "user/alice/a"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
        ("bucket", "uploads"),
    ]);
    p.check(&bucket_field, "uploads", NOW, 10).unwrap();
    // A bucket field naming another bucket than the URL's is refused, whatever the policy says.
    let elsewhere = with_signed(&[
        ("key", "user/alice/a"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
        ("bucket", "other"),
    ]);
    let e = p.check(&elsewhere, "uploads", NOW, 10).unwrap_err();
    assert_eq!((e.status, e.code), (403, "AccessDenied"));
    assert!(e.message.contains("names other"), "{}", e.message);
    // x-ignore- fields are exempt.
    let ignored = with_signed(&[
        ("key", "user/alice/a"),
        ("Content-Type", "image/png"),
        ("success_action_status", "201"),
        ("x-ignore-note", "hi"),
    ]);
    p.check(&ignored, "uploads", NOW, 10).unwrap();
    // Content-Type lists: every item must fit.
    let list = with_signed(&[
        ("key", "user/alice/a"),
        ("Content-Type", "image/png, text/html"),
        ("success_action_status", "201"),
    ]);
    assert_eq!(
        p.check(&list, "uploads", NOW, 10).unwrap_err().code,
        "AccessDenied"
    );
}

#[test]
fn expired_and_malformed_policies_are_refused_with_s3_codes() {
    let expired = Policy::parse(&policy(
        r#"{"expiration": "2020-01-01T00:00:00Z", "conditions": []}"#,
    ))
    .unwrap();
    assert_eq!(
        expired
            .check(&fields(&[]), "b", NOW, 0)
            .unwrap_err()
            .message,
        "Invalid according to Policy: Policy expired."
    );
    for bad in [
        "not base64!".to_string(),
        policy("not json"),
        policy(r#"{"conditions": []}"#),
        policy(r#"{"expiration": "2026-12-31T12:00:00+01:00", "conditions": []}"#),
        policy(&doc(r#"{"a": "1", "b": "2"}"#)),
        policy(&doc(r#"["starts-with", "$bucket", "up"]"#)),
        policy(&doc(r#"["starts-with", "$x-amz-credential", ""]"#)),
        policy(&doc(r#"["eq", "key", "a"]"#)),
        policy(&doc(r#"["content-length-range", 10, 1]"#)),
        policy(&doc(r#"["content-length-range", -1, 1]"#)),
        policy(&doc(r#"["matches", "$key", "a"]"#)),
        policy(&doc(r#"{"key": 1}"#)),
        policy(r#"{"expiration": "2026-12-31T12:00:00Z", "conditions": [], "extra": 1}"#),
    ] {
        let e = Policy::parse(&bad).unwrap_err();
        assert_eq!((e.status, e.code), (400, "InvalidPolicyDocument"), "{bad}");
    }
    // Both date forms S3 takes.
    Policy::parse(&policy(
        r#"{"expiration": "2026-12-31T12:00:00Z", "conditions": []}"#,
    ))
    .unwrap();
}

#[test]
fn tagging_fields_become_the_tagging_header() {
    let xml = "<Tagging><TagSet><Tag><Key>team</Key><Value>data eng</Value></Tag><Tag><Key>a&amp;b</Key><Value>1</Value></Tag></TagSet></Tagging>";
    assert_eq!(tagging_header(xml).unwrap(), "team=data%20eng&a%26b=1");
    assert!(tagging_header("<Tags/>").is_err());
}
