//! Cross-origin resource sharing as S3 defines it (pure: no I/O, no HTTP server).
//!
//! A [`CorsConfig`] is a bucket's (or an HTTP API route's) list of rules, read from S3's
//! `CORSConfiguration` XML (what `PutBucketCors` sends) or from the JSON that
//! `aws s3api put-bucket-cors --cors-configuration` takes. A preflight is answered by the first
//! rule whose origin, method and every requested header match ([`CorsConfig::preflight`]); an
//! actual request gets the headers of the first rule whose origin and method match
//! ([`CorsConfig::actual`]), refusals included, so a page can read the error.

/// S3's limit on rules in one configuration.
pub const MAX_RULES: usize = 100;
/// Largest configuration document accepted (S3's commonly cited limit).
pub const MAX_DOCUMENT: usize = 64 * 1024;

/// The methods a rule may allow (S3 refuses any other).
const METHODS: [&str; 5] = ["GET", "PUT", "POST", "DELETE", "HEAD"];

/// One `CORSRule`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsRule {
    pub id: Option<String>,
    pub allowed_origins: Vec<String>,
    pub allowed_methods: Vec<String>,
    /// As written; matched ignoring ASCII case.
    pub allowed_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age_seconds: Option<u64>,
}

/// A bucket's or route's CORS rules, in order (the first match decides).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CorsConfig {
    pub rules: Vec<CorsRule>,
}

/// The headers of a response to a cross-origin request, from the rule that matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `Access-Control-Allow-Origin`: the request's origin, or `*` for a rule allowing any.
    pub allow_origin: String,
    pub allow_methods: String,
    /// Preflights only: the requested headers the rule allows (`None`: none were requested).
    pub allow_headers: Option<String>,
    pub expose_headers: Option<String>,
    pub max_age: Option<u64>,
    /// `Access-Control-Allow-Credentials: true` (not with `*`, which browsers refuse with it).
    pub allow_credentials: bool,
}

impl Grant {
    /// The response headers, as (name, value) pairs.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut h = vec![
            ("access-control-allow-origin", self.allow_origin.clone()),
            ("access-control-allow-methods", self.allow_methods.clone()),
        ];
        if let Some(v) = &self.allow_headers {
            h.push(("access-control-allow-headers", v.clone()));
        }
        if let Some(v) = &self.expose_headers {
            h.push(("access-control-expose-headers", v.clone()));
        }
        if let Some(v) = self.max_age {
            h.push(("access-control-max-age", v.to_string()));
        }
        if self.allow_credentials {
            h.push(("access-control-allow-credentials", "true".to_string()));
        }
        h
    }
}

/// Why a preflight is refused (S3 answers each with `403 AccessForbidden`, or `400 BadRequest`
/// when the preflight itself is incomplete).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreflightRefusal {
    /// No `Origin` header.
    MissingOrigin,
    /// No (or an unusable) `Access-Control-Request-Method`.
    MissingMethod,
    /// The bucket or route has no CORS configuration.
    NotEnabled,
    /// No rule allows this origin, method and headers.
    NotAllowed,
}

impl PreflightRefusal {
    /// S3's status, code and message.
    pub fn answer(self) -> (u16, &'static str, &'static str) {
        match self {
            PreflightRefusal::MissingOrigin => (
                400,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
            ),
            PreflightRefusal::MissingMethod => (
                400,
                "BadRequest",
                "Invalid Access-Control-Request-Method: the preflight must name one of GET, PUT, POST, DELETE, HEAD",
            ),
            PreflightRefusal::NotEnabled => (
                403,
                "AccessForbidden",
                "CORSResponse: CORS is not enabled for this bucket.",
            ),
            // AWS's wording, typo included, so that clients matching on it still do.
            PreflightRefusal::NotAllowed => (
                403,
                "AccessForbidden",
                "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
            ),
        }
    }
}

/// `pattern` (with at most one `*`, matching any run of characters) against `value`.
fn wildcard(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if ignore_case {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    match pattern.split_once('*') {
        None => eq(pattern, value),
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.is_char_boundary(prefix.len())
                && value.is_char_boundary(value.len() - suffix.len())
                && eq(&value[..prefix.len()], prefix)
                && eq(&value[value.len() - suffix.len()..], suffix)
        }
    }
}

