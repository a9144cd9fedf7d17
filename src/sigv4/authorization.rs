//! The `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…` header and
//! the credential scope shared with presigned URLs.

use std::borrow::Cow;
use std::ops::Range;

use super::error::SigV4Error;

pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// `<akid>/<date>/<region>/<service>/aws4_request`, split from the right. Keeps its text
/// (borrowed from the request, or owned when it had to be percent-decoded) and the parts' places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential<'a> {
    text: Cow<'a, str>,
    akid_end: usize,
    date: Range<usize>,
    region: Range<usize>,
    service: Range<usize>,
}

impl<'a> Credential<'a> {
    /// Parses a credential. `Err` carries the reason for the caller's error code.
    pub fn parse(value: impl Into<Cow<'a, str>>) -> Result<Credential<'a>, String> {
        let text = value.into();
        let v: &str = &text;
        let bad_form = || {
            format!(
                "the Credential '{v}' must have the form <access key id>/<date>/<region>/<service>/aws4_request"
            )
        };
        let Some(terminal_start) = v.rfind('/').map(|i| i + 1) else {
            return Err(bad_form());
        };
        let Some(service_start) = v[..terminal_start - 1].rfind('/').map(|i| i + 1) else {
            return Err(bad_form());
        };
        let Some(region_start) = v[..service_start - 1].rfind('/').map(|i| i + 1) else {
            return Err(bad_form());
        };
        let Some(date_start) = v[..region_start - 1].rfind('/').map(|i| i + 1) else {
            return Err(bad_form());
        };
        let akid_end = date_start - 1;
        let (akid, date, region, service, terminal) = (
            &v[..akid_end],
            &v[date_start..region_start - 1],
            &v[region_start..service_start - 1],
            &v[service_start..terminal_start - 1],
            &v[terminal_start..],
        );
        if terminal != "aws4_request" {
            return Err(format!(
                "incorrect terminal '{terminal}'. This endpoint uses 'aws4_request'."
            ));
        }
        if akid.is_empty() || akid.len() > 128 || !akid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err("the access key id in the Credential is malformed".to_string());
        }
        if date.len() != 8
            || !date.bytes().all(|b| b.is_ascii_digit())
            || super::AmzDate::parse(&format!("{date}T000000Z")).is_none()
        {
            return Err(format!(
                "incorrect date format '{date}'. This date in the credential must be in the format \"yyyyMMdd\"."
            ));
        }
        if region.is_empty() || service.is_empty() {
            return Err("the region and service in the Credential must not be empty".to_string());
        }
        Ok(Credential {
            akid_end,
            date: date_start..region_start - 1,
            region: region_start..service_start - 1,
            service: service_start..terminal_start - 1,
            text,
        })
    }

    pub fn access_key_id(&self) -> &str {
        &self.text[..self.akid_end]
    }
    pub fn date(&self) -> &str {
        &self.text[self.date.clone()]
    }
    pub fn region(&self) -> &str {
        &self.text[self.region.clone()]
    }
    pub fn service(&self) -> &str {
        &self.text[self.service.clone()]
    }

    /// `<date>/<region>/<service>/aws4_request`.
    pub fn scope(&self) -> &str {
        &self.text[self.akid_end + 1..]
    }
}

/// A parsed `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization<'a> {
    pub credential: Credential<'a>,
    /// Lower-case names, sorted, without duplicates.
    pub signed_headers: Vec<&'a str>,
    pub signature: [u8; 32],
    /// The signature as sent (for error bodies).
    pub signature_hex: &'a str,
}

