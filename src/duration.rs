//! Durations as operators write them in the configuration: a whole number and a unit,
//! `ms`, `s`, `m` or `h` (`"250ms"`, `"5s"`, `"1h"`).

use std::time::Duration;

/// Parses `"<digits><unit>"`. Anything else, including signs, spaces, fractions and
/// values that overflow, is refused with a reason fit for the configuration error.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);

    let refuse =
        || format!("{text:?} is not a duration such as \"250ms\", \"5s\", \"10m\" or \"1h\"");
    if number.is_empty() {
        return Err(refuse());
    }
    let value: u64 = number.parse().map_err(|_| refuse())?;

    let millis_per_unit = match unit {
        "ms" => 1,
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        _ => return Err(refuse()),
    };
    let millis = value.checked_mul(millis_per_unit).ok_or_else(refuse)?;
    Ok(Duration::from_millis(millis))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_every_unit() {
        let cases = [
            ("250ms", Duration::from_millis(250)),
            ("0s", Duration::ZERO),
            ("5s", Duration::from_secs(5)),
            ("10m", Duration::from_secs(600)),
            ("1h", Duration::from_secs(3600)),
        ];
        for (text, expected) in cases {
            assert_eq!(parse_duration(text), Ok(expected), "{text}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_whole_number_and_unit() {
        let cases = [
            "",
            "5",
            "s",
            "-5s",
            "+5s",
            "1.5s",
            " 5s",
            "5s ",
            "5 s",
            "5S",
            "5d",
            "5sec",
            "99999999999999999999s",
            "18446744073709551615h",
        ];
        for text in cases {
            assert!(parse_duration(text).is_err(), "{text:?} should be refused");
        }
    }
}
