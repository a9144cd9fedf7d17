//! The request context a policy is evaluated against: action, resource and condition keys.

use std::collections::HashMap;

/// A condition key's value: one value, or a set (multi-valued keys such as `aws:TagKeys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextValue {
    /// The key as it was set (for display).
    pub name: String,
    pub values: Vec<String>,
    pub multi: bool,
}

/// Everything a statement can be matched against. Keys are stored in lower case (IAM key names
/// are case-insensitive, including tag-key suffixes).
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `service:Action`, as named by the caller (matching is case-insensitive).
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    keys: HashMap<String, ContextValue>,
}

impl RequestContext {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            keys: HashMap::new(),
        }
    }

    /// Sets a single-valued key.
    pub fn set(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.keys.insert(
            key.to_ascii_lowercase(),
            ContextValue {
                name: key.to_string(),
                values: vec![value.into()],
                multi: false,
            },
        );
        self
    }

    /// Sets a multi-valued key.
    pub fn set_multi(&mut self, key: &str, values: Vec<String>) -> &mut Self {
        self.keys.insert(
            key.to_ascii_lowercase(),
            ContextValue {
                name: key.to_string(),
                values,
                multi: true,
            },
        );
        self
    }

    pub fn remove(&mut self, key: &str) {
        self.keys.remove(&key.to_ascii_lowercase());
    }

    /// Looks up a key given in lower case.
    pub fn get_lower(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(key)
    }

    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.keys.get(&key.to_ascii_lowercase())
    }

    /// A single-valued key's value (for policy variables; multi-valued keys are not variables).
    pub fn variable(&self, key_lower: &str) -> Option<&str> {
        self.keys
            .get(key_lower)
            .filter(|v| !v.multi && v.values.len() == 1)
            .map(|v| v.values[0].as_str())
    }

    /// All keys and values, sorted by key (for encoded failure messages and `simulate`).
    pub fn entries(&self) -> Vec<&ContextValue> {
        let mut entries: Vec<_> = self.keys.values().collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries
    }
}
