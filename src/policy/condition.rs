//! Condition operators, compiled once (values pre-parsed by type) and evaluated per request,
//! with IAM's missing-key, multi-value and set-operator rules (spec sts-iam.md §5.4).

use std::net::IpAddr;

use ipnet::IpNet;

use super::context::{ContextValue, RequestContext};
use super::document::{BaseOperator, Condition, ConditionOperator, SetQualifier};
use super::pattern::Template;

/// Policy values, parsed for their operator.
#[derive(Debug, Clone)]
enum Values {
    /// String and ARN operators (variables allowed). For ARN operators, each value is split
    /// into its six parts.
    Strings(Vec<Template>),
    Arns(Vec<[Template; 6]>),
    Numbers(Vec<f64>),
    /// Seconds since the epoch (with fractions).
    Dates(Vec<f64>),
    Bools(Vec<bool>),
    Binary(Vec<Vec<u8>>),
    Nets(Vec<IpNet>),
    /// `Null`: true = the key must be absent.
    Null(bool),
}

/// A compiled condition entry.
#[derive(Debug, Clone)]
pub struct CompiledCondition {
    pub operator: ConditionOperator,
    /// Lower-case key.
    key: String,
    values: Values,
    /// As written, for explanations.
    pub source: Condition,
}

fn negated(op: BaseOperator) -> bool {
    matches!(
        op,
        BaseOperator::StringNotEquals
            | BaseOperator::StringNotEqualsIgnoreCase
            | BaseOperator::StringNotLike
            | BaseOperator::NumericNotEquals
            | BaseOperator::DateNotEquals
            | BaseOperator::NotIpAddress
            | BaseOperator::ArnNotEquals
            | BaseOperator::ArnNotLike
    )
}

/// Parses an IAM date: ISO 8601 (`2026-03-01`, `2026-03-01T12:00Z`, `…:00Z`, fractions,
/// offsets) or epoch seconds. Returns seconds since the epoch.
pub fn parse_date(value: &str) -> Option<f64> {
    use time::format_description::well_known::Rfc3339;
    let v = value.trim();
    if let Some(t) = parse_plain_utc(v) {
        return Some(t);
    }
    if let Ok(n) = v.parse::<f64>()
        && !v.contains('-')
    {
        return Some(n);
    }
    if let Ok(t) = time::OffsetDateTime::parse(v, &Rfc3339) {
        return Some(t.unix_timestamp() as f64 + f64::from(t.nanosecond()) / 1e9);
    }
    // Forms RFC 3339 lacks: date only, and minutes without seconds.
    let date_only = time::macros::format_description!("[year]-[month]-[day]");
    if let Ok(d) = time::Date::parse(v, date_only) {
        return Some(d.midnight().assume_utc().unix_timestamp() as f64);
    }
    let minutes = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
    if let Ok(t) = time::PrimitiveDateTime::parse(v, minutes) {
        return Some(t.assume_utc().unix_timestamp() as f64);
    }
    None
}

/// Fast path for `YYYY-MM-DDTHH:MM:SSZ`, the form stsgate itself puts in request contexts.
fn parse_plain_utc(v: &str) -> Option<f64> {
    let b = v.as_bytes();
    if b.len() != 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| {
        b[r].iter().try_fold(0u32, |acc, &c| {
            c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
        })
    };
    let date = time::Date::from_calendar_date(
        i32::try_from(num(0..4)?).ok()?,
        time::Month::try_from(u8::try_from(num(5..7)?).ok()?).ok()?,
        u8::try_from(num(8..10)?).ok()?,
    )
    .ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(num(11..13)?).ok()?,
        u8::try_from(num(14..16)?).ok()?,
        u8::try_from(num(17..19)?).ok()?,
    )
    .ok()?;
    Some(
        time::PrimitiveDateTime::new(date, clock)
            .assume_utc()
            .unix_timestamp() as f64,
    )
}

fn parse_net(value: &str) -> Option<IpNet> {
    value
        .parse::<IpNet>()
        .ok()
        .or_else(|| value.parse::<IpAddr>().ok().map(IpNet::from))
}

