//! Wildcard patterns (`*`, `?`) and policy-variable templates (`${aws:username}`), compiled once.
//!
//! A linear matcher over characters, never a regex built by string replacement. Text substituted
//! from a policy variable is always literal: a user named `bob*` cannot widen a resource pattern.

/// One element of a pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    Char(char),
    /// `*`: any run of characters, including none.
    Star,
    /// `?`: exactly one character.
    One,
}

/// A compiled wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Glob {
    /// `*` alone.
    Any,
    Exact(String),
    /// `prefix*`.
    Prefix(String),
    /// `*suffix`.
    Suffix(String),
    General(Vec<Atom>),
}

impl Glob {
    /// Compiles `pattern`; with `fold_case` both sides are compared in lower case (actions).
    pub fn new(pattern: &str, fold_case: bool) -> Glob {
        let pattern = if fold_case {
            pattern.to_lowercase()
        } else {
            pattern.to_string()
        };
        Glob::from_atoms(pattern.chars().map(|c| match c {
            '*' => Atom::Star,
            '?' => Atom::One,
            c => Atom::Char(c),
        }))
    }

    fn from_atoms(atoms: impl Iterator<Item = Atom>) -> Glob {
        let atoms: Vec<Atom> = atoms.collect();
        let literal = |a: &[Atom]| -> Option<String> {
            a.iter()
                .map(|x| {
                    if let Atom::Char(c) = x {
                        Some(*c)
                    } else {
                        None
                    }
                })
                .collect()
        };
        match atoms.as_slice() {
            [Atom::Star] => Glob::Any,
            _ if literal(&atoms).is_some() => Glob::Exact(literal(&atoms).unwrap_or_default()),
            [head @ .., Atom::Star] if literal(head).is_some() => {
                Glob::Prefix(literal(head).unwrap_or_default())
            }
            [Atom::Star, tail @ ..] if literal(tail).is_some() => {
                Glob::Suffix(literal(tail).unwrap_or_default())
            }
            _ => Glob::General(atoms),
        }
    }

    pub fn matches(&self, text: &str) -> bool {
        match self {
            Glob::Any => true,
            Glob::Exact(s) => s == text,
            Glob::Prefix(p) => text.starts_with(p.as_str()),
            Glob::Suffix(s) => text.ends_with(s.as_str()),
            Glob::General(atoms) => glob_match(atoms, text),
        }
    }

    pub fn is_literal(&self) -> bool {
        matches!(self, Glob::Exact(_))
    }
}

/// Iterative wildcard matching with single-star backtracking: O(len(text) × len(pattern)) worst
/// case, no recursion, no allocation beyond the text's characters.
fn glob_match(pattern: &[Atom], text: &str) -> bool {
    if text.is_ascii() {
        // One byte per character: match on bytes, no allocation.
        return glob_match_units(pattern, text.as_bytes(), |b| char::from(*b));
    }
    let chars: Vec<char> = text.chars().collect();
    glob_match_units(pattern, &chars, |c| *c)
}

fn glob_match_units<T>(pattern: &[Atom], text: &[T], to_char: impl Fn(&T) -> char) -> bool {
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Atom::Char(c)) if *c == to_char(&text[t]) => {
                p += 1;
                t += 1;
            }
            Some(Atom::One) => {
                p += 1;
                t += 1;
            }
            Some(Atom::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|a| *a == Atom::Star)
}

/// A part of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    /// Pattern text (wildcards active).
    Text(String),
    /// `${key}` or `${key, 'default'}`; the key is stored in lower case.
    Var {
        key: String,
        default: Option<String>,
    },
}

/// A policy value that may contain variables. Without variables it is a precompiled [`Glob`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    parts: Vec<Part>,
    compiled: Option<Glob>,
    fold_case: bool,
}

/// Why a template did not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError(pub String);

