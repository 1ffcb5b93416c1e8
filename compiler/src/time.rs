//! RFC 3339 timestamps in filters and literals, without a date library.

/// Microseconds since the Unix epoch for `2020-08-02`, `2020-08-02T22:49:11Z`
/// or `2020-08-02T22:49:11.123+02:00` (a space may replace the `T`). A date
/// alone is midnight UTC, and a time without an offset is UTC, as Hive,
/// Spark and Trino read one in a UTC session. Numbers are no times here:
/// seconds or milliseconds since the epoch cannot be told apart.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if bytes.len() < 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let mut micros = days_from_civil(year, month, day) * 86_400_000_000;
    if bytes.len() == 10 {
        return Some(micros);
    }
    if !matches!(bytes[10], b'T' | b't' | b' ') || bytes.len() < 19 {
        return None;
    }
    if bytes[13] != b':' || bytes[16] != b':' {
        return None;
    }
    let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
    // No leap second: Arrow's parser, which decodes the same text in the
    // sinks, refuses `:60`, and both must agree on what is a time.
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    micros += ((hour * 60 + minute) * 60 + second) * 1_000_000;
    let mut rest = &text[19..];
    if let Some(fraction) = rest.strip_prefix('.') {
        let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let mut value: i64 = fraction[..digits.min(6)].parse().ok()?;
        for _ in digits.min(6)..6 {
            value *= 10;
        }
        micros += value;
        rest = &fraction[digits..];
    }
    match rest {
        "Z" | "z" | "" => Some(micros),
        _ => {
            let sign = match rest.as_bytes().first()? {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let offset = rest.get(1..)?;
            if offset.len() != 5 || offset.as_bytes()[2] != b':' {
                return None;
            }
            let hours: i64 = offset[..2].parse().ok()?;
            let minutes: i64 = offset[3..].parse().ok()?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            Some(micros - sign * (hours * 60 + minutes) * 60_000_000)
        }
    }
}

/// `2020-08-02T22:49:11.123456Z`: RFC 3339 in UTC with microseconds, the
/// form events carry timestamps in.
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(86_400_000_000);
    let in_day = micros.rem_euclid(86_400_000_000);
    let (year, month, day) = civil_from_days(days);
    let seconds = in_day / 1_000_000;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        seconds / 3600,
        seconds / 60 % 60,
        seconds % 60,
        in_day % 1_000_000
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's algorithm).
pub fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_timestamp;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_timestamp("1970-01-01"), Some(0));
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(
            parse_timestamp("2020-08-02T22:49:11Z"),
            Some(1_596_408_551_000_000)
        );
        assert_eq!(
            parse_timestamp("2020-08-02T22:49:11.5+01:00"),
            Some(1_596_408_551_500_000 - 3_600_000_000)
        );
        assert_eq!(parse_timestamp("2000-02-29"), Some(951_782_400_000_000));
        assert_eq!(
            parse_timestamp("2020-08-02 22:49:11"),
            Some(1_596_408_551_000_000),
            "no offset: UTC"
        );
        assert_eq!(
            parse_timestamp("2020-08-02T22:49:11.25"),
            Some(1_596_408_551_250_000)
        );
    }

    #[test]
    fn formats_and_parses_back() {
        use super::format_timestamp;
        assert_eq!(format_timestamp(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_timestamp(1_596_408_551_000_123),
            "2020-08-02T22:49:11.000123Z"
        );
        assert_eq!(format_timestamp(-1), "1969-12-31T23:59:59.999999Z");
        for micros in [
            0,
            951_782_400_000_000,
            1_596_408_551_500_000,
            4_102_444_800_000_001,
        ] {
            assert_eq!(parse_timestamp(&format_timestamp(micros)), Some(micros));
        }
    }

    #[test]
    fn rejects_what_is_not_a_time() {
        for bad in [
            "",
            "2020",
            "2020-13-01",
            "2021-02-29",
            "2020-08-02T25:00:00Z",
            "2020-08-02T23:59:60Z",
            "2020-08-02T22:49",
            "2020-08-02T22:49:11+0100",
            "1596408551",
            "yesterday",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad}");
        }
    }
}
