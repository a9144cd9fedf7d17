//! Browser POST uploads (S3's PostObject, signed with SigV4): the form as far as the file part
//! ([`scan_form`]), the policy document ([`Policy::parse`]) and its conditions
//! ([`Policy::check`]), with S3's codes and wording. Pure: the server reads the bytes, verifies
//! the signature with the caller's key and streams the file.
//!
//! The form is read strictly, so that the gateway and any other multipart reader see the same
//! fields: one `--boundary` line first (no preamble), each part with a `Content-Disposition:
//! form-data; name="…"` header (and for the file, `filename` and `Content-Type`) and nothing else,
//! no field named twice (names ignore ASCII case), and the `file` part last: the form must end with
//! the closing delimiter right after the file's bytes.

use std::collections::HashMap;

/// Largest size of the fields before the file (S3 refuses more with
/// `MaxPostPreDataLengthExceededError`).
pub const MAX_PRE_FILE: usize = 20 * 1024;
/// Largest header block of one part.
const MAX_PART_HEADERS: usize = 4 * 1024;

/// A refusal of a POST upload: S3's status, code, message and extra elements.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostError {
    pub status: u16,
    pub code: &'static str,
    pub message: String,
    pub extra: Vec<(&'static str, String)>,
}

impl PostError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> PostError {
        PostError {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
        }
    }

    pub fn malformed(why: &str) -> PostError {
        PostError::new(
            400,
            "MalformedPOSTRequest",
            format!("The body of your POST request is not well-formed multipart/form-data: {why}"),
        )
    }

    /// A required field is missing.
    pub fn missing(name: &str) -> PostError {
        let mut e = PostError::new(
            400,
            "InvalidArgument",
            format!(
                "Bucket POST must contain a field named '{name}'.  If it is specified, please check the order of the fields."
            ),
        );
        e.extra = vec![
            ("ArgumentName", name.to_string()),
            ("ArgumentValue", String::new()),
        ];
        e
    }

    fn denied(message: impl Into<String>) -> PostError {
        PostError::new(403, "AccessDenied", message)
    }

    fn invalid_policy(why: &str) -> PostError {
        PostError::new(
            400,
            "InvalidPolicyDocument",
            format!("Invalid Policy: {why}"),
        )
    }
}

/// The `boundary` of a `multipart/form-data` Content-Type.
pub fn boundary(content_type: &str) -> Result<String, PostError> {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    if !media.eq_ignore_ascii_case("multipart/form-data") {
        return Err(PostError::malformed(
            "the Content-Type is not multipart/form-data",
        ));
    }
    let mut found = None;
    for p in parts {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("boundary") {
            if found.is_some() {
                return Err(PostError::malformed("the boundary is given twice"));
            }
            let v = value.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            found = Some(v.to_string());
        }
    }
    let b = found.ok_or_else(|| PostError::malformed("the Content-Type has no boundary"))?;
    // RFC 2046: 1 to 70 characters (spaces only inside); ours: printable ASCII without quotes.
    if b.is_empty()
        || b.len() > 70
        || !b
            .bytes()
            .all(|c| c.is_ascii_graphic() && c != b'"' && c != b'\\')
    {
        return Err(PostError::malformed("the boundary is not a valid one"));
    }
    Ok(b)
}

/// One form field before the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// As sent.
    pub name: String,
    pub value: String,
}

/// The form up to the file's first byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub fields: Vec<Field>,
    /// The file part's `filename` (what `${filename}` in the key becomes).
    pub filename: String,
    /// Where the file's bytes start in the body.
    pub file_start: usize,
}

impl Form {
    /// A field's value by name (ignoring ASCII case).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|f| f.name.eq_ignore_ascii_case(name))
            .map(|f| f.value.as_str())
    }

    /// The closing bytes the form must end with after the file: `\r\n--boundary--\r\n`.
    pub fn closing(boundary: &str) -> Vec<u8> {
        format!("\r\n--{boundary}--\r\n").into_bytes()
    }
}

/// What [`scan_form`] found in the bytes read so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scan {
    /// Read more: the file part's headers are not complete yet.
    NeedMore,
    Form(Form),
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(haystack, needle)
}

