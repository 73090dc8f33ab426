//! The written form a string literal (`default = "…"`, `backfill = "…"`) must have for its column
//! type. Checked at capture, so a value the database or the application's decoder would reject
//! (`"next tuesday"` on a timestamp, `"not-a-uuid"` on a UUID) is an error at the literal's span,
//! in the derive and in the scanner alike.

use qvdiff_core::ColumnType;

/// Why `text` cannot be the value of a column of type `ty`: the form it must have, with an
/// example. `None` when it fits, or when the type puts no rule on its text.
pub(crate) fn text_literal_problem(text: &str, ty: &ColumnType) -> Option<String> {
    let fits = match ty {
        ColumnType::DateTime | ColumnType::DateTimeTz => is_datetime(text),
        ColumnType::Date => is_date(text),
        ColumnType::Time => is_time(text),
        ColumnType::Uuid => is_uuid(text),
        ColumnType::Decimal { precision, scale } => {
            return decimal_problem(text, *precision, *scale);
        }
        _ => return None,
    };
    if fits {
        return None;
    }
    let form = match ty {
        ColumnType::DateTime | ColumnType::DateTimeTz => {
            "`YYYY-MM-DD HH:MM:SS`, optionally with fractional seconds and an offset \
             (e.g. \"2024-01-31 09:30:00\" or \"2024-01-31T09:30:00Z\")"
        }
        ColumnType::Date => "`YYYY-MM-DD` (e.g. \"2024-01-31\")",
        ColumnType::Time => "`HH:MM:SS` or `HH:MM` (e.g. \"09:30:00\")",
        _ => "`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` in hex digits (e.g. \"00000000-0000-0000-0000-000000000000\")",
    };
    Some(format!("write it as {form}"))
}

/// `digits` is exactly `n` ASCII digits; returns their value.
fn number(digits: &str, n: usize) -> Option<u32> {
    (digits.len() == n && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse().ok())
        .flatten()
}

