//! The preflight and actual-request rules, as a table against S3's documented behaviour
//! (Amazon S3 User Guide, "How does Amazon S3 evaluate the CORS configuration on a bucket?").

use super::*;

const XML: &str = r#"<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CORSRule>
    <ID>uploads</ID>
    <AllowedOrigin>https://*.example.com</AllowedOrigin>
    <AllowedMethod>PUT</AllowedMethod>
    <AllowedMethod>POST</AllowedMethod>
    <AllowedHeader>x-amz-*</AllowedHeader>
    <AllowedHeader>Content-Type</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <MaxAgeSeconds>3000</MaxAgeSeconds>
  </CORSRule>
  <CORSRule>
    <AllowedOrigin>http://www.example.com</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
  </CORSRule>
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>HEAD</AllowedMethod>
  </CORSRule>
</CORSConfiguration>"#;

#[test]
fn preflights_match_the_first_rule_that_allows_origin_method_and_every_header() {
    let c = CorsConfig::parse(XML).unwrap();
    type Case<'a> = (
        &'a str,
        &'a str,
        &'a [&'a str],
        Result<&'a str, PreflightRefusal>,
    );
    let cases: &[Case] = &[
        // One wildcard in the origin: any subdomain over https.
        (
            "https://app.example.com",
            "PUT",
            &["content-type"],
            Ok("https://app.example.com"),
        ),
        (
            "https://a.b.example.com",
            "POST",
            &["x-amz-date", "x-amz-security-token"],
            Ok("https://a.b.example.com"),
        ),
        // Scheme, host and port must match: http is another origin, and so is an explicit port.
        (
            "http://app.example.com",
            "PUT",
            &[],
            Err(PreflightRefusal::NotAllowed),
        ),
        (
            "https://app.example.com:8443",
            "PUT",
            &[],
            Err(PreflightRefusal::NotAllowed),
        ),
        (
            "https://example.com",
            "PUT",
            &[],
            Err(PreflightRefusal::NotAllowed),
        ),
        // The method must be one of the rule's.
        (
            "https://app.example.com",
            "DELETE",
            &[],
            Err(PreflightRefusal::NotAllowed),
        ),
        // Every requested header must be allowed by the same rule.
        (
            "https://app.example.com",
            "PUT",
            &["content-type", "x-custom"],
            Err(PreflightRefusal::NotAllowed),
        ),
        // Headers match ignoring case.
        (
            "https://app.example.com",
            "PUT",
            &["X-Amz-Meta-Owner"],
            Ok("https://app.example.com"),
        ),
        // A rule without AllowedHeader allows a preflight that requests none.
        (
            "http://www.example.com",
            "GET",
            &[],
            Ok("http://www.example.com"),
        ),
        (
            "http://www.example.com",
            "GET",
            &["authorization"],
            Err(PreflightRefusal::NotAllowed),
        ),
        (
            "http://www.example.com:80",
            "GET",
            &[],
            Err(PreflightRefusal::NotAllowed),
        ),
        // "*" allows any origin and answers "*".
        ("https://evil.test", "HEAD", &[], Ok("*")),
        (
            "https://evil.test",
            "GET",
            &[],
            Err(PreflightRefusal::NotAllowed),
        ),
    ];
    for (origin, method, headers, want) in cases {
        let got = c.preflight(origin, method, headers).map(|g| g.allow_origin);
        assert_eq!(
            got.as_deref(),
            want.as_ref().map(|s| *s),
            "{origin} {method} {headers:?}"
        );
    }
}

#[test]
fn a_preflight_grant_names_the_rule_methods_the_requested_headers_and_the_rest() {
    let c = CorsConfig::parse(XML).unwrap();
    let g = c
        .preflight(
            "https://app.example.com",
            "PUT",
            &["content-type", "x-amz-date"],
        )
        .unwrap();
    assert_eq!(g.allow_methods, "PUT, POST");
    // Only the requested headers, not the rule's patterns.
    assert_eq!(g.allow_headers.as_deref(), Some("content-type, x-amz-date"));
    assert_eq!(g.expose_headers.as_deref(), Some("ETag"));
    assert_eq!(g.max_age, Some(3000));
    assert!(g.allow_credentials);
    let star = c.preflight("https://x.test", "HEAD", &[]).unwrap();
    assert!(
        !star.allow_credentials,
        "credentials are never allowed with *"
    );
    assert_eq!(star.allow_headers, None);
    assert_eq!(star.max_age, None);
}

