//! The 22 TPC-H queries, from `benches/queries/tpch/qNN.sql` (the specification's text with
//! its validation parameters; a few ORDER BYs gained a tie-breaker so that results compare
//! exactly).

use std::path::PathBuf;

/// The SQL of query `n` (1..=22).
pub fn load(n: u32) -> Result<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("queries/tpch")
        .join(format!("q{n:02}.sql"));
    std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

/// Parses `1-22`, `1,3,5` or `3-6,9`.
pub fn parse_selection(text: &str) -> Result<Vec<u32>, String> {
    let mut out = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (from, to) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let parse = |s: &str| {
            s.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=22).contains(n))
                .ok_or_else(|| format!("bad query number '{s}' in '{text}': expected 1 to 22"))
        };
        let (from, to) = (parse(from)?, parse(to)?);
        out.extend(from..=to);
    }
    out.dedup();
    if out.is_empty() {
        return Err(format!("no queries in '{text}'"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selections() {
        assert_eq!(parse_selection("1-3,7").unwrap(), [1, 2, 3, 7]);
        assert_eq!(parse_selection("22").unwrap(), [22]);
        assert!(parse_selection("0").is_err());
        assert!(parse_selection("1-23").is_err());
    }

    #[test]
    fn all_queries_load() {
        for n in 1..=22 {
            assert!(load(n).unwrap().to_lowercase().contains("select"), "q{n}");
        }
    }
}