impl<'a> Authorization<'a> {
    pub fn parse(value: &'a str) -> Result<Authorization<'a>, SigV4Error> {
        let malformed = |why: &str| {
            SigV4Error::header_malformed(format!("The authorization header is malformed; {why}"))
        };
        let rest = value
            .strip_prefix(ALGORITHM)
            .ok_or_else(|| malformed("the algorithm must be AWS4-HMAC-SHA256"))?;
        if !rest.starts_with([' ', '\t']) {
            return Err(malformed("the algorithm must be followed by a space"));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for param in rest.split(',') {
            let param = param.trim_matches([' ', '\t']);
            let (name, val) = param
                .split_once('=')
                .ok_or_else(|| malformed(&format!("'{param}' is not a name=value pair")))?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed,
                "Signature" => &mut signature,
                other => return Err(malformed(&format!("unknown parameter '{other}'"))),
            };
            if slot.replace(val).is_some() {
                return Err(malformed(&format!("{name} is given twice")));
            }
        }
        let credential =
            credential.ok_or_else(|| malformed("the Credential parameter is missing"))?;
        let signed = signed.ok_or_else(|| malformed("the SignedHeaders parameter is missing"))?;
        let signature_hex =
            signature.ok_or_else(|| malformed("the Signature parameter is missing"))?;
        let credential = Credential::parse(credential).map_err(|e| malformed(&e))?;
        let signed_headers = parse_signed_headers(signed).map_err(|e| malformed(&e))?;
        let signature = decode_signature(signature_hex)
            .ok_or_else(|| malformed("the Signature must be 64 hexadecimal characters"))?;
        Ok(Authorization {
            credential,
            signed_headers,
            signature,
            signature_hex,
        })
    }
}

/// Parses `host;x-amz-date;…`: lower-case names, sorted and de-duplicated.
pub fn parse_signed_headers(value: &str) -> Result<Vec<&str>, String> {
    let mut names: Vec<&str> = value.split(';').collect();
    for name in &names {
        if name.is_empty()
            || !name.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.!#$%&'*+^`|~".contains(&b)
            })
        {
            return Err(format!(
                "SignedHeaders must be lower-case header names separated by ';', found '{name}'"
            ));
        }
    }
    names.sort_unstable();
    let before = names.len();
    names.dedup();
    if names.len() != before {
        return Err("SignedHeaders lists a header twice".to_string());
    }
    Ok(names)
}

/// Decodes a 64-character hex signature (either case).
pub fn decode_signature(hex_sig: &str) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    (hex_sig.len() == 64).then_some(())?;
    hex::decode_to_slice(hex_sig, &mut out).ok()?;
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31";

    #[test]
    fn parses_the_usual_form() {
        let a = Authorization::parse(GOOD).unwrap();
        assert_eq!(a.credential.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(
            (
                a.credential.date(),
                a.credential.region(),
                a.credential.service()
            ),
            ("20150830", "us-east-1", "service")
        );
        assert_eq!(
            a.credential.scope(),
            "20150830/us-east-1/service/aws4_request"
        );
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
    }

    #[test]
    fn tolerates_order_and_whitespace() {
        let v = "AWS4-HMAC-SHA256  Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31,SignedHeaders=x-amz-date;host ,\tCredential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request";
        let a = Authorization::parse(v).unwrap();
        assert_eq!(a.signed_headers, ["host", "x-amz-date"]);
    }

    #[test]
    fn rejects_malformed_headers() {
        for (bad, why) in [
            ("AWS4-HMAC-SHA1 Credential=a", "algorithm"),
            ("AWS4-HMAC-SHA256Credential=x", "followed by a space"),
            (
                &GOOD.replace(", Signature=", ", Signature=z"),
                "64 hexadecimal",
            ),
            (
                &GOOD.replace("aws4_request", "aws5_request"),
                "incorrect terminal",
            ),
            (
                &GOOD.replace("20150830", "20150231"),
                "incorrect date format",
            ),
            (
                &GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host;Host"),
                "lower-case",
            ),
            (
                &GOOD.replace("SignedHeaders=host;x-amz-date", "SignedHeaders=host;host"),
                "twice",
            ),
            (
                &GOOD.replace(
                    "SignedHeaders=host;x-amz-date",
                    "SignedHeaders=host;;x-amz-date",
                ),
                "lower-case",
            ),
            (&format!("{GOOD}, Signature=00"), "given twice"),
            (&format!("{GOOD}, Extra=1"), "unknown parameter"),
            (
                &GOOD.replace("Credential=AKIDEXAMPLE/", "Credential="),
                "must have the form",
            ),
            (
                &GOOD.replace("AKIDEXAMPLE", "AKID+EXAMPLE"),
                "access key id",
            ),
            (
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
                "SignedHeaders parameter is missing",
            ),
        ] {
            let e = Authorization::parse(bad).unwrap_err();
            assert_eq!(e.code(), "AuthorizationHeaderMalformed");
            assert!(e.message().contains(why), "{bad}: {e}");
        }
    }
}