/// `YYYY-MM-DD`, a real calendar day.
fn is_date(text: &str) -> bool {
    let mut parts = text.split('-');
    let (Some(y), Some(m), Some(d), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let (Some(year), Some(month), Some(day)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// `HH:MM`, `HH:MM:SS` or `HH:MM:SS.f` (1 to 9 fraction digits).
fn is_time(text: &str) -> bool {
    let (clock, fraction) = match text.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (text, None),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let in_range = |part: &str, max: u32| number(part, 2).is_some_and(|v| v <= max);
    let clock_ok = match parts.as_slice() {
        [h, m] => fraction.is_none() && in_range(h, 23) && in_range(m, 59),
        [h, m, s] => in_range(h, 23) && in_range(m, 59) && in_range(s, 59),
        _ => false,
    };
    clock_ok
        && fraction
            .is_none_or(|f| (1..=9).contains(&f.len()) && f.bytes().all(|b| b.is_ascii_digit()))
}

/// A date, `T` or a space, a time, and optionally `Z` or an offset `±HH`, `±HHMM`, `±HH:MM`.
fn is_datetime(text: &str) -> bool {
    if text.len() < 11 || !text.is_char_boundary(10) || !text.is_char_boundary(11) {
        return false;
    }
    let (date, rest) = text.split_at(10);
    let (separator, rest) = rest.split_at(1);
    if !is_date(date) || !matches!(separator, "T" | " ") {
        return false;
    }
    let (time, offset) = match rest.find(['Z', '+', '-']) {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    let offset_ok = match offset {
        "" | "Z" => true,
        _ => {
            let digits = offset[1..].replace(':', "");
            let colons = offset.matches(':').count();
            let hours = number(digits.get(..2).unwrap_or(""), 2).is_some_and(|h| h <= 23);
            let minutes = match digits.len() {
                2 => colons == 0,
                4 => {
                    number(&digits[2..], 2).is_some_and(|m| m <= 59)
                        && (colons == 0 || offset.get(3..4) == Some(":"))
                }
                _ => false,
            };
            hours && minutes
        }
    };
    is_time(time) && offset_ok
}

/// Canonical hyphenated form: 8-4-4-4-12 hex digits.
fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// A plain decimal number (`12`, `-0.50`, `1.5e3`) that fits `precision` and `scale` when given.
fn decimal_problem(text: &str, precision: Option<u8>, scale: Option<u8>) -> Option<String> {
    let form = "write it as a decimal number (e.g. \"0\", \"-12.50\" or \"1.5e3\")";
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    if whole.len() + fraction.len() == 0 || !digits(whole) || !digits(fraction) || !exponent_ok {
        return Some(form.to_string());
    }
    // With an exponent the digits move; the database judges those against the precision.
    if let (Some(p), None) = (precision, exponent) {
        let scale = scale.unwrap_or(0);
        let integer_digits = whole.trim_start_matches('0').len();
        let room = usize::from(p.saturating_sub(scale));
        if integer_digits > room {
            return Some(format!(
                "it has {integer_digits} digit(s) before the point but the column \
                 (precision {p}, scale {scale}) holds at most {room}"
            ));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decimal(precision: Option<u8>, scale: Option<u8>) -> ColumnType {
        ColumnType::Decimal { precision, scale }
    }

    #[test]
    fn datetimes() {
        for ok in [
            "2024-01-31 09:30:00",
            "2024-01-31T09:30:00",
            "2024-01-31T09:30",
            "2024-02-29 00:00:00.123456",
            "2024-01-31T09:30:00Z",
            "2024-01-31T09:30:00+02:00",
            "2024-01-31 09:30:00-0530",
            "2024-01-31 09:30:00+02",
        ] {
            assert_eq!(
                text_literal_problem(ok, &ColumnType::DateTime),
                None,
                "{ok}"
            );
        }
        for bad in [
            "next tuesday",
            "now",
            "",
            "2024-01-31",
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-31 24:00:00",
            "2024-01-31 09:60:00",
            "2024-01-31X09:30:00",
            "2024-01-31 09:30:00+2",
            "2024-01-31 09:30:00+02:0",
            "2024-01-31 09:30:00.",
            "2024-01-31 09:30:00.1234567890",
            "2024-01-31 é9:30:00",
        ] {
            assert!(
                text_literal_problem(bad, &ColumnType::DateTime).is_some(),
                "{bad}"
            );
        }
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(text_literal_problem("1970-01-01", &ColumnType::Date), None);
        assert_eq!(text_literal_problem("2000-02-29", &ColumnType::Date), None);
        for bad in [
            "1900-02-29",
            "2024-04-31",
            "24-01-01",
            "2024-1-01",
            "tomorrow",
        ] {
            assert!(
                text_literal_problem(bad, &ColumnType::Date).is_some(),
                "{bad}"
            );
        }
        for ok in ["09:30", "23:59:59", "00:00:00.5"] {
            assert_eq!(text_literal_problem(ok, &ColumnType::Time), None, "{ok}");
        }
        for bad in ["9:30", "25:00", "12:00:61", "12:00.5", "noon"] {
            assert!(
                text_literal_problem(bad, &ColumnType::Time).is_some(),
                "{bad}"
            );
        }
    }

    #[test]
    fn uuids() {
        let ty = ColumnType::Uuid;
        assert_eq!(
            text_literal_problem("00000000-0000-0000-0000-000000000000", &ty),
            None
        );
        assert_eq!(
            text_literal_problem("A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", &ty),
            None
        );
        for bad in [
            "not-a-uuid",
            "a0eebc999c0b4ef8bb6d6bb9bd380a11",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1g",
            "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1",
        ] {
            assert!(text_literal_problem(bad, &ty).is_some(), "{bad}");
        }
    }

    #[test]
    fn decimals() {
        for ok in ["0", "-12.50", "+3", ".5", "5.", "1.5e3", "2E-2"] {
            assert_eq!(text_literal_problem(ok, &decimal(None, None)), None, "{ok}");
        }
        for bad in ["", "-", ".", "abc", "1,5", "1.2.3", "1e", "0x10", " 1"] {
            assert!(
                text_literal_problem(bad, &decimal(None, None)).is_some(),
                "{bad}"
            );
        }
        assert_eq!(
            text_literal_problem("999.99", &decimal(Some(5), Some(2))),
            None
        );
        assert_eq!(
            text_literal_problem("0001.5", &decimal(Some(3), Some(2))),
            None
        );
        let too_big = text_literal_problem("1000.00", &decimal(Some(5), Some(2))).unwrap();
        assert!(too_big.contains("4 digit(s)"), "{too_big}");
        assert!(too_big.contains("at most 3"), "{too_big}");
    }

    #[test]
    fn other_types_put_no_rule_on_text() {
        for ty in [ColumnType::Json, ColumnType::Text { max_length: None }] {
            assert_eq!(text_literal_problem("anything", &ty), None);
        }
    }
}
