//! Multipart upload ids issued by the gateway, bound to the backend, bucket and key they were
//! created for.
//!
//! Behind the gateway every caller shares the backend's key, and some backends (s3s-fs) bind an
//! upload only to the key that created it: an upload id alone would let any session allowed to
//! write *some* key complete, extend, list or abort another session's upload of a key it may not
//! touch. So clients never see a backend's upload id. CreateMultipartUpload and
//! ListMultipartUploads answer with the backend id bound by the keyring to (backend, bucket, key)
//! ([`crate::sts::Keyring::bind`]); every request that names an upload opens it under the
//! request's own (backend, bucket, key), and one that does not open is refused with
//! `NoSuchUpload` before anything reaches the backend. No shared state: every replica with the
//! keyring opens every id, and an id is the same string each time it is issued.

use crate::s3::{Classified, ClassifyError};
use crate::sts::Keyring;

/// Where an upload lives: what its id is bound to.
#[derive(Debug, Clone, Copy)]
pub struct UploadScope<'a> {
    /// The configured backend's name.
    pub backend: &'a str,
    pub bucket: &'a str,
    /// The decoded object key.
    pub key: &'a str,
}

impl UploadScope<'_> {
    fn parts(&self) -> [&[u8]; 4] {
        [
            b"multipart upload",
            self.backend.as_bytes(),
            self.bucket.as_bytes(),
            self.key.as_bytes(),
        ]
    }
}

/// The id a client gets for the backend's `backend_id`.
pub fn issue(keyring: &Keyring, scope: UploadScope<'_>, backend_id: &str) -> String {
    keyring.bind(&scope.parts(), backend_id.as_bytes())
}

/// The backend's id behind a client's `issued` id, if the gateway issued it for this scope.
pub fn open(keyring: &Keyring, scope: UploadScope<'_>, issued: &str) -> Option<String> {
    keyring
        .unbind(&scope.parts(), issued)
        .ok()
        .and_then(|v| String::from_utf8(v).ok())
}

fn no_such_upload() -> ClassifyError {
    ClassifyError {
        code: "NoSuchUpload",
        message: "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.".into(),
        argument: None,
    }
}

