//! CORS rules in the config: a bucket's (`[[backends.buckets]] cors`, optionally managed
//! through Put/DeleteBucketCors) and an HTTP API route's (`[[backends]] cors`).

use std::path::PathBuf;
use std::sync::Arc;

use toml::Spanned;

use super::Validator;
use crate::cors::CorsConfig;

/// A checked `cors` setting: the rules (`None`: a managed file not written yet) and, when
/// managed, the file Put/DeleteBucketCors write.
pub(super) type CheckedCors = (Option<Arc<CorsConfig>>, Option<PathBuf>);

impl Validator<'_, '_> {
    /// `cors` (inline or `file:PATH`) read and checked as S3 checks PutBucketCors; `managed`:
    /// the gateway may write the file (it may then be missing: no rules until one is put).
    pub(super) fn cors(
        &mut self,
        value: Option<&Spanned<String>>,
        managed: bool,
        at: &str,
        span: &std::ops::Range<usize>,
    ) -> Option<CheckedCors> {
        let Some(value) = value else {
            if managed {
                self.p.error(
                    span,
                    at,
                    "manage_cors needs cors = \"file:PATH\": the file Put/DeleteBucketCors write",
                );
                return None;
            }
            return Some((None, None));
        };
        let raw = value.get_ref();
        let file = raw.strip_prefix("file:").map(|p| self.base.join(p));
        if managed && file.is_none() {
            self.p.error(
                &value.span(),
                at,
                "manage_cors needs cors = \"file:PATH\": the file Put/DeleteBucketCors write",
            );
            return None;
        }
        let text = match &file {
            Some(path) => {
                self.files.push(path.clone());
                match std::fs::read_to_string(path) {
                    Ok(t) => t,
                    Err(e) if managed && e.kind() == std::io::ErrorKind::NotFound => {
                        return Some((None, file));
                    }
                    Err(e) => {
                        self.p.error(
                            &value.span(),
                            at,
                            format!("cannot read CORS file {}: {e}", path.display()),
                        );
                        return None;
                    }
                }
            }
            None => raw.clone(),
        };
        match CorsConfig::parse(&text) {
            Ok(c) => Some((Some(Arc::new(c)), file.filter(|_| managed))),
            Err(e) => {
                self.p.error(&value.span(), at, format!("cors: {e}"));
                None
            }
        }
    }
}
