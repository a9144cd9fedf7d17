//! The request context a policy is evaluated against: action, resource and condition keys.

use std::borrow::Cow;

/// A condition key's value: one value, or a set (multi-valued keys such as `aws:TagKeys`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextValue {
    /// The key as it was set (for display; compared case-insensitively).
    pub name: Cow<'static, str>,
    pub values: Vec<String>,
    pub multi: bool,
}

/// Everything a statement can be matched against. IAM key names are case-insensitive
/// (tag-key suffixes included). A request sets about twenty keys and a policy looks up a few,
/// so they are kept in a list and compared ignoring ASCII case: no hashing, no lower-cased copy.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// `service:Action`, as named by the caller (matching is case-insensitive).
    pub action: String,
    /// The resource ARN (or `*`).
    pub resource: String,
    keys: Vec<ContextValue>,
}

impl RequestContext {
    pub fn new(action: impl Into<String>, resource: impl Into<String>) -> Self {
        RequestContext {
            action: action.into(),
            resource: resource.into(),
            keys: Vec::with_capacity(24),
        }
    }

    fn put(&mut self, value: ContextValue) -> &mut Self {
        match self
            .keys
            .iter_mut()
            .find(|v| v.name.eq_ignore_ascii_case(&value.name))
        {
            Some(existing) => *existing = value,
            None => self.keys.push(value),
        }
        self
    }

    /// Sets a single-valued key.
    pub fn set(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        value: impl Into<String>,
    ) -> &mut Self {
        self.put(ContextValue {
            name: key.into(),
            values: vec![value.into()],
            multi: false,
        })
    }

    /// Sets a multi-valued key.
    pub fn set_multi(
        &mut self,
        key: impl Into<Cow<'static, str>>,
        values: Vec<String>,
    ) -> &mut Self {
        self.put(ContextValue {
            name: key.into(),
            values,
            multi: true,
        })
    }

    pub fn remove(&mut self, key: &str) {
        self.keys.retain(|v| !v.name.eq_ignore_ascii_case(key));
    }

    /// Looks a key up, ignoring ASCII case.
    pub fn get(&self, key: &str) -> Option<&ContextValue> {
        self.keys.iter().find(|v| v.name.eq_ignore_ascii_case(key))
    }

    /// A single-valued key's value (for policy variables; multi-valued keys are not variables).
    pub fn variable(&self, key: &str) -> Option<&str> {
        self.get(key)
            .filter(|v| !v.multi && v.values.len() == 1)
            .map(|v| v.values[0].as_str())
    }

    /// All keys and values, sorted by key (for encoded failure messages and `simulate`).
    pub fn entries(&self) -> Vec<&ContextValue> {
        let mut entries: Vec<_> = self.keys.iter().collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        entries
    }
}
