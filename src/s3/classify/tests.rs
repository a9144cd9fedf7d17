use http::{HeaderMap, HeaderName, HeaderValue};

use super::*;
use crate::s3::address::{address, check_bucket, host_name};

fn q(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn h(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut m = HeaderMap::new();
    for (k, v) in pairs {
        m.insert(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    m
}

fn run(
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    headers: &[(&str, &str)],
) -> Result<Classified, ClassifyError> {
    let target = address(Some("127.0.0.1:7480"), path, &["s3.localhost".to_string()])?;
    classify(method, &target, &q(query), &h(headers))
}

/// (method, path, query, headers, operation, first action, its resource)
type Case<'a> = (
    &'a str,
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a [(&'a str, &'a str)],
    &'a str,
    &'a str,
    &'a str,
);

fn actions(c: &Classified) -> Vec<(&str, &str)> {
    c.checks
        .iter()
        .map(|k| (k.action, k.resource.as_str()))
        .collect()
}

#[test]
fn operation_table() {
    let b = "arn:aws:s3:::bkt";
    let o = "arn:aws:s3:::bkt/dir/key.txt";
    let cases: &[Case] = &[
        (
            "GET",
            "/",
            &[],
            &[],
            "ListBuckets",
            "s3:ListAllMyBuckets",
            "arn:aws:s3:::*",
        ),
        (
            "PUT",
            "/bkt",
            &[],
            &[],
            "CreateBucket",
            "s3:CreateBucket",
            b,
        ),
        (
            "DELETE",
            "/bkt",
            &[],
            &[],
            "DeleteBucket",
            "s3:DeleteBucket",
            b,
        ),
        ("HEAD", "/bkt", &[], &[], "HeadBucket", "s3:ListBucket", b),
        ("GET", "/bkt", &[], &[], "ListObjects", "s3:ListBucket", b),
        (
            "GET",
            "/bkt/",
            &[("list-type", "2"), ("prefix", "a/")],
            &[],
            "ListObjectsV2",
            "s3:ListBucket",
            b,
        ),
        (
            "GET",
            "/bkt",
            &[("versions", "")],
            &[],
            "ListObjectVersions",
            "s3:ListBucketVersions",
            b,
        ),
        (
            "GET",
            "/bkt",
            &[("uploads", "")],
            &[],
            "ListMultipartUploads",
            "s3:ListBucketMultipartUploads",
            b,
        ),
        (
            "GET",
            "/bkt",
            &[("location", "")],
            &[],
            "GetBucketLocation",
            "s3:GetBucketLocation",
            b,
        ),
        (
            "GET",
            "/bkt",
            &[("tagging", "")],
            &[],
            "GetBucketTagging",
            "s3:GetBucketTagging",
            b,
        ),
        (
            "DELETE",
            "/bkt",
            &[("tagging", "")],
            &[],
            "DeleteBucketTagging",
            "s3:PutBucketTagging",
            b,
        ),
        (
            "PUT",
            "/bkt",
            &[("versioning", "")],
            &[],
            "PutBucketVersioning",
            "s3:PutBucketVersioning",
            b,
        ),
        (
            "DELETE",
            "/bkt",
            &[("policy", "")],
            &[],
            "DeleteBucketPolicy",
            "s3:DeleteBucketPolicy",
            b,
        ),
        (
            "GET",
            "/bkt",
            &[("policyStatus", "")],
            &[],
            "GetBucketPolicyStatus",
            "s3:GetBucketPolicyStatus",
            b,
        ),
        (
            "DELETE",
            "/bkt",
            &[("cors", "")],
            &[],
            "DeleteBucketCors",
            "s3:PutBucketCORS",
            b,
        ),
        (
            "DELETE",
            "/bkt",
            &[("encryption", "")],
            &[],
            "DeleteBucketEncryption",
            "s3:PutEncryptionConfiguration",
            b,
        ),
        (
            "DELETE",
            "/bkt",
            &[("website", "")],
            &[],
            "DeleteBucketWebsite",
            "s3:DeleteBucketWebsite",
            b,
        ),
        (
            "GET",
            "/bkt",
            &[("object-lock", "")],
            &[],
            "GetObjectLockConfiguration",
            "s3:GetBucketObjectLockConfiguration",
            b,
        ),
        (
            "PUT",
            "/bkt",
            &[("publicAccessBlock", "")],
            &[],
            "PutPublicAccessBlock",
            "s3:PutBucketPublicAccessBlock",
            b,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[],
            &[],
            "GetObject",
            "s3:GetObject",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[("versionId", "v1")],
            &[],
            "GetObject",
            "s3:GetObjectVersion",
            o,
        ),
        (
            "HEAD",
            "/bkt/dir/key.txt",
            &[],
            &[],
            "HeadObject",
            "s3:GetObject",
            o,
        ),
        (
            "PUT",
            "/bkt/dir/key.txt",
            &[],
            &[],
            "PutObject",
            "s3:PutObject",
            o,
        ),
        (
            "DELETE",
            "/bkt/dir/key.txt",
            &[("versionId", "v1")],
            &[],
            "DeleteObject",
            "s3:DeleteObjectVersion",
            o,
        ),
        (
            "POST",
            "/bkt/dir/key.txt",
            &[("uploads", "")],
            &[],
            "CreateMultipartUpload",
            "s3:PutObject",
            o,
        ),
        (
            "PUT",
            "/bkt/dir/key.txt",
            &[("partNumber", "1"), ("uploadId", "u")],
            &[],
            "UploadPart",
            "s3:PutObject",
            o,
        ),
        (
            "POST",
            "/bkt/dir/key.txt",
            &[("uploadId", "u")],
            &[],
            "CompleteMultipartUpload",
            "s3:PutObject",
            o,
        ),
        (
            "DELETE",
            "/bkt/dir/key.txt",
            &[("uploadId", "u")],
            &[],
            "AbortMultipartUpload",
            "s3:AbortMultipartUpload",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[("uploadId", "u")],
            &[],
            "ListParts",
            "s3:ListMultipartUploadParts",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[("tagging", "")],
            &[],
            "GetObjectTagging",
            "s3:GetObjectTagging",
            o,
        ),
        (
            "PUT",
            "/bkt/dir/key.txt",
            &[("tagging", ""), ("versionId", "v")],
            &[],
            "PutObjectTagging",
            "s3:PutObjectVersionTagging",
            o,
        ),
        (
            "DELETE",
            "/bkt/dir/key.txt",
            &[("tagging", "")],
            &[],
            "DeleteObjectTagging",
            "s3:DeleteObjectTagging",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[("acl", "")],
            &[],
            "GetObjectAcl",
            "s3:GetObjectAcl",
            o,
        ),
        (
            "PUT",
            "/bkt/dir/key.txt",
            &[("retention", "")],
            &[],
            "PutObjectRetention",
            "s3:PutObjectRetention",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[("legal-hold", "")],
            &[],
            "GetObjectLegalHold",
            "s3:GetObjectLegalHold",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[("attributes", ""), ("versionId", "v")],
            &[],
            "GetObjectAttributes",
            "s3:GetObjectVersionAttributes",
            o,
        ),
        (
            "POST",
            "/bkt/dir/key.txt",
            &[("select", ""), ("select-type", "2")],
            &[],
            "SelectObjectContent",
            "s3:GetObject",
            o,
        ),
        (
            "POST",
            "/bkt/dir/key.txt",
            &[("restore", "")],
            &[],
            "RestoreObject",
            "s3:RestoreObject",
            o,
        ),
        (
            "GET",
            "/bkt/dir/key.txt",
            &[
                ("x-id", "GetObject"),
                ("response-content-type", "text/plain"),
            ],
            &[],
            "GetObject",
            "s3:GetObject",
            o,
        ),
    ];
    for (method, path, query, headers, op, action, resource) in cases {
        let c = run(method, path, query, headers)
            .unwrap_or_else(|e| panic!("{method} {path} {query:?}: {e:?}"));
        assert_eq!(c.operation, *op, "{method} {path} {query:?}");
        assert_eq!(
            actions(&c)[0],
            (*action, *resource),
            "{method} {path} {query:?}"
        );
    }
    assert!(cases.len() >= 39);
}

#[test]
fn copy_needs_both_sides() {
    let c = run(
        "PUT",
        "/dst/new",
        &[],
        &[("x-amz-copy-source", "/src/old%20name.txt?versionId=v3")],
    )
    .unwrap();
    assert_eq!(c.operation, "CopyObject");
    assert_eq!(
        actions(&c),
        vec![
            ("s3:PutObject", "arn:aws:s3:::dst/new"),
            ("s3:GetObjectVersion", "arn:aws:s3:::src/old name.txt"),
            // The tags are copied too (x-amz-tagging-directive defaults to COPY).
            (
                "s3:GetObjectVersionTagging",
                "arn:aws:s3:::src/old name.txt"
            ),
            ("s3:PutObjectTagging", "arn:aws:s3:::dst/new"),
        ]
    );
    let c = run(
        "PUT",
        "/dst/new",
        &[],
        &[
            ("x-amz-copy-source", "src/a"),
            ("x-amz-tagging-directive", "COPY"),
        ],
    )
    .unwrap();
    assert_eq!(
        actions(&c),
        vec![
            ("s3:PutObject", "arn:aws:s3:::dst/new"),
            ("s3:GetObject", "arn:aws:s3:::src/a"),
            ("s3:GetObjectTagging", "arn:aws:s3:::src/a"),
            ("s3:PutObjectTagging", "arn:aws:s3:::dst/new"),
        ]
    );
    // REPLACE: no tags are read; new ones (x-amz-tagging) need s3:PutObjectTagging as on PUT.
    for (extra, want) in [
        (
            None,
            vec![
                ("s3:PutObject", "arn:aws:s3:::dst/new"),
                ("s3:GetObject", "arn:aws:s3:::src/a"),
            ],
        ),
        (
            Some(("x-amz-tagging", "a=b")),
            vec![
                ("s3:PutObject", "arn:aws:s3:::dst/new"),
                ("s3:PutObjectTagging", "arn:aws:s3:::dst/new"),
                ("s3:GetObject", "arn:aws:s3:::src/a"),
            ],
        ),
    ] {
        let mut headers = vec![
            ("x-amz-copy-source", "src/a"),
            ("x-amz-tagging-directive", "REPLACE"),
        ];
        headers.extend(extra);
        assert_eq!(
            actions(&run("PUT", "/dst/new", &[], &headers).unwrap()),
            want,
            "{extra:?}"
        );
    }
    // Another spelling is not S3's REPLACE: the tags are checked as for a copy.
    for directive in ["replace", " REPLACE", "Replace"] {
        let c = run(
            "PUT",
            "/dst/new",
            &[],
            &[
                ("x-amz-copy-source", "src/a"),
                ("x-amz-tagging-directive", directive),
            ],
        )
        .unwrap();
        assert!(
            actions(&c).contains(&("s3:GetObjectTagging", "arn:aws:s3:::src/a")),
            "{directive:?}"
        );
    }
    let c = run(
        "PUT",
        "/dst/new",
        &[("partNumber", "2"), ("uploadId", "u")],
        &[("x-amz-copy-source", "src/a")],
    )
    .unwrap();
    assert_eq!(c.operation, "UploadPartCopy");
    assert_eq!(actions(&c)[1], ("s3:GetObject", "arn:aws:s3:::src/a"));
    assert_eq!(
        run("PUT", "/dst/new", &[], &[("x-amz-copy-source", "nobucket")])
            .unwrap_err()
            .code,
        "InvalidArgument"
    );
}

#[test]
fn add_on_actions() {
    let c = run(
        "PUT",
        "/b1b/k",
        &[],
        &[
            ("x-amz-acl", "public-read"),
            ("x-amz-tagging", "a=b"),
            ("x-amz-object-lock-legal-hold", "ON"),
        ],
    )
    .unwrap();
    let names: Vec<_> = c.checks.iter().map(|k| k.action).collect();
    assert_eq!(
        names,
        [
            "s3:PutObject",
            "s3:PutObjectAcl",
            "s3:PutObjectTagging",
            "s3:PutObjectLegalHold"
        ]
    );
    assert!(
        c.condition_keys
            .contains(&("s3:x-amz-acl", "public-read".to_string()))
    );
    let c = run(
        "PUT",
        "/newbucket",
        &[],
        &[("x-amz-bucket-object-lock-enabled", "true")],
    )
    .unwrap();
    assert_eq!(c.checks.len(), 3);
    let c = run(
        "DELETE",
        "/b1b/k",
        &[],
        &[("x-amz-bypass-governance-retention", "true")],
    )
    .unwrap();
    assert_eq!(c.checks[1].action, "s3:BypassGovernanceRetention");
}

#[test]
fn list_condition_keys() {
    let c = run(
        "GET",
        "/bkt",
        &[
            ("list-type", "2"),
            ("prefix", "home/bob/"),
            ("delimiter", "/"),
            ("max-keys", "10"),
        ],
        &[],
    )
    .unwrap();
    for key in [
        ("s3:prefix", "home/bob/"),
        ("s3:delimiter", "/"),
        ("s3:max-keys", "10"),
    ] {
        assert!(
            c.condition_keys.contains(&(key.0, key.1.to_string())),
            "{key:?}"
        );
    }
    let c = run("GET", "/bkt", &[("list-type", "2")], &[]).unwrap();
    assert!(
        !c.condition_keys.iter().any(|(k, _)| *k == "s3:prefix"),
        "an absent prefix is an absent key"
    );
}

#[test]
fn ambiguous_requests_are_refused_not_guessed() {
    // MinIO reads this as UploadPart, s3s as PutObjectTagging.
    let e = run(
        "PUT",
        "/bkt/k",
        &[("partNumber", "1"), ("uploadId", "U"), ("tagging", "")],
        &[],
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidRequest");
    assert!(e.message.contains("Ambiguous"), "{e:?}");
    // MinIO reads this as ListParts, s3s as GetObjectAcl.
    assert_eq!(
        run("GET", "/bkt/k", &[("uploadId", "U"), ("acl", "")], &[])
            .unwrap_err()
            .code,
        "InvalidRequest"
    );
    assert_eq!(
        run("GET", "/bkt", &[("acl", ""), ("acl", "")], &[])
            .unwrap_err()
            .code,
        "InvalidArgument"
    );
    // Repeated neutral parameters too: the backend might read the other one.
    assert_eq!(
        run(
            "GET",
            "/bkt/k",
            &[("versionId", "a"), ("versionId", "b")],
            &[]
        )
        .unwrap_err()
        .code,
        "InvalidArgument"
    );
    assert_eq!(
        run("PUT", "/bkt/k", &[("partNumber", "1")], &[])
            .unwrap_err()
            .code,
        "InvalidRequest"
    );
    assert_eq!(
        run("GET", "/bkt/k", &[("unknownthing", "")], &[])
            .unwrap_err()
            .code,
        "InvalidArgument"
    );
    assert_eq!(
        run("GET", "/bkt", &[("list-type", "3")], &[])
            .unwrap_err()
            .code,
        "InvalidArgument"
    );
    assert_eq!(
        run("POST", "/bkt", &[], &[]).unwrap_err().code,
        "MalformedPOSTRequest"
    );
    assert_eq!(
        run("PATCH", "/bkt/k", &[], &[]).unwrap_err().code,
        "MethodNotAllowed"
    );
    assert_eq!(
        run("DELETE", "/", &[], &[]).unwrap_err().code,
        "MethodNotAllowed"
    );
}

#[test]
fn delete_objects_is_checked_per_key() {
    let c = run("POST", "/bkt", &[("delete", "")], &[]).unwrap();
    assert!(c.per_key_delete && c.checks.is_empty());
}

#[test]
fn addressing() {
    let hosts = ["s3.localhost".to_string()];
    let t = address(Some("photos.s3.localhost:7480"), "/2026/a%20b.jpg", &hosts).unwrap();
    assert_eq!(
        (t.bucket.as_deref(), t.key.as_deref()),
        (Some("photos"), Some("2026/a b.jpg"))
    );
    let t = address(Some("photos.s3.localhost"), "/", &hosts).unwrap();
    assert_eq!((t.bucket.as_deref(), t.key), (Some("photos"), None));
    let t = address(Some("s3.localhost"), "/bkt/x", &hosts).unwrap();
    assert_eq!(
        (t.bucket.as_deref(), t.key.as_deref()),
        (Some("bkt"), Some("x"))
    );
    // Keys keep '+' and trailing slashes exactly.
    let t = address(Some("127.0.0.1"), "/bkt/a+b/c/", &hosts).unwrap();
    assert_eq!(t.key.as_deref(), Some("a+b/c/"));
    let t = address(Some("127.0.0.1"), "/bkt/a%2Fb", &hosts).unwrap();
    assert_eq!(t.key.as_deref(), Some("a/b"));
    assert_eq!(
        address(None, "/", &hosts).unwrap(),
        Target {
            bucket: None,
            key: None
        }
    );
    assert_eq!(
        address(None, "/Bad_Bucket/k", &hosts).unwrap_err().code,
        "InvalidBucketName"
    );
    assert_eq!(
        address(None, "/ab/k", &hosts).unwrap_err().code,
        "InvalidBucketName"
    );
    assert_eq!(
        address(None, "/bkt/%zz", &hosts).unwrap_err().code,
        "InvalidRequest"
    );
    // An encoded slash in the bucket segment would split differently at the backend.
    assert_eq!(
        address(Some("127.0.0.1"), "/bkt%2Fx/key", &hosts)
            .unwrap_err()
            .code,
        "InvalidBucketName"
    );
    // In a virtual-hosted request the first segment is part of the key.
    let t = address(Some("photos.s3.localhost"), "/a%2Fb", &hosts).unwrap();
    assert_eq!(t.key.as_deref(), Some("a/b"));
    assert_eq!(
        address(None, &format!("/bkt/{}", "k".repeat(1025)), &hosts)
            .unwrap_err()
            .code,
        "KeyTooLongError"
    );
}

#[test]
fn keys_that_backends_read_differently_are_refused() {
    let hosts = ["s3.localhost".to_string()];
    for path in [
        "/bkt//private/x",
        "/bkt/a//b",
        "/bkt/public/../../other/secret.txt",
        "/bkt/public/%2e%2e/%2e%2e/other/secret.txt",
        "/bkt/public/..%2f..%2fother/secret.txt",
        "/bkt/./x",
        "/bkt/a/./b",
        "/bkt/a/.",
        "/bkt/a/..",
        "/bkt/%2Fleading",
        "/bkt/a%00b",
        "/bkt/line%0Abreak",
        "/bkt/del%7F",
        "/bkt//",
    ] {
        let e = address(Some("127.0.0.1"), path, &hosts).unwrap_err();
        assert_eq!(e.code, "InvalidRequest", "{path}: {e:?}");
    }
    // Virtual-hosted: a leading '/' in the key, or dots.
    for path in ["//private/x", "/../b/x", "/%2e%2e/b/x"] {
        assert!(
            address(Some("b.s3.localhost"), path, &hosts).is_err(),
            "{path}"
        );
    }
    // Dots inside a segment, a trailing folder slash, '%' and unicode are ordinary keys.
    for (path, key) in [
        ("/bkt/a..b/c.", "a..b/c."),
        ("/bkt/dir/", "dir/"),
        ("/bkt/100%25", "100%"),
        ("/bkt/%C3%A9t%C3%A9/x", "été/x"),
        ("/bkt/...", "..."),
    ] {
        let t = address(Some("127.0.0.1"), path, &hosts).unwrap();
        assert_eq!(t.key.as_deref(), Some(key), "{path}");
    }
}

#[test]
fn query_parameters_are_the_operations_own() {
    let code = |method, path, query: &[(&str, &str)]| run(method, path, query, &[]).unwrap_err();
    // MinIO merges x-amz-* query values into metadata: refused in any case.
    for name in [
        "x-amz-tagging",
        "X-AMZ-TAGGING",
        "x-amz-meta-a",
        "X-Amz-Acl",
    ] {
        let e = code("PUT", "/bkt/k", &[(name, "a=b")]);
        assert_eq!(
            (e.code, e.argument.as_deref()),
            ("InvalidArgument", Some(name))
        );
    }
    let e = code("PUT", "/bkt/k", &[("versionId", "v1")]);
    assert!(
        e.message.contains("versionId is not accepted on PUT"),
        "{e:?}"
    );
    assert_eq!(
        code("POST", "/bkt/k", &[("uploads", ""), ("versionId", "v")]).code,
        "InvalidArgument"
    );
    assert_eq!(
        code("GET", "/bkt/k", &[("prefix", "a")]).code,
        "InvalidArgument"
    );
    assert_eq!(
        code("GET", "/bkt/k", &[("response-x", "a")]).code,
        "InvalidArgument"
    );
    assert_eq!(
        code("GET", "/bkt", &[("tagging", "x")]).code,
        "InvalidArgument"
    );
    assert_eq!(
        code("PUT", "/bkt/k", &[("uploadId", "u"), ("partNumber", "0")]).code,
        "InvalidArgument"
    );
    assert_eq!(
        code("PUT", "/bkt/k", &[("uploadId", "u"), ("partNumber", "1e3")]).code,
        "InvalidArgument"
    );
    assert_eq!(
        code("GET", "/bkt/k", &[("versionId", "a\nb")]).code,
        "InvalidArgument"
    );
    // Kept: the operation's parameters; dropped: presign parameters and x-id.
    let c = run(
        "GET",
        "/bkt/k",
        &[
            ("versionId", "v 1"),
            ("response-content-type", "text/plain"),
            ("x-id", "GetObject"),
            ("X-Amz-Signature", "00"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        c.params,
        vec![
            ("versionId", "v 1".to_string()),
            ("response-content-type", "text/plain".to_string())
        ]
    );
    let c = run(
        "GET",
        "/bkt",
        &[
            ("list-type", "2"),
            ("prefix", "a b/"),
            ("encoding-type", "url"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(
        crate::proxy::s3_upstream_target(&c),
        (
            "/bkt".to_string(),
            "list-type=2&prefix=a%20b%2F&encoding-type=url".to_string()
        )
    );
}

#[test]
fn the_upstream_target_is_encoded_by_the_gateway() {
    let c = run("GET", "/bkt/a+b/%C3%A9%20x%25%3F", &[("tagging", "")], &[]).unwrap();
    let (path, query) = crate::proxy::s3_upstream_target(&c);
    assert_eq!(path, "/bkt/a%2Bb/%C3%A9%20x%25%3F");
    assert_eq!(query, "tagging");
}

#[test]
fn vendor_and_unknown_headers_are_refused_and_others_dropped() {
    for (method, path, query, header) in [
        ("DELETE", "/bkt/reports", &[][..], "x-minio-force-delete"),
        (
            "PUT",
            "/bkt/a.tar",
            &[][..],
            "x-amz-meta-snowball-auto-extract",
        ),
        (
            "PUT",
            "/bkt/a.tar",
            &[][..],
            "x-amz-meta-minio-snowball-prefix",
        ),
        ("GET", "/bkt/a.zip/x", &[][..], "x-minio-extract"),
        ("GET", "/bkt/k", &[][..], "x-rgw-anything"),
        ("GET", "/bkt/k", &[][..], "x-amz-unknown-thing"),
        ("GET", "/bkt/k", &[][..], "x-amz-meta-color"),
        ("GET", "/bkt/k", &[][..], "x-amz-copy-source-range"),
        ("DELETE", "/bkt/k", &[][..], "x-amz-tagging"),
        ("POST", "/bkt", &[("delete", "")][..], "x-amz-acl"),
    ] {
        let e = run(method, path, query, &[(header, "true")]).unwrap_err();
        assert_eq!(
            (e.code, e.argument.as_deref()),
            ("InvalidArgument", Some(header)),
            "{method} {path} {header}"
        );
    }
    let c = run(
        "PUT",
        "/bkt/k",
        &[],
        &[
            ("content-type", "text/plain"),
            ("content-encoding", "aws-chunked,gzip"),
            ("x-amz-meta-color", "green"),
            ("user-agent", "aws-cli"),
            ("accept", "*/*"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            ("x-amz-decoded-content-length", "5"),
            ("authorization", "AWS4-HMAC-SHA256 x"),
        ],
    )
    .unwrap();
    let mut names: Vec<_> = c
        .headers
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap()))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "content-encoding: gzip",
            "content-type: text/plain",
            "x-amz-meta-color: green"
        ]
    );
    let e = run("GET", "/bkt/k", &[], &[]).map(|_| ());
    assert!(e.is_ok());
    let mut doubled = h(&[]);
    doubled.append("x-amz-acl", HeaderValue::from_static("private"));
    doubled.append("x-amz-acl", HeaderValue::from_static("public-read"));
    let target = address(Some("127.0.0.1"), "/bkt/k", &[]).unwrap();
    assert_eq!(
        classify("PUT", &target, &[], &doubled).unwrap_err().code,
        "InvalidArgument"
    );
}

#[test]
fn copy_sources_are_parsed_once_and_re_serialised() {
    for raw in [
        "//demo-bucket/bucketb/secret.txt",
        "http://demo-bucket/bucketb/secret.txt",
        "/src/public/../../other/secret",
        "src//x",
        "src%2Fx/k",
        "src/k?versionId=",
        "src/k?partNumber=1",
        "src/k?versionId=a&x=y",
        "src/",
        "Src/k",
    ] {
        let e = run("PUT", "/dst/k", &[], &[("x-amz-copy-source", raw)]).unwrap_err();
        assert!(
            matches!(
                e.code,
                "InvalidArgument" | "InvalidRequest" | "InvalidBucketName"
            ),
            "{raw}: {e:?}"
        );
    }
    let c = run(
        "PUT",
        "/dst/k",
        &[],
        &[("x-amz-copy-source", "/src/a%20b+c.txt?versionId=v%2B1")],
    )
    .unwrap();
    assert_eq!(
        c.headers.get("x-amz-copy-source").unwrap(),
        "src/a%20b%2Bc.txt?versionId=v%2B1"
    );
    assert!(
        c.condition_keys
            .contains(&("s3:x-amz-copy-source", "src/a b+c.txt".to_string()))
    );
}

#[test]
fn delete_objects_bodies_are_strict_and_re_serialised() {
    use crate::s3::DeleteList;
    let ok = DeleteList::parse(
        b"<Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Quiet>true</Quiet>\n <Object><Key>a &amp; b</Key><VersionId>v1</VersionId></Object><Object><Key>c</Key></Object></Delete>",
    )
    .unwrap();
    assert!(ok.quiet);
    assert_eq!(ok.objects.len(), 2);
    assert_eq!(ok.objects[0].key, "a & b");
    assert_eq!(
        DeleteList::parse(ok.to_xml().as_bytes()).unwrap(),
        ok,
        "the serialisation reads back the same"
    );
    for body in [
        "<Delete><Object><Key>public/a</Key><Key>private/x</Key></Object></Delete>",
        "<Delete><Object><Key>prod/kee<!---->p/x</Key></Object></Delete>",
        "<Delete><!-- c --><Object><Key>a</Key></Object></Delete>",
        "<Delete><Object><Key>a</Key><VersionId>1</VersionId><VersionId>2</VersionId></Object></Delete>",
        "<Delete><Object><Key>a</Key><ETag>x</ETag></Object></Delete>",
        "<Delete><Object><Key>a<b/></Key></Object></Delete>",
        "<Delete><Object><Key>../x</Key></Object></Delete>",
        "<Delete><Object><Key>/x</Key></Object></Delete>",
        "<Delete><Object><Key></Key></Object></Delete>",
        "<Delete><Quiet>true</Quiet><Quiet>false</Quiet><Object><Key>a</Key></Object></Delete>",
        "<Delete>text<Object><Key>a</Key></Object></Delete>",
        "<Delete></Delete>",
        "<Remove><Object><Key>a</Key></Object></Remove>",
        "<?xml version=\"1.0\"?><!DOCTYPE d [<!ENTITY e \"x\">]><Delete><Object><Key>&e;</Key></Object></Delete>",
        "<Delete><?pi x?><Object><Key>a</Key></Object></Delete>",
    ] {
        assert!(DeleteList::parse(body.as_bytes()).is_err(), "{body}");
    }
}

#[test]
fn headers_current_sdks_send_are_accepted_where_s3_takes_them() {
    for (method, path, query, header) in [
        (
            "POST",
            "/bkt/k",
            &[("uploads", "")][..],
            "x-amz-checksum-type",
        ),
        (
            "POST",
            "/bkt/k",
            &[("uploadId", "u")][..],
            "x-amz-checksum-type",
        ),
        (
            "POST",
            "/bkt/k",
            &[("uploadId", "u")][..],
            "x-amz-mp-object-size",
        ),
        (
            "PUT",
            "/bkt/k",
            &[("uploadId", "u"), ("partNumber", "1")][..],
            "x-amz-checksum-crc32",
        ),
        ("PUT", "/bkt/k", &[][..], "x-amz-checksum-crc64nvme"),
        (
            "GET",
            "/bkt",
            &[("list-type", "2")][..],
            "x-amz-optional-object-attributes",
        ),
        ("GET", "/bkt/k", &[][..], "x-amz-checksum-mode"),
        ("HEAD", "/bkt/k", &[][..], "x-amz-expected-bucket-owner"),
    ] {
        let c = run(method, path, query, &[(header, "x")])
            .unwrap_or_else(|e| panic!("{method} {path} {header}: {e:?}"));
        assert!(
            c.headers.contains_key(header),
            "{method} {path}: {header} forwarded"
        );
    }
    let c = run(
        "PUT",
        "/dst/k",
        &[],
        &[
            ("x-amz-copy-source", "src/k"),
            ("x-amz-source-expected-bucket-owner", "111122223333"),
        ],
    )
    .unwrap();
    assert!(c.headers.contains_key("x-amz-source-expected-bucket-owner"));
}

#[test]
fn bucket_names_follow_s3_general_purpose_rules() {
    for ok in [
        "abc",
        "my-bucket.2024",
        "a.b-c",
        "0bucket9",
        &"a".repeat(63),
        "192.168.5.4x",
    ] {
        assert!(check_bucket(ok).is_ok(), "{ok}");
    }
    for bad in [
        "ab",
        &"a".repeat(64),
        "-bucket",
        "bucket-",
        ".bucket",
        "bucket.",
        "my..bucket",
        "My-Bucket",
        "my_bucket",
        "192.168.5.4",
        "10.0.0.1",
        "999.999.999.999",
        "xn--bucket",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "bucket--table-s3",
        "minio",
        "admin",
    ] {
        assert_eq!(
            check_bucket(bad).map_err(|e| e.code),
            Err("InvalidBucketName"),
            "{bad}"
        );
    }
}

#[test]
fn the_host_has_one_reading_of_its_port() {
    assert_eq!(host_name("Photos.S3.Localhost:9000"), "photos.s3.localhost");
    assert_eq!(host_name("s3.localhost"), "s3.localhost");
    assert_eq!(host_name("[::1]:9000"), "[::1]");
    assert_eq!(host_name("[::1]"), "[::1]");
    // Not a port: the whole host is read as the name, by addressing and by everything else.
    assert_eq!(host_name("photos.s3.localhost:x"), "photos.s3.localhost:x");
    assert_eq!(host_name("a:b:9000"), "a:b");
    let hosts = vec!["s3.localhost".to_string()];
    // Before, "photos.s3.localhost:x" was virtual-hosted to one reading and not to the other.
    let t = address(Some("photos.s3.localhost:x"), "/kbucket/x", &hosts).unwrap();
    assert_eq!(t.bucket.as_deref(), Some("kbucket"));
}

#[test]
fn names_a_backend_reserves_are_refused_in_keys_copy_sources_and_listings() {
    for path in [
        "/demo-bucket/private__XLDIR__",
        "/demo-bucket/a/private__xldir__",
        "/demo-bucket/a__XLDIR__/xl.meta",
    ] {
        let e = run("GET", path, &[], &[]).unwrap_err();
        assert_eq!(
            (e.code, e.argument.as_deref()),
            ("InvalidArgument", Some("key")),
            "{path}"
        );
        assert!(
            e.message.contains("MinIO stores a folder object"),
            "{}",
            e.message
        );
    }
    let e = run(
        "PUT",
        "/demo-bucket/tmp/x",
        &[],
        &[("x-amz-copy-source", "demo-bucket/private__XLDIR__")],
    )
    .unwrap_err();
    assert_eq!(e.code, "InvalidArgument");
    for name in ["prefix", "marker", "start-after"] {
        let e = run(
            "GET",
            "/demo-bucket",
            &[("list-type", "2"), (name, "private__XLDIR__")],
            &[],
        );
        let e = if name == "marker" {
            run("GET", "/demo-bucket", &[(name, "private__XLDIR__")], &[]).unwrap_err()
        } else {
            e.unwrap_err()
        };
        assert_eq!(
            (e.code, e.argument.as_deref()),
            ("InvalidArgument", Some(name)),
            "{name}"
        );
    }
    let e = run(
        "GET",
        "/demo-bucket",
        &[("uploads", ""), ("key-marker", "x__XLDIR__")],
        &[],
    )
    .unwrap_err();
    assert_eq!(e.argument.as_deref(), Some("key-marker"));
    assert!(
        crate::s3::DeleteList::parse(
            b"<Delete><Object><Key>private__XLDIR__</Key></Object></Delete>"
        )
        .is_err()
    );
    // The folder object itself is an ordinary key.
    assert!(run("GET", "/demo-bucket/private/", &[], &[]).is_ok());
}
