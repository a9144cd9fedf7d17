//! STS Query API responses: `<{Op}Response>` with the `{Op}Result` element first, and the
//! `<ErrorResponse>` envelope (spec sts-iam.md §1.2–1.3).

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

/// Escapes text for an XML element. Runs between special characters are copied whole: error
/// messages carry kilobytes of encoded authorization message, and a character at a time was 6%
/// of the gateway's CPU on a flood of refusals.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while let Some(i) = rest.find(['&', '<', '>', '"', '\'']) {
        out.push_str(&rest[..i]);
        out.push_str(match rest.as_bytes()[i] {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => "&apos;",
        });
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod escape_tests {
    #[test]
    fn escapes_every_special_character_and_keeps_the_rest() {
        assert_eq!(
            super::escape("a<b>&\"c'd é"),
            "a&lt;b&gt;&amp;&quot;c&apos;d é"
        );
        assert_eq!(super::escape(""), "");
        assert_eq!(super::escape("plain"), "plain");
        assert_eq!(super::escape("&&"), "&amp;&amp;");
    }
}

/// A random request id in UUID form.
pub fn request_id() -> String {
    let mut b = [0u8; 16];
    getrandom::fill(&mut b).expect("the operating system's random source failed");
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// `2026-03-01T12:00:00Z` (aws-sdk-rust rejects numeric offsets).
pub fn timestamp(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// A success envelope around already-escaped result members.
pub fn success(operation: &str, result_members: &str, request_id: &str) -> String {
    format!(
        "<{operation}Response xmlns=\"{NAMESPACE}\">\n  <{operation}Result>\n{result_members}  </{operation}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n</{operation}Response>\n"
    )
}

/// An error envelope. `sender` picks `Sender` (client fault) or `Receiver`.
pub fn error(code: &str, message: &str, sender: bool, request_id: &str) -> String {
    let kind = if sender { "Sender" } else { "Receiver" };
    format!(
        "<ErrorResponse xmlns=\"{NAMESPACE}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
        escape(code),
        escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_comes_first_and_times_end_in_z() {
        let body = success(
            "GetCallerIdentity",
            "    <Account>111122223333</Account>\n",
            "id",
        );
        let result = body.find("<GetCallerIdentityResult>").unwrap();
        assert!(result < body.find("<ResponseMetadata>").unwrap());
        assert_eq!(timestamp(1772366400), "2026-03-01T12:00:00Z");
        assert_eq!(request_id().len(), 36);
    }

    #[test]
    fn errors_are_escaped() {
        let body = error("AccessDenied", "User: a<b> is not authorized", true, "id");
        assert!(body.contains("<Type>Sender</Type>") && body.contains("a&lt;b&gt;"));
    }
}
