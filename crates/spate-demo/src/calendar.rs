//! Proleptic Gregorian dates as day numbers, the unit of Arrow's `Date32`.
//!
//! The generator only needs three things: parse the strict `YYYY-MM-DD` start date, format a
//! day for the `day=YYYY-MM-DD` partition directories, and do arithmetic on days. Day numbers
//! count from 1970-01-01 (day 0), like `Date32`. The conversions are Howard Hinnant's
//! `days_from_civil` / `civil_from_days` algorithms.

/// Microseconds in one day.
pub(crate) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The day number of 9999-12-31, the last day a four-digit partition name can hold.
pub(crate) const LAST_SUPPORTED_DAY: i64 = 2_932_896;

/// Parses a strict `YYYY-MM-DD` date into its day number, or `None` if it is malformed or not
/// a real calendar day.
pub(crate) fn parse_date(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        bytes[range].iter().try_fold(0u32, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
        })
    };
    let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(i64::from(year), month, day))
}

/// Formats a day number as `YYYY-MM-DD`.
pub(crate) fn format_date(day: i64) -> String {
    let (year, month, day) = civil_from_days(day);
    format!("{year:04}-{month:02}-{day:02}")
}

fn is_leap_year(year: u32) -> bool {
    year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400))
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1_460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_days() {
        assert_eq!(parse_date("1970-01-01"), Some(0));
        assert_eq!(parse_date("2000-03-01"), Some(11_017));
        assert_eq!(parse_date("2026-11-17"), Some(20_774));
        assert_eq!(parse_date("9999-12-31"), Some(LAST_SUPPORTED_DAY));
        assert_eq!(format_date(20_774), "2026-11-17");
        assert_eq!(format_date(-1), "1969-12-31");
    }

    #[test]
    fn round_trips_every_day_of_four_centuries() {
        for day in -146_097..146_097 {
            assert_eq!(parse_date(&format_date(day)), Some(day), "day {day}");
        }
    }

    #[test]
    fn rejects_malformed_dates() {
        for bad in [
            "",
            "2026-11-1",
            "2026/11/17",
            "2026-13-01",
            "2026-02-29",
            "2026-04-31",
            "2026-00-10",
            "2026-11-00",
            "20261117",
            "+2026-11-17",
            "2026-11-17T00:00",
            "２０２６-11-17",
        ] {
            assert_eq!(parse_date(bad), None, "{bad:?}");
        }
        assert_eq!(parse_date("2024-02-29"), Some(19_782));
    }
}
