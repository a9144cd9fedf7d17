//! STS Query API responses: `<{Op}Response>` with the `{Op}Result` element first, and the
//! `<ErrorResponse>` envelope (spec sts-iam.md §1.2–1.3).

pub const NAMESPACE: &str = "https://sts.amazonaws.com/doc/2011-06-15/";

pub use crate::xml::escape;

#[cfg(test)]
mod request_id_tests {
    #[test]
    fn request_ids_are_uuid_shaped_and_do_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            let id = super::request_id();
            let parts: Vec<usize> = id.split('-').map(str::len).collect();
            assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
            assert!(
                id.bytes().all(|b| b == b'-' || b.is_ascii_hexdigit()),
                "{id}"
            );
            assert!(seen.insert(id), "a request id repeated");
        }
        // Another thread has keys of its own: its ids differ from these too.
        let other =
            std::thread::spawn(|| (0..1000).map(|_| super::request_id()).collect::<Vec<_>>())
                .join()
                .unwrap();
        assert!(other.into_iter().all(|id| seen.insert(id)));
    }
}

/// 128 bits for request ids: unique and unpredictable without a system call per request. Each
/// thread hashes a counter with SipHash under keys the OS random source gave it once (std's
/// `RandomState`): distinct inputs under a secret key give outputs that look random and,
/// at 128 bits, do not repeat. Not for secrets (keys, nonces use `getrandom` directly).
pub fn id_bits() -> [u8; 16] {
    use std::hash::{BuildHasher, Hasher};
    thread_local! {
        static IDS: (std::hash::RandomState, std::cell::Cell<u64>) =
            (std::hash::RandomState::new(), std::cell::Cell::new(0));
    }
    IDS.with(|(keys, counter)| {
        let n = counter.get();
        counter.set(n.wrapping_add(1));
        let half = |lane: u8| {
            let mut h = keys.build_hasher();
            h.write_u64(n);
            h.write_u8(lane);
            h.finish().to_be_bytes()
        };
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&half(0));
        out[8..].copy_from_slice(&half(1));
        out
    })
}

/// A request id in UUID form (see [`id_bits`]).
pub fn request_id() -> String {
    let h = hex::encode(id_bits());
    let mut out = String::with_capacity(36);
    for (i, part) in [&h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]]
        .iter()
        .enumerate()
    {
        if i > 0 {
            out.push('-');
        }
        out.push_str(part);
    }
    out
}

/// `2026-03-01T12:00:00Z` (aws-sdk-rust rejects numeric offsets).
pub fn timestamp(unix: i64) -> String {
    crate::sigv4::AmzDate::from_unix(unix).iso8601()
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