impl CorsRule {
    fn allows_origin(&self, origin: &str) -> bool {
        self.allowed_origins
            .iter()
            .any(|p| wildcard(p, origin, false))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn allows_header(&self, name: &str) -> bool {
        self.allowed_headers.iter().any(|p| wildcard(p, name, true))
    }

    fn any_origin(&self) -> bool {
        self.allowed_origins.iter().any(|o| o == "*")
    }

    fn grant(&self, origin: &str, allow_headers: Option<String>) -> Grant {
        // A rule whose only origin is "*" answers "*"; otherwise the origin is echoed (and
        // the response then varies by origin: the caller adds `Vary: Origin`).
        let star = self.any_origin() && !self.allowed_origins.iter().any(|p| p == origin);
        Grant {
            allow_origin: if star {
                "*".to_string()
            } else {
                origin.to_string()
            },
            allow_methods: self.allowed_methods.join(", "),
            allow_headers,
            expose_headers: (!self.expose_headers.is_empty())
                .then(|| self.expose_headers.join(", ")),
            max_age: self.max_age_seconds,
            allow_credentials: !star,
        }
    }
}

impl CorsConfig {
    /// Reads the XML `CORSConfiguration` or the aws-cli JSON (`{"CORSRules": [...]}`), by its
    /// first character, and checks it as S3 does.
    pub fn parse(text: &str) -> Result<CorsConfig, String> {
        if text.len() > MAX_DOCUMENT {
            return Err(format!(
                "the CORS configuration is larger than {MAX_DOCUMENT} bytes"
            ));
        }
        let config = if text.trim_start().starts_with('<') {
            parse_xml(text)?
        } else {
            parse_json(text)?
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.rules.is_empty() || self.rules.len() > MAX_RULES {
            return Err(format!(
                "a CORS configuration has 1 to {MAX_RULES} rules, not {}",
                self.rules.len()
            ));
        }
        for (i, r) in self.rules.iter().enumerate() {
            let at = format!("CORSRule {}", i + 1);
            if r.allowed_origins.is_empty() || r.allowed_methods.is_empty() {
                return Err(format!(
                    "{at}: AllowedOrigin and AllowedMethod are required"
                ));
            }
            if let Some(m) = r
                .allowed_methods
                .iter()
                .find(|m| !METHODS.contains(&m.as_str()))
            {
                return Err(format!(
                    "{at}: Found unsupported HTTP method in CORS config. Unsupported method is {m}"
                ));
            }
            for (what, values) in [
                ("AllowedOrigin", &r.allowed_origins),
                ("AllowedHeader", &r.allowed_headers),
            ] {
                if let Some(v) = values.iter().find(|v| v.matches('*').count() > 1) {
                    return Err(format!(
                        "{at}: {what} \"{v}\" can not have more than one wildcard."
                    ));
                }
            }
            let bad_header =
                |v: &String| v.is_empty() || !v.bytes().all(|c| c.is_ascii_graphic() && c != b',');
            if let Some(v) = r
                .expose_headers
                .iter()
                .chain(&r.allowed_headers)
                .find(|v| bad_header(v))
            {
                return Err(format!("{at}: \"{v}\" is not a header name"));
            }
            if let Some(v) = r
                .allowed_origins
                .iter()
                .find(|v| v.is_empty() || !v.bytes().all(|c| c.is_ascii_graphic() && c != b','))
            {
                return Err(format!("{at}: \"{v}\" is not an origin"));
            }
        }
        Ok(())
    }

    /// The answer to a preflight: `origin` from `Origin`, `method` from
    /// `Access-Control-Request-Method`, `headers` from `Access-Control-Request-Headers`.
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        headers: &[&str],
    ) -> Result<Grant, PreflightRefusal> {
        let rule = self
            .rules
            .iter()
            .find(|r| {
                r.allows_origin(origin)
                    && r.allows_method(method)
                    && headers.iter().all(|h| r.allows_header(h))
            })
            .ok_or(PreflightRefusal::NotAllowed)?;
        let allow_headers = (!headers.is_empty()).then(|| headers.join(", "));
        Ok(rule.grant(origin, allow_headers))
    }

    /// The headers for an actual cross-origin request (`None`: no rule matches, and the response
    /// goes out without CORS headers, as S3 does).
    pub fn actual(&self, origin: &str, method: &str) -> Option<Grant> {
        // HEAD is allowed by a rule that allows GET only if it says HEAD: S3 matches the method.
        self.rules
            .iter()
            .find(|r| r.allows_origin(origin) && r.allows_method(method))
            .map(|r| r.grant(origin, None))
    }