/// Reads the fields of a POST form from the first bytes of its body, up to the first byte of
/// the `file` part. Fields before the file may take [`MAX_PRE_FILE`] bytes.
pub fn scan_form(buf: &[u8], boundary: &str) -> Result<Scan, PostError> {
    let first = format!("--{boundary}\r\n");
    let delimiter = format!("\r\n--{boundary}");
    if buf.len() < first.len() {
        return if first.as_bytes().starts_with(buf) {
            Ok(Scan::NeedMore)
        } else {
            Err(PostError::malformed(
                "the body must start with the boundary",
            ))
        };
    }
    if !buf.starts_with(first.as_bytes()) {
        return Err(PostError::malformed(
            "the body must start with the boundary",
        ));
    }
    let mut at = first.len();
    let mut fields: Vec<Field> = Vec::new();
    loop {
        let Some(head_len) = find(&buf[at..], b"\r\n\r\n") else {
            if buf.len() - at > MAX_PART_HEADERS {
                return Err(PostError::malformed("a part's headers are too long"));
            }
            return pre_file_limit(at).map(|()| Scan::NeedMore);
        };
        let part = part_headers(&buf[at..at + head_len])?;
        at += head_len + 4;
        if fields
            .iter()
            .any(|f| f.name.eq_ignore_ascii_case(&part.name))
        {
            return Err(PostError::malformed(&format!(
                "the field {} is given twice",
                part.name
            )));
        }
        if part.name.eq_ignore_ascii_case("file") {
            let Some(filename) = part.filename else {
                return Err(PostError::malformed("the file part has no filename"));
            };
            return Ok(Scan::Form(Form {
                fields,
                filename,
                file_start: at,
            }));
        }
        if part.filename.is_some() {
            return Err(PostError::malformed(&format!(
                "only the field named file may be a file (not {})",
                part.name
            )));
        }
        let Some(value_len) = find(&buf[at..], delimiter.as_bytes()) else {
            return pre_file_limit(buf.len()).map(|()| Scan::NeedMore);
        };
        let value = std::str::from_utf8(&buf[at..at + value_len])
            .map_err(|_| PostError::malformed(&format!("the field {} is not UTF-8", part.name)))?;
        fields.push(Field {
            name: part.name,
            value: value.to_string(),
        });
        at += value_len + delimiter.len();
        pre_file_limit(at)?;
        // After a delimiter: CRLF and the next part, or "--" (the end: no file).
        match buf.get(at..at + 2) {
            None | Some([b'\r']) => return Ok(Scan::NeedMore),
            Some(b"\r\n") => at += 2,
            Some(b"--") => return Err(PostError::missing("file")),
            Some(_) => return Err(PostError::malformed("a delimiter is followed by garbage")),
        }
    }
}

fn pre_file_limit(read: usize) -> Result<(), PostError> {
    if read > MAX_PRE_FILE + MAX_PART_HEADERS {
        return Err(PostError::new(
            400,
            "MaxPostPreDataLengthExceededError",
            "Your POST request fields preceding the upload file were too large.",
        ));
    }
    Ok(())
}

struct PartHeaders {
    name: String,
    filename: Option<String>,
}