#[test]
fn actual_requests_match_on_origin_and_method_only() {
    let c = CorsConfig::parse(XML).unwrap();
    assert!(c.actual("https://app.example.com", "PUT").is_some());
    assert!(c.actual("http://www.example.com", "GET").is_some());
    // HEAD is not GET: the third rule ("*") answers it.
    assert_eq!(
        c.actual("http://www.example.com", "HEAD")
            .unwrap()
            .allow_origin,
        "*"
    );
    assert!(c.actual("https://app.example.com", "GET").is_none());
    assert!(c.actual("null", "PUT").is_none());
}

#[test]
fn the_json_of_aws_cli_reads_as_the_xml_does() {
    let json = r#"{"CORSRules":[
        {"ID":"uploads","AllowedOrigins":["https://*.example.com"],"AllowedMethods":["PUT","POST"],
         "AllowedHeaders":["x-amz-*","Content-Type"],"ExposeHeaders":["ETag"],"MaxAgeSeconds":3000},
        {"AllowedOrigins":["http://www.example.com"],"AllowedMethods":["GET"]},
        {"AllowedOrigins":["*"],"AllowedMethods":["HEAD"]}]}"#;
    assert_eq!(
        CorsConfig::parse(json).unwrap(),
        CorsConfig::parse(XML).unwrap()
    );
    // And the XML written for GetBucketCors reads back the same.
    let c = CorsConfig::parse(XML).unwrap();
    assert_eq!(CorsConfig::parse(&c.to_xml()).unwrap(), c);
}

#[test]
fn configurations_s3_refuses_are_refused() {
    let rule =
        |body: &str| format!("<CORSConfiguration><CORSRule>{body}</CORSRule></CORSConfiguration>");
    let bad = [
        "<CORSConfiguration></CORSConfiguration>".to_string(),
        rule("<AllowedMethod>GET</AllowedMethod>"),
        rule("<AllowedOrigin>*</AllowedOrigin>"),
        rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>OPTIONS</AllowedMethod>"),
        rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod>"),
        rule("<AllowedOrigin>https://*.*.example.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod>"),
        rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader>"),
        rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds>"),
        rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><Unknown>1</Unknown>"),
        rule("<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>a, b</ExposeHeader>"),
        rule("<AllowedOrigin>*</AllowedOrigin><!-- x --><AllowedMethod>GET</AllowedMethod>"),
        format!("<CORSConfiguration>{}</CORSConfiguration>", "<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>".repeat(101)),
        "not xml".to_string(),
        r#"{"CORSRules":[{"AllowedOrigins":["*"],"AllowedMethods":["GET"],"Extra":1}]}"#.to_string(),
    ];
    for text in bad {
        assert!(CorsConfig::parse(&text).is_err(), "accepted: {text}");
    }
}

#[test]
fn wildcards_are_one_star_anywhere() {
    assert!(wildcard("*", "anything", false));
    assert!(wildcard(
        "https://*.example.com",
        "https://a.example.com",
        false
    ));
    assert!(!wildcard(
        "https://*.example.com",
        "https://example.com",
        false
    ));
    assert!(wildcard("x-amz-*", "X-AMZ-DATE", true));
    assert!(!wildcard("x-amz-*", "X-AMZ-DATE", false));
    assert!(wildcard(
        "http://localhost:*",
        "http://localhost:5173",
        false
    ));
    // Prefix and suffix must not overlap.
    assert!(!wildcard("ab*ba", "aba", false));
    assert_eq!(
        requested_headers(" content-type ,x-amz-date,, "),
        vec!["content-type", "x-amz-date"]
    );
}