    /// The `CORSConfiguration` document (GetBucketCors).
    pub fn to_xml(&self) -> String {
        use crate::xml::escape;
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<CORSConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        for r in &self.rules {
            out.push_str("<CORSRule>");
            if let Some(id) = &r.id {
                out.push_str(&format!("<ID>{}</ID>", escape(id)));
            }
            let lists = [
                ("AllowedHeader", &r.allowed_headers),
                ("AllowedMethod", &r.allowed_methods),
                ("AllowedOrigin", &r.allowed_origins),
                ("ExposeHeader", &r.expose_headers),
            ];
            for (name, values) in lists {
                for v in values {
                    out.push_str(&format!("<{name}>{}</{name}>", escape(v)));
                }
            }
            if let Some(age) = r.max_age_seconds {
                out.push_str(&format!("<MaxAgeSeconds>{age}</MaxAgeSeconds>"));
            }
            out.push_str("</CORSRule>");
        }
        out.push_str("</CORSConfiguration>");
        out
    }
}

/// The names in an `Access-Control-Request-Headers` value (comma-separated, trimmed, lowercase
/// as browsers send them; empty items dropped).
pub fn requested_headers(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .collect()
}

fn parse_xml(text: &str) -> Result<CorsConfig, String> {
    let malformed = |why: &str| {
        format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {why}"
        )
    };
    let doc = roxmltree::Document::parse(text).map_err(|_| malformed("not well-formed"))?;
    if doc.descendants().any(|n| n.is_comment() || n.is_pi()) {
        return Err(malformed(
            "comments and processing instructions are not accepted",
        ));
    }
    let root = doc.root_element();
    if !root.has_tag_name("CORSConfiguration") {
        return Err(malformed("the root element must be CORSConfiguration"));
    }
    let mut rules = Vec::new();
    for node in root.children() {
        if node.is_text() && node.text().is_some_and(|t| t.trim().is_empty()) {
            continue;
        }
        if !node.has_tag_name("CORSRule") {
            return Err(malformed("CORSConfiguration holds only CORSRule elements"));
        }
        rules.push(xml_rule(node, &malformed)?);
    }
    Ok(CorsConfig { rules })
}

fn xml_rule(
    node: roxmltree::Node<'_, '_>,
    malformed: &dyn Fn(&str) -> String,
) -> Result<CorsRule, String> {
    let mut rule = CorsRule::default();
    for child in node.children() {
        if child.is_text() && child.text().is_some_and(|t| t.trim().is_empty()) {
            continue;
        }
        if !child.is_element() || child.children().any(|c| c.is_element()) {
            return Err(malformed("a CORSRule holds only simple elements"));
        }
        let value = child.text().unwrap_or("").trim().to_string();
        match child.tag_name().name() {
            "ID" if rule.id.is_none() => rule.id = Some(value),
            "AllowedOrigin" => rule.allowed_origins.push(value),
            "AllowedMethod" => rule.allowed_methods.push(value),
            "AllowedHeader" => rule.allowed_headers.push(value),
            "ExposeHeader" => rule.expose_headers.push(value),
            "MaxAgeSeconds" if rule.max_age_seconds.is_none() => {
                rule.max_age_seconds = Some(
                    value
                        .parse()
                        .map_err(|_| malformed("MaxAgeSeconds is a whole number"))?,
                )
            }
            other => {
                return Err(malformed(&format!(
                    "unexpected or repeated element <{other}>"
                )));
            }
        }
    }
    Ok(rule)
}

/// The aws-cli shape: `{"CORSRules": [{"AllowedOrigins": [...], ...}]}`.
fn parse_json(text: &str) -> Result<CorsConfig, String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Doc {
        #[serde(rename = "CORSRules")]
        rules: Vec<Rule>,
    }
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields, rename_all = "PascalCase")]
    struct Rule {
        #[serde(rename = "ID")]
        id: Option<String>,
        allowed_origins: Vec<String>,
        allowed_methods: Vec<String>,
        #[serde(default)]
        allowed_headers: Vec<String>,
        #[serde(default)]
        expose_headers: Vec<String>,
        max_age_seconds: Option<u64>,
    }
    let doc: Doc = serde_json::from_str(text)
        .map_err(|e| format!("the CORS configuration is not the JSON aws-cli takes: {e}"))?;
    Ok(CorsConfig {
        rules: doc
            .rules
            .into_iter()
            .map(|r| CorsRule {
                id: r.id,
                allowed_origins: r.allowed_origins,
                allowed_methods: r.allowed_methods,
                allowed_headers: r.allowed_headers,
                expose_headers: r.expose_headers,
                max_age_seconds: r.max_age_seconds,
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests;
