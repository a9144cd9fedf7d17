use super::*;
use crate::config::{Keyring as KeyringConfig, KeyringKey};

fn keyring() -> Keyring {
    Keyring::from_config(&KeyringConfig {
        active: "k".into(),
        keys: vec![KeyringKey {
            id: "k".into(),
            key: [7; 32],
        }],
        ephemeral: false,
    })
}

const BACKEND: &str = "store";

fn scope<'a>(bucket: &'a str, key: &'a str) -> UploadScope<'a> {
    UploadScope {
        backend: BACKEND,
        bucket,
        key,
    }
}

fn classified(method: &str, path_key: &str, query: &[(&str, &str)]) -> Classified {
    let target = crate::s3::Target {
        bucket: Some("demo-bucket".into()),
        key: (!path_key.is_empty()).then(|| path_key.to_string()),
    };
    let query: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    crate::s3::classify(method, &target, &query, &http::HeaderMap::new()).unwrap()
}

#[test]
fn an_upload_id_opens_only_for_the_key_it_was_created_for() {
    let k = keyring();
    let id = issue(&k, scope("demo-bucket", "private/victim"), "U-backend");
    for (method, query) in [
        ("PUT", vec![("partNumber", "2"), ("uploadId", id.as_str())]),
        ("POST", vec![("uploadId", id.as_str())]),
        ("GET", vec![("uploadId", id.as_str())]),
        ("DELETE", vec![("uploadId", id.as_str())]),
    ] {
        let mut own = classified(method, "private/victim", &query);
        open_request(&k, BACKEND, &mut own).unwrap();
        assert!(
            own.params.contains(&("uploadId", "U-backend".into())),
            "{method}"
        );
        for (bucket, key, backend) in [
            ("demo-bucket", "tmp/loot", BACKEND),
            ("other-bucket", "private/victim", BACKEND),
            ("demo-bucket", "private/victim", "other-backend"),
        ] {
            let mut c = classified(method, key, &query);
            c.target.bucket = Some(bucket.into());
            let e = open_request(&k, backend, &mut c).unwrap_err();
            assert_eq!(
                e.code, "NoSuchUpload",
                "{method} {bucket}/{key} at {backend}"
            );
        }
    }
    // The backend's own id, or anything else the gateway did not issue, never opens.
    for raw in ["U-backend", "", "not base64 !", &id[..id.len() - 1]] {
        let mut c = classified("POST", "private/victim", &[("uploadId", "x")]);
        c.params = vec![("uploadId", raw.to_string())];
        assert_eq!(
            open_request(&k, BACKEND, &mut c).unwrap_err().code,
            "NoSuchUpload",
            "{raw:?}"
        );
    }
}

#[test]
fn create_and_list_parts_answers_carry_the_gateway_id() {
    let k = keyring();
    let s = scope("demo-bucket", "tmp/a b&c");
    let xml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Bucket>demo-bucket</Bucket><Key>tmp/a b&amp;c</Key><UploadId>abc~def.1</UploadId></InitiateMultipartUploadResult>";
    let out = issue_in_initiate(xml.as_bytes(), &k, s).unwrap();
    let id = issue(&k, s, "abc~def.1");
    assert_eq!(out, xml.replace("abc~def.1", &id));
    assert_eq!(open(&k, s, &id).as_deref(), Some("abc~def.1"));
    let parts = "<ListPartsResult><Bucket>demo-bucket</Bucket><Key>k</Key><UploadId>abc~def.1</UploadId><Part><PartNumber>1</PartNumber></Part></ListPartsResult>";
    assert_eq!(
        issue_in_parts(parts.as_bytes(), &k, s).unwrap(),
        parts.replace("abc~def.1", &id)
    );
    // Not the documents they claim to be: refused (the gateway answers 502), never passed on.
    for bad in [
        "<InitiateMultipartUploadResult><UploadId></UploadId></InitiateMultipartUploadResult>",
        "<InitiateMultipartUploadResult><Key>k</Key></InitiateMultipartUploadResult>",
        "<Error><UploadId>abc</UploadId></Error>",
        "<InitiateMultipartUploadResult><UploadId>abc",
    ] {
        assert_eq!(issue_in_initiate(bad.as_bytes(), &k, s), None, "{bad}");
    }
}

#[test]
fn a_listing_binds_each_upload_to_its_own_key_and_markers_to_theirs() {
    let k = keyring();
    let xml = "<ListMultipartUploadsResult><Bucket>demo-bucket</Bucket><KeyMarker>a</KeyMarker><UploadIdMarker>M0</UploadIdMarker><NextKeyMarker>c%2Bd+e</NextKeyMarker><NextUploadIdMarker>M1</NextUploadIdMarker><EncodingType>url</EncodingType><Upload><Key>b%2Fx</Key><UploadId>U1</UploadId></Upload><Upload><Key>c%2Bd+e</Key><UploadId>U2</UploadId></Upload></ListMultipartUploadsResult>";
    let out = issue_in_listing(xml.as_bytes(), &k, BACKEND, "demo-bucket").unwrap();
    let expected = xml
        .replace(
            ">M0<",
            &format!(">{}<", issue(&k, scope("demo-bucket", "a"), "M0")),
        )
        .replace(
            ">M1<",
            &format!(">{}<", issue(&k, scope("demo-bucket", "c+d e"), "M1")),
        )
        .replace(
            ">U1<",
            &format!(">{}<", issue(&k, scope("demo-bucket", "b/x"), "U1")),
        )
        .replace(
            ">U2<",
            &format!(">{}<", issue(&k, scope("demo-bucket", "c+d e"), "U2")),
        );
    assert_eq!(out, expected);
    // The next page's marker opens with its key marker, as a client sends it back.
    let next = issue(&k, scope("demo-bucket", "c+d e"), "M1");
    let mut page = classified(
        "GET",
        "",
        &[
            ("uploads", ""),
            ("key-marker", "c+d e"),
            ("upload-id-marker", next.as_str()),
        ],
    );
    open_request(&k, BACKEND, &mut page).unwrap();
    assert!(
        page.params.contains(&("upload-id-marker", "M1".into())),
        "{:?}",
        page.params
    );
    let mut wrong = classified(
        "GET",
        "",
        &[
            ("uploads", ""),
            ("key-marker", "other"),
            ("upload-id-marker", next.as_str()),
        ],
    );
    assert_eq!(
        open_request(&k, BACKEND, &mut wrong).unwrap_err().code,
        "InvalidArgument"
    );
    // First page: empty markers stay empty; no EncodingType: keys are taken as they are.
    let first = "<ListMultipartUploadsResult><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker><Upload><Key>b%2Fx</Key><UploadId>U1</UploadId></Upload></ListMultipartUploadsResult>";
    assert_eq!(
        issue_in_listing(first.as_bytes(), &k, BACKEND, "demo-bucket").unwrap(),
        first.replace(
            ">U1<",
            &format!(">{}<", issue(&k, scope("demo-bucket", "b%2Fx"), "U1"))
        )
    );
    let no_id =
        "<ListMultipartUploadsResult><Upload><Key>b</Key></Upload></ListMultipartUploadsResult>";
    assert_eq!(
        issue_in_listing(no_id.as_bytes(), &k, BACKEND, "demo-bucket"),
        None
    );
}