/// A part's headers: `Content-Disposition: form-data; name="…"[; filename="…"]`, and for a file
/// an optional `Content-Type`. Any other header (a transfer encoding, a second disposition) is
/// refused: another reader could give the part another meaning.
fn part_headers(block: &[u8]) -> Result<PartHeaders, PostError> {
    let text = std::str::from_utf8(block)
        .map_err(|_| PostError::malformed("a part's headers are not UTF-8"))?;
    let mut disposition = None;
    let mut content_type = false;
    for line in text.split("\r\n") {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| PostError::malformed("a part header has no colon"))?;
        if name.bytes().any(|c| !c.is_ascii_graphic()) || line.contains(['\r', '\n']) {
            return Err(PostError::malformed("a part header is malformed"));
        }
        if name.eq_ignore_ascii_case("content-disposition") && disposition.is_none() {
            disposition = Some(value.trim());
        } else if name.eq_ignore_ascii_case("content-type") && !content_type {
            content_type = true;
        } else {
            return Err(PostError::malformed(&format!(
                "the part header {name} is not accepted"
            )));
        }
    }
    let d = disposition.ok_or_else(|| PostError::malformed("a part has no Content-Disposition"))?;
    let mut params = d.split(';');
    if !params
        .next()
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("form-data"))
    {
        return Err(PostError::malformed(
            "a part's disposition is not form-data",
        ));
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    for p in params {
        let (k, v) = p
            .split_once('=')
            .ok_or_else(|| PostError::malformed("a disposition parameter has no value"))?;
        let k = k.trim().to_ascii_lowercase();
        let v = v.trim();
        let v = match v.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
            Some(q) if !q.contains(['"', '\\']) => q,
            Some(_) => return Err(PostError::malformed("a quoted parameter has an escape")),
            None if !v.is_empty() && !v.contains(['"', '\\', ' ']) => v,
            None => return Err(PostError::malformed("a disposition parameter is malformed")),
        };
        if !matches!(k.as_str(), "name" | "filename") || seen.contains_key(&k) {
            return Err(PostError::malformed(&format!(
                "the disposition parameter {k} is not accepted (or given twice)"
            )));
        }
        seen.insert(k, v.to_string());
    }
    let name = seen
        .remove("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| PostError::malformed("a part has no name"))?;
    Ok(PartHeaders {
        name,
        filename: seen.remove("filename"),
    })
}

/// One condition of a POST policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    /// `{"field": "value"}` or `["eq", "$field", "value"]` (field lowercase).
    Eq { field: String, value: String },
    /// `["starts-with", "$field", "prefix"]`.
    StartsWith { field: String, prefix: String },
    /// `["content-length-range", min, max]`.
    LengthRange { min: u64, max: u64 },
}

impl Condition {
    /// The condition as S3 echoes it in "Policy Condition failed".
    fn echo(&self) -> String {
        match self {
            Condition::Eq { field, value } => {
                format!(
                    "[\"eq\", \"${field}\", {}]",
                    serde_json::Value::from(value.as_str())
                )
            }
            Condition::StartsWith { field, prefix } => format!(
                "[\"starts-with\", \"${field}\", {}]",
                serde_json::Value::from(prefix.as_str())
            ),
            Condition::LengthRange { min, max } => {
                format!("[\"content-length-range\", {min}, {max}]")
            }
        }
    }

    /// Checks the condition against the form (`bucket`: the URL's bucket) and the file's length.
    fn check(&self, form: &Form, bucket: &str, file_len: u64) -> Result<(), PostError> {
        let value = |field: &str| -> String {
            if field == "bucket" {
                return bucket.to_string();
            }
            form.get(field).unwrap_or("").to_string()
        };
        let met = match self {
            Condition::Eq { field, value: want } => &value(field) == want,
            // A list of types: each must start with the prefix.
            Condition::StartsWith { field, prefix } if field == "content-type" => value(field)
                .split(',')
                .all(|t| t.trim().starts_with(prefix.as_str())),
            Condition::StartsWith { field, prefix } => value(field).starts_with(prefix.as_str()),
            Condition::LengthRange { min, max } => return length_in_range(file_len, *min, *max),
        };
        if met {
            return Ok(());
        }
        Err(PostError::denied(format!(
            "Invalid according to Policy: Policy Condition failed: {}",
            self.echo()
        )))
    }

    /// The field it covers (none for the length range).
    fn field(&self) -> Option<&str> {
        match self {
            Condition::Eq { field, .. } | Condition::StartsWith { field, .. } => Some(field),
            Condition::LengthRange { .. } => None,
        }
    }
}

/// S3's `EntityTooSmall` / `EntityTooLarge` for a file outside `content-length-range`.
fn length_in_range(file_len: u64, min: u64, max: u64) -> Result<(), PostError> {
    let (code, message, bound, limit) = if file_len < min {
        (
            "EntityTooSmall",
            "Your proposed upload is smaller than the minimum allowed size",
            "MinSizeAllowed",
            min,
        )
    } else if file_len > max {
        (
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
            "MaxSizeAllowed",
            max,
        )
    } else {
        return Ok(());
    };
    let mut e = PostError::new(400, code, message);
    e.extra = vec![
        ("ProposedSize", file_len.to_string()),
        (bound, limit.to_string()),
    ];
    Err(e)
}

