//! Small pieces of the wording every front end and runner shares in its messages.

use std::time::Duration;

/// `"s"` unless `n` is 1: `format!("{n} revision{}", plural(n))`.
pub fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// `30 s`, `1.5 s` or `200 ms`: a short timeout set for tests must not print as `0 s`.
pub fn human_duration(duration: Duration) -> String {
    let ms = duration.as_millis();
    if ms < 1000 {
        format!("{ms} ms")
    } else if duration.subsec_millis() == 0 {
        format!("{} s", duration.as_secs())
    } else {
        format!("{:.1} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_keep_what_a_short_timeout_needs() {
        assert_eq!(human_duration(Duration::from_millis(200)), "200 ms");
        assert_eq!(human_duration(Duration::from_secs(30)), "30 s");
        assert_eq!(human_duration(Duration::from_millis(1500)), "1.5 s");
        assert_eq!(format!("1 revision{}", plural(1)), "1 revision");
        assert_eq!(format!("2 revision{}", plural(2)), "2 revisions");
    }
}
