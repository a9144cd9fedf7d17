//! The DeleteObjects body: parsed strictly, every key checked like a request key, then
//! re-serialised by the gateway, so the backend deletes exactly the keys that were authorized.
//!
//! Parsers differ on malformed documents: Go's `encoding/xml` (MinIO) takes the last of two
//! `<Key>` elements and joins text split by a comment (`<Key>a<!---->b</Key>` is `ab`), where a
//! first-match reader sees `a`. So anything but one plain text `<Key>` per `<Object>` is refused:
//! duplicate or unknown elements, comments, processing instructions, CDATA-split text.

use super::address::check_key;
use super::error::ClassifyError;
use crate::xml::escape;

/// One object to delete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteEntry {
    pub key: String,
    pub version_id: Option<String>,
}

/// A parsed DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeleteList {
    pub quiet: bool,
    pub objects: Vec<DeleteEntry>,
}

/// At most this many keys in one request (S3's limit).
pub const MAX_KEYS: usize = 1000;

fn malformed(why: &str) -> ClassifyError {
    ClassifyError {
        code: "MalformedXML",
        message: format!(
            "The XML you provided was not well-formed or did not validate against our published schema: {why}"
        ),
        argument: None,
    }
}

impl DeleteList {
    pub fn parse(body: &[u8]) -> Result<DeleteList, ClassifyError> {
        let text = std::str::from_utf8(body).map_err(|_| malformed("the body is not UTF-8"))?;
        let doc = roxmltree::Document::parse(text).map_err(|_| malformed("not well-formed"))?;
        if doc.descendants().any(|n| n.is_comment() || n.is_pi()) {
            return Err(malformed(
                "comments and processing instructions are not accepted",
            ));
        }
        let root = doc.root_element();
        if !root.has_tag_name("Delete") {
            return Err(malformed("the root element must be Delete"));
        }
        let mut quiet = None;
        let mut objects = Vec::new();
        for child in elements(root)? {
            match child.tag_name().name() {
                "Quiet" if quiet.is_none() => {
                    quiet = Some(match text_of(child)? {
                        "true" => true,
                        "false" => false,
                        _ => return Err(malformed("Quiet must be true or false")),
                    });
                }
                "Object" => objects.push(entry(child)?),
                other => {
                    return Err(malformed(&format!(
                        "unexpected or repeated element <{other}> in <Delete>"
                    )));
                }
            }
        }
        if objects.is_empty() || objects.len() > MAX_KEYS {
            return Err(malformed("a Delete names from 1 to 1000 objects"));
        }
        Ok(DeleteList {
            quiet: quiet.unwrap_or(false),
            objects,
        })
    }

    /// The body the backend gets.
    pub fn to_xml(&self) -> String {
        let mut out = String::from(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Delete xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">",
        );
        if self.quiet {
            out.push_str("<Quiet>true</Quiet>");
        }
        for o in &self.objects {
            out.push_str("<Object><Key>");
            out.push_str(&escape(&o.key));
            out.push_str("</Key>");
            if let Some(v) = &o.version_id {
                out.push_str("<VersionId>");
                out.push_str(&escape(v));
                out.push_str("</VersionId>");
            }
            out.push_str("</Object>");
        }
        out.push_str("</Delete>");
        out
    }
}

fn entry(object: roxmltree::Node<'_, '_>) -> Result<DeleteEntry, ClassifyError> {
    let mut key = None;
    let mut version_id = None;
    for child in elements(object)? {
        let slot = match child.tag_name().name() {
            "Key" => &mut key,
            "VersionId" => &mut version_id,
            // Conditional deletes by ETag, time or size are not supported here.
            other => {
                return Err(malformed(&format!(
                    "unexpected element <{other}> in <Object>"
                )));
            }
        };
        if slot.is_some() {
            return Err(malformed(&format!(
                "<{}> is given more than once in one <Object>",
                child.tag_name().name()
            )));
        }
        *slot = Some(text_of(child)?.to_string());
    }
    let key = key
        .filter(|k| !k.is_empty())
        .ok_or_else(|| malformed("every <Object> needs a non-empty <Key>"))?;
    check_key(&key)?;
    if version_id
        .as_deref()
        .is_some_and(|v| v.is_empty() || v.chars().any(char::is_control))
    {
        return Err(malformed("a <VersionId> must be non-empty text"));
    }
    Ok(DeleteEntry { key, version_id })
}

/// The element children of `node`; text between them may only be white space.
fn elements<'a, 'i>(
    node: roxmltree::Node<'a, 'i>,
) -> Result<Vec<roxmltree::Node<'a, 'i>>, ClassifyError> {
    let mut out = Vec::new();
    for child in node.children() {
        if child.is_element() {
            out.push(child);
        } else if child.is_text() && !child.text().unwrap_or("").trim().is_empty() {
            return Err(malformed("unexpected text between elements"));
        }
    }
    Ok(out)
}

/// The text of a leaf element: exactly one text node (a comment or CDATA section would split
/// it), or none for an empty element.
fn text_of<'a>(node: roxmltree::Node<'a, '_>) -> Result<&'a str, ClassifyError> {
    let mut children = node.children();
    match (children.next(), children.next()) {
        (None, _) => Ok(""),
        (Some(t), None) if t.is_text() => Ok(t.text().unwrap_or("")),
        _ => Err(malformed(&format!(
            "<{}> must hold plain text only",
            node.tag_name().name()
        ))),
    }
}