impl CompiledCondition {
    /// Compiles a condition. `variables` is true under policy version 2012-10-17.
    pub fn compile(c: &Condition, variables: bool) -> Result<CompiledCondition, String> {
        Ok(CompiledCondition {
            operator: c.operator,
            key: c.key.to_ascii_lowercase(),
            values: values_of(c, variables)?,
            source: c.clone(),
        })
    }
}

/// A condition's values, parsed for its operator's family.
fn values_of(c: &Condition, variables: bool) -> Result<Values, String> {
    let bad =
        |what: &str, v: &str| format!("Condition {} {}: \"{v}\" is not {what}", c.operator, c.key);
    let values = match c.operator.base {
        BaseOperator::StringEquals
        | BaseOperator::StringNotEquals
        | BaseOperator::StringEqualsIgnoreCase
        | BaseOperator::StringNotEqualsIgnoreCase
        | BaseOperator::StringLike
        | BaseOperator::StringNotLike => Values::Strings(
            c.values
                .iter()
                .map(|v| Template::new(v, variables, false).map_err(|e| e.0))
                .collect::<Result<_, _>>()?,
        ),
        BaseOperator::ArnEquals
        | BaseOperator::ArnLike
        | BaseOperator::ArnNotEquals
        | BaseOperator::ArnNotLike => Values::Arns(arn_templates(c, variables)?),
        BaseOperator::NumericEquals
        | BaseOperator::NumericNotEquals
        | BaseOperator::NumericLessThan
        | BaseOperator::NumericLessThanEquals
        | BaseOperator::NumericGreaterThan
        | BaseOperator::NumericGreaterThanEquals => Values::Numbers(
            c.values
                .iter()
                .map(|v| v.trim().parse::<f64>().map_err(|_| bad("a number", v)))
                .collect::<Result<_, _>>()?,
        ),
        BaseOperator::DateEquals
        | BaseOperator::DateNotEquals
        | BaseOperator::DateLessThan
        | BaseOperator::DateLessThanEquals
        | BaseOperator::DateGreaterThan
        | BaseOperator::DateGreaterThanEquals => Values::Dates(
            c.values
                .iter()
                .map(|v| parse_date(v).ok_or_else(|| bad("a date (ISO 8601 or epoch seconds)", v)))
                .collect::<Result<_, _>>()?,
        ),
        BaseOperator::Bool => Values::Bools(
            c.values
                .iter()
                .map(|v| match v.to_ascii_lowercase().as_str() {
                    "true" => Ok(true),
                    "false" => Ok(false),
                    _ => Err(bad("true or false", v)),
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOperator::BinaryEquals => Values::Binary(
            c.values
                .iter()
                .map(|v| {
                    data_encoding::BASE64
                        .decode(v.as_bytes())
                        .map_err(|_| bad("base64", v))
                })
                .collect::<Result<_, _>>()?,
        ),
        BaseOperator::IpAddress | BaseOperator::NotIpAddress => Values::Nets(
            c.values
                .iter()
                .map(|v| parse_net(v.trim()).ok_or_else(|| bad("an IP address or CIDR", v)))
                .collect::<Result<_, _>>()?,
        ),
        BaseOperator::Null => match c.values.as_slice() {
            [v] if v.eq_ignore_ascii_case("true") => Values::Null(true),
            [v] if v.eq_ignore_ascii_case("false") => Values::Null(false),
            _ => {
                return Err(format!(
                    "Condition Null {}: the value must be true or false",
                    c.key
                ));
            }
        },
    };
    Ok(values)
}

/// ARN condition values, each as six templates (`*` alone matches any ARN).
fn arn_templates(c: &Condition, variables: bool) -> Result<Vec<[Template; 6]>, String> {
    let mut arns = Vec::new();
    for v in &c.values {
        let parts: Vec<&str> = v.splitn(6, ':').collect();
        if parts.len() != 6 && v != "*" {
            return Err(format!(
                "Condition {} {}: \"{v}\" is not an ARN (six ':'-separated parts)",
                c.operator, c.key
            ));
        }
        let get = |i: usize| if v == "*" { "*" } else { parts[i] };
        let t = |i: usize| Template::new(get(i), variables, false).map_err(|e| e.0);
        arns.push([t(0)?, t(1)?, t(2)?, t(3)?, t(4)?, t(5)?]);
    }
    Ok(arns)
}

impl CompiledCondition {
    /// Evaluates against a request context.
    pub fn evaluate(&self, ctx: &RequestContext) -> bool {
        let op = self.operator;
        let present = ctx.get(&self.key);
        if let Values::Null(must_be_absent) = self.values {
            return present.is_none() == must_be_absent;
        }
        let Some(value) = present else {
            return match op.set {
                Some(SetQualifier::ForAllValues) => true,
                Some(SetQualifier::ForAnyValue) => false,
                None => op.if_exists || negated(op.base),
            };
        };
        match op.set {
            Some(SetQualifier::ForAllValues) => value.values.iter().all(|v| self.single(v, ctx)),
            Some(SetQualifier::ForAnyValue) => value.values.iter().any(|v| self.single(v, ctx)),
            None => self.plain(value, ctx),
        }
    }

    fn plain(&self, value: &ContextValue, ctx: &RequestContext) -> bool {
        // A multi-valued key under a plain operator matches nothing (positive or negated).
        match value.values.as_slice() {
            [v] if !value.multi => self.single(v, ctx),
            _ => false,
        }
    }

    /// The base operator applied to one request value: positive operators need some policy
    /// value to match; negated ones need every policy value to differ.
    fn single(&self, v: &str, ctx: &RequestContext) -> bool {
        let base = self.operator.base;
        let lookup = |k: &str| ctx.variable(k);
        let positive = match &self.values {
            Values::Strings(templates) => templates.iter().any(|t| match base {
                BaseOperator::StringLike | BaseOperator::StringNotLike => t.matches(v, lookup),
                BaseOperator::StringEqualsIgnoreCase | BaseOperator::StringNotEqualsIgnoreCase => {
                    match t.literal() {
                        Some(p) if p.is_ascii() && v.is_ascii() => p.eq_ignore_ascii_case(v),
                        _ => t
                            .resolve(lookup)
                            .is_some_and(|p| p.to_lowercase() == v.to_lowercase()),
                    }
                }
                _ => match t.literal() {
                    Some(p) => p == v,
                    None => t.resolve(lookup).is_some_and(|p| p == v),
                },
            }),
            Values::Arns(arns) => {
                let parts: Vec<&str> = v.splitn(6, ':').collect();
                parts.len() == 6
                    && arns
                        .iter()
                        .any(|a| a.iter().zip(&parts).all(|(t, p)| t.matches(p, lookup)))
            }
            Values::Numbers(ns) => {
                let Ok(x) = v.trim().parse::<f64>() else {
                    return false;
                };
                ns.iter().any(|&n| compare(base, x, n))
            }
            Values::Dates(ds) => {
                let Some(x) = parse_date(v) else { return false };
                ds.iter().any(|&d| compare(base, x, d))
            }
            Values::Bools(bs) => {
                let x = match v.to_ascii_lowercase().as_str() {
                    "true" => true,
                    "false" => false,
                    _ => return false,
                };
                bs.contains(&x)
            }
            Values::Binary(bins) => {
                let bytes = data_encoding::BASE64
                    .decode(v.as_bytes())
                    .unwrap_or_else(|_| v.as_bytes().to_vec());
                bins.contains(&bytes)
            }
            Values::Nets(nets) => {
                let Ok(ip) = v.trim().parse::<IpAddr>() else {
                    return false;
                };
                nets.iter().any(|n| n.contains(&ip))
            }
            Values::Null(_) => unreachable!("handled in evaluate"),
        };
        // Ordering comparisons are direction-aware already; the negated operators (string,
        // numeric and date "not equals", NotIpAddress, Arn*Not*) mean "differs from every value".
        if negated(base) { !positive } else { positive }
    }
}

fn compare(op: BaseOperator, x: f64, p: f64) -> bool {
    match op {
        BaseOperator::NumericEquals
        | BaseOperator::DateEquals
        | BaseOperator::NumericNotEquals
        | BaseOperator::DateNotEquals => x == p,
        BaseOperator::NumericLessThan | BaseOperator::DateLessThan => x < p,
        BaseOperator::NumericLessThanEquals | BaseOperator::DateLessThanEquals => x <= p,
        BaseOperator::NumericGreaterThan | BaseOperator::DateGreaterThan => x > p,
        BaseOperator::NumericGreaterThanEquals | BaseOperator::DateGreaterThanEquals => x >= p,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