impl Template {
    /// Parses `value`. With `variables` false (policy version 2008-10-17) `${…}` is literal text.
    pub fn new(value: &str, variables: bool, fold_case: bool) -> Result<Template, TemplateError> {
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = value;
        while variables && let Some(start) = rest.find("${") {
            text.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after.find('}').ok_or_else(|| {
                TemplateError(format!("unterminated policy variable in \"{value}\""))
            })?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            match inner {
                // Escapes: the character itself, never a wildcard.
                "*" | "?" | "$" => {
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Var {
                        key: String::new(),
                        default: Some(inner.to_string()),
                    });
                }
                _ => {
                    let (key, default) = match inner.split_once(',') {
                        Some((key, default)) => {
                            let d = default.trim();
                            let d = d
                                .strip_prefix('\'')
                                .and_then(|d| d.strip_suffix('\''))
                                .ok_or_else(|| {
                                    TemplateError(format!(
                                        "the default in \"${{{inner}}}\" must be single-quoted"
                                    ))
                                })?;
                            (key.trim(), Some(d.to_string()))
                        }
                        None => (inner.trim(), None),
                    };
                    if key.is_empty() || key.contains(char::is_whitespace) {
                        return Err(TemplateError(format!(
                            "\"${{{inner}}}\" is not a valid policy variable"
                        )));
                    }
                    if !text.is_empty() {
                        parts.push(Part::Text(std::mem::take(&mut text)));
                    }
                    parts.push(Part::Var {
                        key: key.to_ascii_lowercase(),
                        default,
                    });
                }
            }
        }
        text.push_str(rest);
        if !text.is_empty() || parts.is_empty() {
            parts.push(Part::Text(text));
        }
        let compiled = match parts.as_slice() {
            [Part::Text(t)] => Some(Glob::new(t, fold_case)),
            _ => None,
        };
        Ok(Template {
            parts,
            compiled,
            fold_case,
        })
    }

    /// The text of a template without variables (wildcard characters included, as written).
    pub fn literal(&self) -> Option<&str> {
        match self.parts.as_slice() {
            [Part::Text(t)] if !self.fold_case => Some(t),
            _ => None,
        }
    }

    pub fn has_variables(&self) -> bool {
        self.compiled.is_none()
    }

    /// Matches `text` as a wildcard pattern; `lookup` resolves variables (lower-case keys).
    /// A variable with no value and no default makes the template match nothing.
    pub fn matches<'a>(&self, text: &str, lookup: impl Fn(&str) -> Option<&'a str>) -> bool {
        if let Some(glob) = &self.compiled {
            return glob.matches(text);
        }
        match self.atoms(lookup) {
            Some(atoms) => Glob::from_atoms(atoms.into_iter()).matches(text),
            None => false,
        }
    }

    /// The literal value after substitution (wildcards kept as characters), for operators that
    /// compare exactly. `None` when a variable has no value.
    pub fn resolve<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> Option<String> {
        let mut out = String::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => out.push_str(t),
                Part::Var { key, default } => out.push_str(var_value(key, default, &lookup)?),
            }
        }
        Some(out)
    }

    fn atoms<'a>(&self, lookup: impl Fn(&str) -> Option<&'a str>) -> Option<Vec<Atom>> {
        let mut atoms = Vec::new();
        for part in &self.parts {
            match part {
                Part::Text(t) => {
                    let t = if self.fold_case {
                        t.to_lowercase()
                    } else {
                        t.clone()
                    };
                    atoms.extend(t.chars().map(|c| match c {
                        '*' => Atom::Star,
                        '?' => Atom::One,
                        c => Atom::Char(c),
                    }));
                }
                Part::Var { key, default } => {
                    let value = var_value(key, default, &lookup)?;
                    atoms.extend(value.chars().map(Atom::Char));
                }
            }
        }
        Some(atoms)
    }
}

