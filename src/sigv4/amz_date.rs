//! Request timestamps: `x-amz-date` (ISO 8601 basic, `YYYYMMDDTHHMMSSZ`) or HTTP `Date`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

/// A request timestamp, in whole seconds (SigV4 has no sub-second precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AmzDate {
    unix: i64,
    /// The `YYYYMMDDTHHMMSSZ` form, which is what the string to sign contains.
    text: [u8; 16],
}

fn digits(b: &[u8]) -> Option<u32> {
    b.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit().then(|| acc * 10 + u32::from(c - b'0'))
    })
}

/// Writes `n` as decimal digits filling `out` (leading zeros; higher digits cut).
fn put_digits(out: &mut [u8], mut n: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
}

/// True if `s` is a real calendar date written `YYYYMMDD`.
pub fn is_valid_date8(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 8 {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&b[0..4]), digits(&b[4..6]), digits(&b[6..8])) else {
        return false;
    };
    let (Ok(y), Ok(m), Ok(d)) = (i32::try_from(y), u8::try_from(m), u8::try_from(d)) else {
        return false;
    };
    Month::try_from(m)
        .ok()
        .is_some_and(|m| Date::from_calendar_date(y, m, d).is_ok())
}

impl AmzDate {
    /// Parses the basic ISO 8601 form, checking that it is a real calendar date and time.
    pub fn parse(s: &str) -> Option<AmzDate> {
        let b = s.as_bytes();
        if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
            return None;
        }
        let year = i32::try_from(digits(&b[0..4])?).ok()?;
        let month = Month::try_from(u8::try_from(digits(&b[4..6])?).ok()?).ok()?;
        let day = u8::try_from(digits(&b[6..8])?).ok()?;
        let (h, m, sec) = (digits(&b[9..11])?, digits(&b[11..13])?, digits(&b[13..15])?);
        let date = Date::from_calendar_date(year, month, day).ok()?;
        let time = Time::from_hms(
            u8::try_from(h).ok()?,
            u8::try_from(m).ok()?,
            u8::try_from(sec).ok()?,
        )
        .ok()?;
        let unix = PrimitiveDateTime::new(date, time)
            .assume_utc()
            .unix_timestamp();
        let mut text = [0u8; 16];
        text.copy_from_slice(b);
        Some(AmzDate { unix, text })
    }

    /// Parses an HTTP `Date` header (IMF-fixdate and the obsolete forms).
    pub fn parse_http_date(s: &str) -> Option<AmzDate> {
        let t = httpdate::parse_http_date(s).ok()?;
        Some(AmzDate::from_system_time(t))
    }

    pub fn from_unix(unix: i64) -> AmzDate {
        // Written digit by digit: this runs for every request (re-signing, policy time keys).
        let dt = OffsetDateTime::from_unix_timestamp(unix)
            .ok()
            .filter(|t| (0..=9999).contains(&t.year()))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let mut text = *b"00000000T000000Z";
        put_digits(&mut text[0..4], dt.year().unsigned_abs());
        put_digits(&mut text[4..6], u32::from(u8::from(dt.month())));
        put_digits(&mut text[6..8], u32::from(dt.day()));
        put_digits(&mut text[9..11], u32::from(dt.hour()));
        put_digits(&mut text[11..13], u32::from(dt.minute()));
        put_digits(&mut text[13..15], u32::from(dt.second()));
        AmzDate { unix, text }
    }

    /// The extended ISO 8601 form, `YYYY-MM-DDTHH:MM:SSZ` (STS timestamps, `aws:CurrentTime`).
    pub fn iso8601(&self) -> String {
        let t = &self.text;
        let mut out = String::with_capacity(20);
        for (i, &c) in t.iter().enumerate() {
            match i {
                4 | 6 => out.push('-'),
                11 | 13 => out.push(':'),
                _ => {}
            }
            out.push(char::from(c));
        }
        out
    }

    pub fn from_system_time(t: SystemTime) -> AmzDate {
        let unix = match t.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        AmzDate::from_unix(unix)
    }

    pub fn now() -> AmzDate {
        AmzDate::from_system_time(SystemTime::now())
    }

    pub fn unix(&self) -> i64 {
        self.unix
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.text).expect("ASCII")
    }

    /// `YYYYMMDD`, the credential-scope date.
    pub fn date_str(&self) -> &str {
        &self.as_str()[..8]
    }

    /// Seconds from `self` to `later` (negative if `later` is earlier).
    pub fn seconds_until(&self, later: AmzDate) -> i64 {
        later.unix - self.unix
    }

    pub fn plus(&self, d: Duration) -> AmzDate {
        AmzDate::from_unix(
            self.unix
                .saturating_add(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        let d = AmzDate::parse("20150830T123600Z").unwrap();
        assert_eq!(d.unix(), 1440938160);
        assert_eq!(d.date_str(), "20150830");
        assert_eq!(d.iso8601(), "2015-08-30T12:36:00Z");
        assert_eq!(AmzDate::from_unix(1440938160), d);
    }

    #[test]
    fn formats_every_field_with_leading_zeros() {
        for (unix, basic, extended) in [
            (0, "19700101T000000Z", "1970-01-01T00:00:00Z"),
            (951782400, "20000229T000000Z", "2000-02-29T00:00:00Z"),
            (1772366409, "20260301T120009Z", "2026-03-01T12:00:09Z"),
            (253402300799, "99991231T235959Z", "9999-12-31T23:59:59Z"),
            // Out of the four-digit range: the epoch, never a malformed date.
            (253402300800, "19700101T000000Z", "1970-01-01T00:00:00Z"),
            (-62167219201, "19700101T000000Z", "1970-01-01T00:00:00Z"),
        ] {
            let d = AmzDate::from_unix(unix);
            assert_eq!(
                (d.as_str(), d.iso8601().as_str()),
                (basic, extended),
                "{unix}"
            );
            if basic != "19700101T000000Z" || unix == 0 {
                assert_eq!(AmzDate::parse(basic).map(|p| p.unix()), Some(unix));
            }
        }
    }

    #[test]
    fn rejects_impossible_dates_and_shapes() {
        for bad in [
            "20150230T123600Z",
            "20151301T000000Z",
            "20150830T246000Z",
            "20150830T123600",
            "2015-08-30T12:36:00Z",
            "20150830t123600Z",
            "2015083OT123600Z",
            "",
        ] {
            assert_eq!(AmzDate::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn date8() {
        assert!(is_valid_date8("20240229"));
        assert!(!is_valid_date8("20230229"));
        assert!(!is_valid_date8("2024022"));
        assert!(!is_valid_date8("2024-2-2"));
    }

    #[test]
    fn http_date_fallback() {
        let d = AmzDate::parse_http_date("Sun, 30 Aug 2015 12:36:00 GMT").unwrap();
        assert_eq!(d.as_str(), "20150830T123600Z");
        assert!(AmzDate::parse_http_date("yesterday").is_none());
    }
}
