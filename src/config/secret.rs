//! Secrets in the config: inline (demo only), `env:NAME`, or `file:PATH`.

use std::fmt;
use std::path::Path;

/// A resolved secret. Its `Debug` never prints the value.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret's text. Call sites are the places that may see it; never log the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Where a secret came from; lints warn about [`SecretSource::Inline`] outside dev mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Inline,
    Env,
    File,
}

/// Resolves a secret reference. `base` is the config file's folder, for relative `file:` paths.
pub fn resolve_secret(reference: &str, base: &Path) -> Result<(Secret, SecretSource), String> {
    if let Some(name) = reference.strip_prefix("env:") {
        if name.is_empty() {
            return Err("env: needs a variable name, e.g. env:STSGATE_SECRET".into());
        }
        match std::env::var(name) {
            Ok(v) if !v.is_empty() => Ok((Secret(v), SecretSource::Env)),
            Ok(_) => Err(format!("environment variable {name} is empty")),
            Err(std::env::VarError::NotPresent) => {
                Err(format!("environment variable {name} is not set"))
            }
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(format!("environment variable {name} is not valid UTF-8"))
            }
        }
    } else if let Some(path) = reference.strip_prefix("file:") {
        let full = base.join(path);
        match std::fs::read_to_string(&full) {
            Ok(text) => {
                let trimmed = text.trim_end_matches(['\n', '\r']);
                if trimmed.is_empty() {
                    Err(format!("secret file {} is empty", full.display()))
                } else {
                    Ok((Secret(trimmed.to_string()), SecretSource::File))
                }
            }
            Err(e) => Err(format!("cannot read secret file {}: {e}", full.display())),
        }
    } else if reference.is_empty() {
        Err("the secret is empty".into())
    } else {
        Ok((Secret(reference.to_string()), SecretSource::Inline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        assert_eq!(
            format!("{:?}", Secret::new("hunter2")),
            "Secret(<redacted>)"
        );
    }

    #[test]
    fn inline_env_and_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("s.txt"), "from-file\n").unwrap();
        let (s, src) = resolve_secret("file:s.txt", dir.path()).unwrap();
        assert_eq!((s.expose(), src), ("from-file", SecretSource::File));
        let (s, src) = resolve_secret("plain", dir.path()).unwrap();
        assert_eq!((s.expose(), src), ("plain", SecretSource::Inline));
        // PATH is set in every environment these tests run in.
        let (_, src) = resolve_secret("env:PATH", dir.path()).unwrap();
        assert_eq!(src, SecretSource::Env);
        assert!(
            resolve_secret("env:STSGATE_SURELY_UNSET_VARIABLE", dir.path())
                .unwrap_err()
                .contains("is not set")
        );
        assert!(
            resolve_secret("file:missing", dir.path())
                .unwrap_err()
                .contains("cannot read secret file")
        );
        assert!(resolve_secret("", dir.path()).is_err());
    }
}