fn var_value<'a, 'b>(
    key: &str,
    default: &'b Option<String>,
    lookup: &impl Fn(&str) -> Option<&'a str>,
) -> Option<&'b str>
where
    'a: 'b,
{
    if key.is_empty() {
        // Escape: the default holds the literal character.
        return default.as_deref();
    }
    lookup(key).or(default.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_shapes_and_matching() {
        assert_eq!(Glob::new("*", false), Glob::Any);
        assert_eq!(
            Glob::new("s3:GetObject", true),
            Glob::Exact("s3:getobject".into())
        );
        assert_eq!(Glob::new("s3:Get*", true), Glob::Prefix("s3:get".into()));
        assert_eq!(Glob::new("*Object", false), Glob::Suffix("Object".into()));
        let g = Glob::new("arn:aws:s3:::b/*/x?.txt", false);
        assert!(matches!(g, Glob::General(_)));
        assert!(g.matches("arn:aws:s3:::b/a/b/x1.txt"));
        assert!(g.matches("arn:aws:s3:::b//x1.txt"));
        assert!(!g.matches("arn:aws:s3:::b/a/x12.txt"));
        assert!(!g.matches("arn:aws:s3:::b/x1.txt"));
        assert!(Glob::new("a*b*c", false).matches("abc"));
        assert!(Glob::new("a*b*c", false).matches("axxbyyc"));
        assert!(!Glob::new("a*b*c", false).matches("axxbyy"));
        assert!(Glob::new("?", false).matches("ሴ"));
        assert!(!Glob::new("?", false).matches(""));
        assert!(Glob::new("**", false).matches(""));
        assert!(Glob::new("home/*", false).matches("home/"));
        // Regex metacharacters are plain characters.
        assert!(Glob::new("a.b+(c)", false).matches("a.b+(c)"));
        assert!(!Glob::new("a.b", false).matches("axb"));
    }

    #[test]
    fn pathological_patterns_stay_linear_enough() {
        let pattern = Glob::new(&"a*".repeat(50), false);
        let text = "a".repeat(2000) + "b";
        assert!(pattern.matches(&text));
        assert!(!Glob::new(&("a*".repeat(50) + "c"), false).matches(&text));
    }

    fn lookup(key: &str) -> Option<&'static str> {
        match key {
            "aws:username" => Some("bob"),
            "aws:principaltag/team" => Some("data*"),
            _ => None,
        }
    }

    #[test]
    fn variables_are_substituted_literally() {
        let t = Template::new("arn:aws:s3:::home/${aws:username}/*", true, false).unwrap();
        assert!(t.has_variables());
        assert!(t.matches("arn:aws:s3:::home/bob/notes.txt", lookup));
        assert!(!t.matches("arn:aws:s3:::home/alice/notes.txt", lookup));
        // A substituted '*' is a literal star, not a wildcard.
        let team =
            Template::new("arn:aws:s3:::teams/${aws:PrincipalTag/team}", true, false).unwrap();
        assert!(team.matches("arn:aws:s3:::teams/data*", lookup));
        assert!(!team.matches("arn:aws:s3:::teams/data-science", lookup));
    }

    #[test]
    fn defaults_escapes_and_missing_values() {
        let d = Template::new("${aws:PrincipalTag/dept, 'company-wide'}", true, false).unwrap();
        assert_eq!(d.resolve(lookup).as_deref(), Some("company-wide"));
        let e = Template::new("a${*}b${?}c${$}", true, false).unwrap();
        assert_eq!(e.resolve(lookup).as_deref(), Some("a*b?c$"));
        assert!(e.matches("a*b?c$", lookup));
        assert!(!e.matches("aXbYc$", lookup));
        let missing = Template::new("home/${aws:userid}/*", true, false).unwrap();
        assert!(
            !missing.matches("home//x", lookup),
            "a variable without value matches nothing"
        );
        assert_eq!(missing.resolve(lookup), None);
        // 2008-10-17: literal.
        let old = Template::new("home/${aws:username}", false, false).unwrap();
        assert!(old.matches("home/${aws:username}", lookup));
        assert!(Template::new("${unterminated", true, false).is_err());
        assert!(Template::new("${a, default}", true, false).is_err());
        // Keys are case-insensitive.
        assert!(
            Template::new("${AWS:UserName}", true, false)
                .unwrap()
                .matches("bob", lookup)
        );
    }
}