/// Fields `starts-with` may test (S3's list); any other takes only an exact match.
fn may_start_with(field: &str) -> bool {
    matches!(
        field,
        "key"
            | "acl"
            | "cache-control"
            | "content-type"
            | "content-disposition"
            | "content-encoding"
            | "expires"
            | "success_action_redirect"
            | "redirect"
    ) || field.starts_with("x-amz-meta-")
}

/// A POST policy document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Unix seconds.
    pub expiration: i64,
    pub conditions: Vec<Condition>,
}

/// Largest decoded policy document.
const MAX_POLICY: usize = 20 * 1024;

impl Policy {
    /// Decodes the `policy` field (base64 of the JSON document).
    pub fn parse(policy_field: &str) -> Result<Policy, PostError> {
        let bytes = data_encoding::BASE64
            .decode(policy_field.trim().as_bytes())
            .map_err(|_| PostError::invalid_policy("Invalid 'base64' encoding."))?;
        if bytes.len() > MAX_POLICY {
            return Err(PostError::invalid_policy(
                "the policy document is too large.",
            ));
        }
        let doc: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|_| PostError::invalid_policy("Invalid JSON."))?;
        let obj = doc
            .as_object()
            .ok_or_else(|| PostError::invalid_policy("Invalid JSON."))?;
        if let Some(k) = obj
            .keys()
            .find(|k| !matches!(k.as_str(), "expiration" | "conditions"))
        {
            return Err(PostError::invalid_policy(&format!(
                "Unexpected field: {k}."
            )));
        }
        let expiration = obj
            .get("expiration")
            .and_then(|v| v.as_str())
            .and_then(parse_expiration)
            .ok_or_else(|| {
                PostError::invalid_policy("Policy missing expiration or it is not a valid date.")
            })?;
        let list = obj
            .get("conditions")
            .and_then(|v| v.as_array())
            .ok_or_else(|| PostError::invalid_policy("Policy missing conditions."))?;
        let conditions = list.iter().map(condition).collect::<Result<_, _>>()?;
        Ok(Policy {
            expiration,
            conditions,
        })
    }

    /// Checks the form against the policy at `now`: not expired, every condition met (`bucket`
    /// is the bucket of the URL), every field but the signature, the policy, the file and
    /// `x-ignore-*` covered by a condition, and the file's length in range.
    pub fn check(
        &self,
        form: &Form,
        bucket: &str,
        now: i64,
        file_len: u64,
    ) -> Result<(), PostError> {
        if now >= self.expiration {
            return Err(PostError::denied(
                "Invalid according to Policy: Policy expired.",
            ));
        }
        // The object goes to the URL's bucket; a form that names another is refused rather than
        // read one way here and another way by whoever wrote it.
        if let Some(named) = form.get("bucket")
            && named != bucket
        {
            return Err(PostError::denied(format!(
                "Invalid according to Policy: the bucket field names {named}, but the form was sent to bucket {bucket}"
            )));
        }
        for c in &self.conditions {
            c.check(form, bucket, file_len)?;
        }
        self.covers(form)
    }

    /// Every field but the signature, the policy and `x-ignore-*` is named by a condition.
    fn covers(&self, form: &Form) -> Result<(), PostError> {
        for f in &form.fields {
            let name = f.name.to_ascii_lowercase();
            if matches!(name.as_str(), "x-amz-signature" | "policy")
                || name.starts_with("x-ignore-")
            {
                continue;
            }
            if !self
                .conditions
                .iter()
                .any(|c| c.field() == Some(name.as_str()))
            {
                return Err(PostError::denied(format!(
                    "Invalid according to Policy: Extra input fields: {name}"
                )));
            }
        }
        Ok(())
    }
}

/// `2026-01-01T12:00:00.000Z` or without the milliseconds.
fn parse_expiration(text: &str) -> Option<i64> {
    use time::format_description::well_known::Rfc3339;
    if !text.ends_with('Z') {
        return None;
    }
    time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|t| t.unix_timestamp())
}

