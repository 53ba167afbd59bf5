//! Results as comparable text, and how two results are compared.
//!
//! A row is a list of cells, each printed the way Arrow prints it (the peers' runner prints
//! Python values the same way). Two engines planned by DataFusion must agree exactly
//! ([`first_difference`]). Other engines pick other types for the same expression (DuckDB
//! averages decimals into doubles, Polars divides decimals at scale 12 where DataFusion
//! stops at 6 and cuts off rather than rounds), so [`first_rounded_difference`] compares
//! numbers at the coarser of the two printed scales: cells agree when they are equal text,
//! or numbers printed with different numbers of decimals that differ by less than one unit
//! in the last place of the one with fewer, or numbers that differ by no more than the
//! rounding noise of a double (1e-15 of the value). So integers must match exactly, and so
//! must decimals printed at the same scale (sums of prices to the cent). Unordered results
//! are sorted as text before they are compared.

use spate::arrow::record_batch::RecordBatch;

/// The rows of `batches`, in order, as `|`-joined cells.
pub fn canonical_rows(batches: &[RecordBatch]) -> Result<Vec<String>, String> {
    Ok(cell_rows(batches)?
        .into_iter()
        .map(|cells| cells.join("|"))
        .collect())
}

/// The rows of `batches`, in order, cell by cell.
pub fn cell_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, String> {
    spate::io::string_rows(batches).map_err(|e| e.to_string())
}

/// The first difference between two results, or `None` when they are equal.
pub fn first_difference(a: &[String], b: &[String]) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} rows vs {} rows", a.len(), b.len()));
    }
    a.iter()
        .zip(b)
        .position(|(x, y)| x != y)
        .map(|i| format!("row {i}: {} vs {}", a[i], b[i]))
}

/// How two results must agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Agreement {
    /// Cell for cell, the same text.
    Exact,
    /// Numbers equal at the coarser printed scale (see the module doc).
    Rounded,
}

/// The first difference between two results compared under `agreement`, or `None` when they
/// agree. With `ordered` false (a query without ORDER BY) both are sorted first.
pub fn first_rounded_difference(
    a: &[Vec<String>],
    b: &[Vec<String>],
    agreement: Agreement,
    ordered: bool,
) -> Option<String> {
    if a.len() != b.len() {
        return Some(format!("{} rows vs {} rows", a.len(), b.len()));
    }
    let (mut a, mut b) = (a.to_vec(), b.to_vec());
    if !ordered {
        a.sort();
        b.sort();
    }
    let same = |x: &Vec<String>, y: &Vec<String>| {
        x.len() == y.len()
            && x.iter().zip(y).all(|(p, q)| match agreement {
                Agreement::Exact => p == q,
                Agreement::Rounded => cells_agree(p, q),
            })
    };
    a.iter()
        .zip(&b)
        .position(|(x, y)| !same(x, y))
        .map(|i| format!("row {i}: {} vs {}", a[i].join("|"), b[i].join("|")))
}

/// Whether a query's text orders its result (so rows compare in order).
pub fn is_ordered(sql: &str) -> bool {
    sql.to_ascii_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .windows(2)
        .any(|w| w == ["order", "by"])
}

/// Whether two cells hold the same value, numbers at the coarser printed scale.
fn cells_agree(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (Some((x, sx)), Some((y, sy))) = (number(a), number(b)) else {
        return false;
    };
    let difference = (x - y).abs();
    // Doubles summed in another order differ in their last bits.
    let noise = 1e-15 * x.abs().max(y.abs());
    // Printed at different scales, the coarser one may be rounded or cut off.
    let unit = match sx == sy {
        true => 0.0,
        false => 10f64.powi(-sx.min(sy)),
    };
    difference <= noise || difference < unit
}

/// A cell as a number and the decimals it was printed with (`1.5e-3` has 4).
fn number(text: &str) -> Option<(f64, i32)> {
    let value: f64 = text.parse().ok().filter(|v: &f64| v.is_finite())?;
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let decimals = mantissa.split_once('.').map_or(0, |(_, f)| f.len() as i32);
    Some((value, (decimals - exponent).max(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(text: &[&str]) -> Vec<Vec<String>> {
        text.iter()
            .map(|r| r.split('|').map(str::to_string).collect())
            .collect()
    }

    #[test]
    fn numbers_agree_at_the_coarser_scale() {
        // A decimal average, cut off at 6 decimals, against a double.
        assert!(cells_agree("25.537587", "25.537587116854997"));
        assert!(cells_agree("0.050144", "0.05014459706340077"));
        assert!(!cells_agree("0.050143", "0.05014459706340077"));
        assert!(!cells_agree("25.537586", "25.537587116854997"));
        // Scale 12 against a double, and a double in exponent notation.
        assert!(cells_agree("16.283855689006", "16.283855689005982"));
        assert!(cells_agree("0.00015", "1.5e-4"));
        // Doubles summed in another order.
        assert!(cells_agree("0.05014459706340077", "0.05014459706340078"));
        // Sums of decimals at one scale and integers must be exact.
        assert!(!cells_agree("5320753880.69", "5320753880.70"));
        assert!(!cells_agree("532075388000.69", "532075388000.70"));
        assert!(!cells_agree("0.01825027", "0.01825028"));
        assert!(!cells_agree("147790", "147791"));
        assert!(cells_agree("147790", "147790"));
        // Text is text.
        assert!(!cells_agree("1995-03-14", "1995-03-15"));
        assert!(!cells_agree("NULL", "0"));
    }

    #[test]
    fn rows_compare_in_order_unless_unordered() {
        let a = rows(&["A|1.50", "B|2.00"]);
        let b = rows(&["B|2.0", "A|1.5"]);
        assert!(first_rounded_difference(&a, &b, Agreement::Rounded, true).is_some());
        assert_eq!(
            first_rounded_difference(&a, &b, Agreement::Rounded, false),
            None
        );
        assert!(first_rounded_difference(&a, &b, Agreement::Exact, false).is_some());
        assert_eq!(
            first_rounded_difference(&a, &rows(&["A|1.5"]), Agreement::Rounded, true).unwrap(),
            "2 rows vs 1 rows"
        );
        let c = rows(&["A|1.50", "B|2.01"]);
        assert_eq!(
            first_rounded_difference(&a, &c, Agreement::Rounded, true).unwrap(),
            "row 1: B|2.00 vs B|2.01"
        );
    }

    #[test]
    fn order_by_is_found_in_any_spacing() {
        assert!(is_ordered("select 1\nORDER\n  BY x"));
        assert!(!is_ordered("select order_by from t"));
    }
}
