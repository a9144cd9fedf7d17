//! `[[rate_limits]]`: each rule's key, the requests it counts, its rate and burst.

use toml::Spanned;

use super::Validator;
use crate::config::file::RawRateRule;
use crate::config::{RateBy, RateRule, RequestKind};

/// Default and largest `max_keys` of a rule.
const DEFAULT_MAX_KEYS: u64 = 100_000;
const MAX_MAX_KEYS: u64 = 10_000_000;

impl Validator<'_, '_> {
    /// `shared = true` rules need `[shared_state]`.
    pub(super) fn shared_rate_limits(&mut self, raw: &[Spanned<RawRateRule>], redis: bool) {
        for (i, r) in raw.iter().enumerate() {
            if let Some(s) = &r.get_ref().shared
                && *s.get_ref()
                && !redis
            {
                self.p.error(
                    &s.span(),
                    format!("rate_limits[{i}]"),
                    "shared = true counts in Redis: it needs [shared_state] redis",
                );
            }
        }
    }

    pub(super) fn rate_limits(&mut self, raw: &[Spanned<RawRateRule>]) -> Vec<RateRule> {
        let mut rules: Vec<RateRule> = Vec::new();
        for (i, r) in raw.iter().enumerate() {
            let at = format!("rate_limits[{i}]");
            if let Some(rule) = self.rate_rule(r.get_ref(), i, &at) {
                if rules.iter().any(|x| x.name == rule.name) {
                    self.p.error(
                        &r.span(),
                        &at,
                        format!("two rate limits are named {}", rule.name),
                    );
                    continue;
                }
                rules.push(rule);
            }
        }
        rules
    }

    fn rate_rule(&mut self, r: &RawRateRule, index: usize, at: &str) -> Option<RateRule> {
        let by = match r.by.get_ref().as_str() {
            "access_key" => RateBy::AccessKey,
            "principal" => RateBy::Principal,
            "source_ip" => RateBy::SourceIp,
            "bucket" => RateBy::Bucket,
            "route" => RateBy::Route,
            other => {
                self.p.error(
                    &r.by.span(),
                    at,
                    format!(
                        "by = \"{other}\": one of access_key, principal, source_ip, bucket, route"
                    ),
                );
                return None;
            }
        };
        let mut requests = Vec::new();
        for k in &r.requests {
            requests.push(match k.get_ref().as_str() {
                "s3" => RequestKind::S3,
                "sts" => RequestKind::Sts,
                "sts_credentials" => RequestKind::StsCredentials,
                "execute-api" => RequestKind::HttpApi,
                other => {
                    self.p.error(
                        &k.span(),
                        at,
                        format!("requests: \"{other}\" is not one of s3, sts, sts_credentials, execute-api"),
                    );
                    return None;
                }
            });
        }
        let rate = *r.rate.get_ref();
        if !(rate.is_finite() && rate > 0.0 && rate <= 1e6) {
            self.p.error(
                &r.rate.span(),
                at,
                "rate is tokens a second: above 0, at most 1000000",
            );
            return None;
        }
        let burst = r.burst.as_ref().map_or(rate.max(1.0), |b| *b.get_ref());
        if !(burst.is_finite() && (1.0..=1e7).contains(&burst)) {
            let span = r.burst.as_ref().map_or(r.rate.span(), |b| b.span());
            self.p
                .error(&span, at, "burst is the bucket's size: from 1 to 10000000");
            return None;
        }
        if let Some(m) = &r.matching
            && !matches!(by, RateBy::Bucket | RateBy::Route)
        {
            self.p.error(
                &m.span(),
                at,
                "match names buckets or routes: it needs by = \"bucket\" or by = \"route\"",
            );
            return None;
        }
        let max_keys = r
            .max_keys
            .as_ref()
            .map_or(DEFAULT_MAX_KEYS, |m| *m.get_ref());
        if !(1..=MAX_MAX_KEYS).contains(&max_keys) {
            let span = r.max_keys.as_ref().map_or(r.by.span(), |m| m.span());
            self.p.error(&span, at, "max_keys is from 1 to 10000000");
            return None;
        }
        Some(RateRule {
            name: r.name.as_ref().map_or_else(
                || format!("{}-{index}", r.by.get_ref()),
                |n| n.get_ref().clone(),
            ),
            by,
            requests,
            rate,
            burst,
            matching: r
                .matching
                .as_ref()
                .map(|m| crate::policy::pattern::Glob::new(m.get_ref(), false)),
            max_keys,
            shared: r.shared.as_ref().is_some_and(|s| *s.get_ref()),
        })
    }
}
