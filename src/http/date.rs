//! HTTP dates (RFC 9110 section 5.6.7), as `Date` and `Expires` carry them.
//!
//! Senders must use IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`); recipients must also
//! accept the two obsolete forms, RFC 850 (`Sunday, 06-Nov-94 08:49:37 GMT`) and asctime
//! (`Sun Nov  6 08:49:37 1994`). Anything else is not a date: for `Expires` that means
//! "already expired" (RFC 9111 section 5.3), which the caller decides.

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Seconds since the Unix epoch for an HTTP date, or None when the text is not one.
pub fn parse_http_date(text: &str) -> Option<u64> {
    let text = text.trim();
    parse_imf_fixdate(text)
        .or_else(|| parse_rfc850(text))
        .or_else(|| parse_asctime(text))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn parse_imf_fixdate(text: &str) -> Option<u64> {
    let (_weekday, rest) = text.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [day, month, year, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    if day.len() != 2 || year.len() != 4 {
        return None;
    }
    civil_seconds(number(year)?, month_number(month)?, number(day)?, time)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`; two-digit years follow RFC 9110: a year that looks
/// more than 50 years in the future is taken as the past century's. We read 70-99 as 19xx
/// and 00-69 as 20xx, which agrees with that rule until 2020+50.
fn parse_rfc850(text: &str) -> Option<u64> {
    let (_weekday, rest) = text.split_once(", ")?;
    let parts: Vec<&str> = rest.split(' ').collect();
    let [date, time, "GMT"] = parts.as_slice() else {
        return None;
    };
    let date_parts: Vec<&str> = date.split('-').collect();
    let [day, month, year] = date_parts.as_slice() else {
        return None;
    };
    if day.len() != 2 || year.len() != 2 {
        return None;
    }
    let short_year = number(year)?;
    let year = if short_year >= 70 {
        1900 + short_year
    } else {
        2000 + short_year
    };
    civil_seconds(year, month_number(month)?, number(day)?, time)
}

/// `Sun Nov  6 08:49:37 1994` (the day is padded with a space, not a zero).
fn parse_asctime(text: &str) -> Option<u64> {
    let parts: Vec<&str> = text.split(' ').filter(|p| !p.is_empty()).collect();
    let [_weekday, month, day, time, year] = parts.as_slice() else {
        return None;
    };
    if year.len() != 4 || day.is_empty() || day.len() > 2 {
        return None;
    }
    civil_seconds(number(year)?, month_number(month)?, number(day)?, time)
}

fn number(text: &str) -> Option<u64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn month_number(text: &str) -> Option<u64> {
    let lower = text.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| *m == lower)?;
    u64::try_from(index + 1).ok()
}

/// Seconds since the epoch for a UTC calendar date and an `HH:MM:SS` time.
fn civil_seconds(year: u64, month: u64, day: u64, time: &str) -> Option<u64> {
    let clock: Vec<&str> = time.split(':').collect();
    let [hour, minute, second] = clock.as_slice() else {
        return None;
    };
    if hour.len() != 2 || minute.len() != 2 || second.len() != 2 {
        return None;
    }
    let (hour, minute, second) = (number(hour)?, number(minute)?, number(second)?);
    // 60 allows a leap second, which the grammar permits.
    if hour > 23 || minute > 59 || second > 60 || year < 1970 {
        return None;
    }
    if day < 1 || day > days_in_month(year, month) {
        return None;
    }

    let days = days_since_epoch(year, month, day);
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

fn is_leap_year(year: u64) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap_year(year) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days from 1970-01-01 to the given date (year 1970 or later), counted plainly: whole
/// years, then whole months of the last year. Dates in headers are rare enough per request
/// that clarity beats a closed formula.
fn days_since_epoch(year: u64, month: u64, day: u64) -> u64 {
    let years: u64 = (1970..year)
        .map(|y| if is_leap_year(y) { 366 } else { 365 })
        .sum();
    let months: u64 = (1..month).map(|m| days_in_month(year, m)).sum();
    years + months + day - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_three_forms_of_the_rfc_example_agree() {
        // RFC 9110 section 5.6.7 gives the same instant in each form.
        let expected = Some(784_111_777);

        assert_eq!(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), expected);
        assert_eq!(parse_http_date("Sun Nov  6 08:49:37 1994"), expected);
    }

    #[test]
    fn dates_map_to_unix_seconds() {
        // One line per case: header value, seconds since the epoch.
        let cases = [
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(0)),
            ("Thu, 01 Jan 1970 00:00:01 GMT", Some(1)),
            ("Tue, 29 Feb 2000 12:00:00 GMT", Some(951_825_600)),
            ("Wed, 21 Oct 2015 07:28:00 GMT", Some(1_445_412_480)),
            ("Fri, 31 Dec 2038 23:59:59 GMT", Some(2_177_452_799)),
            ("  Thu, 01 Jan 1970 00:00:00 GMT ", Some(0)),
            ("thu, 01 JAN 1970 00:00:00 GMT", Some(0)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_http_date(text), expected, "{text}");
        }
    }

    #[test]
    fn what_is_not_an_http_date_is_refused() {
        let cases = [
            "",
            "0",
            "-1",
            "tomorrow",
            "Thu, 01 Jan 1970 00:00:00 UTC",
            "Thu, 1 Jan 1970 00:00:00 GMT",
            "Thu, 01 Jan 70 00:00:00 GMT",
            "Thu, 01 Foo 1970 00:00:00 GMT",
            "Thu, 32 Jan 1970 00:00:00 GMT",
            "Thu, 29 Feb 2001 00:00:00 GMT",
            "Thu, 01 Jan 1970 24:00:00 GMT",
            "Thu, 01 Jan 1970 00:60:00 GMT",
            "Thu, 01 Jan 1970 0:00:00 GMT",
            "Thu, 01 Jan 1969 00:00:00 GMT",
            "Thu, 01 Jan 1970 00:00:00 GMT extra",
        ];
        for text in cases {
            assert_eq!(parse_http_date(text), None, "{text:?}");
        }
    }
}