fn condition(v: &serde_json::Value) -> Result<Condition, PostError> {
    let field_name = |f: &str| f.trim_start_matches('$').to_ascii_lowercase();
    match v {
        serde_json::Value::Object(o) => {
            if o.len() != 1 {
                return Err(PostError::invalid_policy(
                    "Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.",
                ));
            }
            let (k, v) = o.iter().next().expect("one property");
            let value = v.as_str().ok_or_else(|| {
                PostError::invalid_policy("Invalid Simple-Condition: value must be a string.")
            })?;
            Ok(Condition::Eq {
                field: field_name(k),
                value: value.to_string(),
            })
        }
        serde_json::Value::Array(a) => {
            let op = a.first().and_then(|o| o.as_str()).unwrap_or("");
            match (op.to_ascii_lowercase().as_str(), a.len()) {
                ("eq" | "starts-with", 3) => {
                    let (Some(f), Some(value)) = (a[1].as_str(), a[2].as_str()) else {
                        return Err(PostError::invalid_policy(
                            "Invalid Condition: field and value must be strings.",
                        ));
                    };
                    if !f.starts_with('$') {
                        return Err(PostError::invalid_policy(
                            "Invalid Condition: the field must start with '$'.",
                        ));
                    }
                    let field = field_name(f);
                    if op.eq_ignore_ascii_case("eq") {
                        return Ok(Condition::Eq {
                            field,
                            value: value.to_string(),
                        });
                    }
                    if !may_start_with(&field) {
                        return Err(PostError::invalid_policy(&format!(
                            "Invalid Condition: 'starts-with' cannot be used with {field}."
                        )));
                    }
                    Ok(Condition::StartsWith {
                        field,
                        prefix: value.to_string(),
                    })
                }
                ("content-length-range", 3) => {
                    let (Some(min), Some(max)) = (a[1].as_u64(), a[2].as_u64()) else {
                        return Err(PostError::invalid_policy(
                            "Invalid content-length-range: the bounds are whole numbers.",
                        ));
                    };
                    if min > max {
                        return Err(PostError::invalid_policy(
                            "Invalid content-length-range: the minimum is above the maximum.",
                        ));
                    }
                    Ok(Condition::LengthRange { min, max })
                }
                _ => Err(PostError::invalid_policy(&format!(
                    "Invalid Condition: unknown operator or wrong number of arguments: {v}"
                ))),
            }
        }
        _ => Err(PostError::invalid_policy(
            "Invalid Condition: a condition is an object or an array.",
        )),
    }
}

/// The object key the form names: `${filename}` replaced by the file's name.
pub fn object_key(form: &Form) -> Result<String, PostError> {
    let key = form.get("key").ok_or_else(|| PostError::missing("key"))?;
    Ok(key.replace("${filename}", &form.filename))
}

/// The `x-amz-tagging` value (URL-encoded `k=v&…`) of a `tagging` field's XML.
pub fn tagging_header(xml: &str) -> Result<String, PostError> {
    let bad = || {
        PostError::new(
            400,
            "MalformedXML",
            "The tagging field is not a Tagging document",
        )
    };
    let doc = roxmltree::Document::parse(xml).map_err(|_| bad())?;
    let root = doc.root_element();
    if !root.has_tag_name("Tagging") {
        return Err(bad());
    }
    let set = root
        .children()
        .find(|n| n.has_tag_name("TagSet"))
        .ok_or_else(bad)?;
    let mut out = Vec::new();
    for tag in set.children().filter(|n| n.is_element()) {
        let text = |name: &str| {
            tag.children()
                .find(|n| n.has_tag_name(name))
                .map(|n| n.text().unwrap_or("").to_string())
        };
        let (Some(k), Some(v)) = (text("Key"), text("Value")) else {
            return Err(bad());
        };
        out.push(format!(
            "{}={}",
            crate::sigv4::encoding::uri_encode(k.as_bytes(), false),
            crate::sigv4::encoding::uri_encode(v.as_bytes(), false)
        ));
    }
    Ok(out.join("&"))
}

#[cfg(test)]
mod tests;