/// Replaces the upload ids a classified request names (`uploadId`; ListMultipartUploads'
/// `upload-id-marker`, bound to its `key-marker`) with the backend's own. An id the gateway did
/// not issue for this backend, bucket and key is `NoSuchUpload` (a marker: `InvalidArgument`).
pub fn open_request(
    keyring: &Keyring,
    backend: &str,
    classified: &mut Classified,
) -> Result<(), ClassifyError> {
    let bucket = classified.target.bucket.as_deref().unwrap_or("");
    let key_marker = classified
        .params
        .iter()
        .find(|(n, _)| *n == "key-marker")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let key = classified.target.key.as_deref().unwrap_or("");
    for (name, value) in classified.params.iter_mut() {
        match *name {
            "uploadId" => {
                let scope = UploadScope {
                    backend,
                    bucket,
                    key,
                };
                *value = open(keyring, scope, value).ok_or_else(no_such_upload)?;
            }
            "upload-id-marker" => {
                let scope = UploadScope {
                    backend,
                    bucket,
                    key: &key_marker,
                };
                *value = open(keyring, scope, value).ok_or_else(|| {
                    crate::s3::error::invalid_argument(
                        "upload-id-marker",
                        "upload-id-marker is not an upload id this gateway issued for key-marker",
                    )
                })?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// The spans of a document to replace, and with what.
type Edits = Vec<(std::ops::Range<usize>, String)>;

fn splice(text: &str, mut edits: Edits) -> String {
    edits.sort_by_key(|(r, _)| r.start);
    let mut out = String::with_capacity(text.len() + edits.len() * 64);
    let mut at = 0;
    for (range, with) in edits {
        out.push_str(&text[at..range.start]);
        out.push_str(&with);
        at = range.end;
    }
    out.push_str(&text[at..]);
    out
}

fn child<'a, 'i>(node: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    node.children().find(|n| n.has_tag_name(name))
}

/// The text span of an element holding only text (`None` if it is empty or has element
/// children): what an id replacement overwrites.
fn text_span(node: roxmltree::Node<'_, '_>) -> Option<(std::ops::Range<usize>, String)> {
    let mut children = node.children();
    let text = children.next().filter(|t| t.is_text())?;
    if children.next().is_some() {
        return None;
    }
    Some((text.range(), text.text()?.to_string()))
}

fn parse<'i>(text: &'i str, root: &str) -> Option<roxmltree::Document<'i>> {
    let doc = roxmltree::Document::parse(text).ok()?;
    (doc.root_element().tag_name().name() == root).then_some(doc)
}

/// An `InitiateMultipartUploadResult` (CreateMultipartUpload) with its `<UploadId>` issued for
/// `scope`; `None` if the document is not one or has no id.
pub fn issue_in_initiate(xml: &[u8], keyring: &Keyring, scope: UploadScope<'_>) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let doc = parse(text, "InitiateMultipartUploadResult")?;
    let (range, id) = text_span(child(doc.root_element(), "UploadId")?)?;
    Some(splice(text, vec![(range, issue(keyring, scope, &id))]))
}

/// A `ListPartsResult` with its `<UploadId>` issued for `scope` (the same string the client sent,
/// since issuing is deterministic).
pub fn issue_in_parts(xml: &[u8], keyring: &Keyring, scope: UploadScope<'_>) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let doc = parse(text, "ListPartsResult")?;
    let (range, id) = text_span(child(doc.root_element(), "UploadId")?)?;
    Some(splice(text, vec![(range, issue(keyring, scope, &id))]))
}

/// A `ListMultipartUploadsResult` with every upload's `<UploadId>` issued for its own `<Key>`,
/// and the `UploadIdMarker`/`NextUploadIdMarker` for their key markers. Keys are decoded first
/// when the listing is URL-encoded (`encoding-type=url`). `None` if it is not such a document.
pub fn issue_in_listing(
    xml: &[u8],
    keyring: &Keyring,
    backend: &str,
    bucket: &str,
) -> Option<String> {
    let text = std::str::from_utf8(xml).ok()?;
    let doc = parse(text, "ListMultipartUploadsResult")?;
    let root = doc.root_element();
    let url_encoded = child(root, "EncodingType")
        .and_then(|n| n.text())
        .is_some_and(|t| t.trim() == "url");
    let key_of = |node: Option<roxmltree::Node<'_, '_>>| -> Option<String> {
        let raw = node.and_then(|n| n.text()).unwrap_or("");
        if !url_encoded {
            return Some(raw.to_string());
        }
        let bytes = crate::sigv4::encoding::percent_decode(raw.as_bytes(), true).ok()?;
        String::from_utf8(bytes).ok()
    };
    let mut edits = Edits::new();
    let mut bind = |id_node: Option<roxmltree::Node<'_, '_>>, key: String| -> Option<()> {
        // An empty marker (the first page) stays empty.
        if let Some((range, id)) = id_node.and_then(text_span) {
            let scope = UploadScope {
                backend,
                bucket,
                key: &key,
            };
            edits.push((range, issue(keyring, scope, &id)));
        }
        Some(())
    };
    bind(
        child(root, "UploadIdMarker"),
        key_of(child(root, "KeyMarker"))?,
    )?;
    bind(
        child(root, "NextUploadIdMarker"),
        key_of(child(root, "NextKeyMarker"))?,
    )?;
    for upload in root.children().filter(|n| n.has_tag_name("Upload")) {
        let id = child(upload, "UploadId");
        // An upload without an id cannot be resumed: the listing is not what S3 sends.
        id.and_then(text_span)?;
        bind(id, key_of(Some(child(upload, "Key")?))?)?;
    }
    Some(splice(text, edits))
}

#[cfg(test)]
mod tests;
