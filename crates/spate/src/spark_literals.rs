//! Spark's types for numeric literals, under the Spark dialect.
//!
//! Spark types `1` as `int` (a literal that does not fit is `bigint`), `1L` as `bigint`,
//! `1.5` as `decimal(2,1)` and `1e3` as `double`. DataFusion types every integer literal
//! `Int64` and, unless `datafusion.sql_parser.parse_float_as_decimal` is on (it is in a
//! Spark session), every fractional one `Float64`. The type of a literal decides the type
//! of the expressions around it (`int_col + 1` is `int` in Spark, `bigint` in DataFusion),
//! so it shows in a query's result.
//!
//! # Algorithm
//! Before planning ([`type_literals`]), inside queries only: an integer literal written
//! without `L` that fits in 32 bits becomes `CAST(n AS INT)` and one in exponent form
//! becomes `CAST(n AS DOUBLE)`; DataFusion folds the casts into literals. Numbers whose
//! position gives them a meaning other than a value keep DataFusion's reading: `GROUP BY
//! 1` and `ORDER BY 1` (ordinals), `LIMIT`/`OFFSET`, interval quantities, window frame
//! bounds and table functions' arguments (`range(10)`). Before the visit descends into a
//! query, function or table, the addresses of its positional numbers are noted, and the
//! rewrite skips those nodes (the tree only changes at rewritten leaves, so the
//! addresses stay valid for the visit).

use std::borrow::Cow;
use std::collections::HashSet;
use std::ops::ControlFlow;

use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
use datafusion::sql::sqlparser::tokenizer::{Location, Token, Tokenizer};

use datafusion::sql::sqlparser::ast::{
    CastKind, DataType, Expr, GroupByExpr, LimitClause, OrderByKind, Query, SetExpr, Statement,
    TableFactor, Value, VisitMut, VisitorMut, WindowFrameBound, WindowType,
};

/// Retypes the numeric literals of the queries in `statement` as Spark types them.
pub(crate) fn type_literals(statement: &mut Statement) {
    let _ = statement.visit(&mut Typer::default());
}

#[derive(Default)]
struct Typer {
    /// How many queries the visit is inside (literals outside queries, in `SET`, stay).
    queries: usize,
    /// The addresses of positional numbers, kept as DataFusion reads them.
    kept: HashSet<usize>,
}

impl Typer {
    /// Notes a bare (possibly negated or parenthesized) number as positional.
    fn keep(&mut self, expr: &Expr) {
        match expr {
            Expr::Value(_) => {
                self.kept.insert(expr as *const Expr as usize);
            }
            Expr::UnaryOp { expr, .. } | Expr::Nested(expr) => self.keep(expr),
            _ => {}
        }
    }

    fn keep_bound(&mut self, bound: &WindowFrameBound) {
        if let WindowFrameBound::Preceding(Some(e)) | WindowFrameBound::Following(Some(e)) = bound {
            self.keep(e);
        }
    }

    /// Notes the ordinals of `GROUP BY`, `SORT BY` and `ORDER BY` and the
    /// `LIMIT`/`OFFSET` of a query.
    fn keep_positional(&mut self, query: &Query) {
        if let Some(order_by) = &query.order_by
            && let OrderByKind::Expressions(keys) = &order_by.kind
        {
            for key in keys {
                self.keep(&key.expr);
            }
        }
        match &query.limit_clause {
            Some(LimitClause::LimitOffset {
                limit,
                offset,
                limit_by,
            }) => {
                if let Some(limit) = limit {
                    self.keep(limit);
                }
                if let Some(offset) = offset {
                    self.keep(&offset.value);
                }
                limit_by.iter().for_each(|e| self.keep(e));
            }
            Some(LimitClause::OffsetCommaLimit { offset, limit }) => {
                self.keep(offset);
                self.keep(limit);
            }
            None => {}
        }
        self.keep_group_by(&query.body);
    }

    fn keep_group_by(&mut self, body: &SetExpr) {
        match body {
            SetExpr::Select(select) => {
                if let GroupByExpr::Expressions(keys, _) = &select.group_by {
                    keys.iter().for_each(|e| self.keep(e));
                }
                for sort in &select.sort_by {
                    self.keep(&sort.expr);
                }
            }
            SetExpr::SetOperation { left, right, .. } => {
                self.keep_group_by(left);
                self.keep_group_by(right);
            }
            _ => {}
        }
    }
}

impl VisitorMut for Typer {
    type Break = ();

    fn pre_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        self.queries += 1;
        self.keep_positional(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, _query: &mut Query) -> ControlFlow<()> {
        self.queries = self.queries.saturating_sub(1);
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &mut TableFactor) -> ControlFlow<()> {
        if let TableFactor::Table {
            args: Some(args), ..
        } = factor
        {
            for arg in &mut args.args {
                if let datafusion::sql::sqlparser::ast::FunctionArg::Unnamed(
                    datafusion::sql::sqlparser::ast::FunctionArgExpr::Expr(e),
                ) = arg
                {
                    self.keep(e);
                }
            }
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Interval(interval) => self.keep(&interval.value),
            Expr::Function(function) => {
                if let Some(WindowType::WindowSpec(spec)) = &function.over
                    && let Some(frame) = &spec.window_frame
                {
                    self.keep_bound(&frame.start_bound);
                    if let Some(end) = &frame.end_bound {
                        self.keep_bound(end);
                    }
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if self.queries == 0 || self.kept.contains(&(expr as *const Expr as usize)) {
            return ControlFlow::Continue(());
        }
        let Expr::Value(value) = expr else {
            return ControlFlow::Continue(());
        };
        let Value::Number(text, false) = &value.value else {
            return ControlFlow::Continue(());
        };
        let data_type = if text.contains(['e', 'E']) {
            DataType::Double(datafusion::sql::sqlparser::ast::ExactNumberInfo::None)
        } else if text.parse::<i32>().is_ok() {
            DataType::Int(None)
        } else {
            return ControlFlow::Continue(());
        };
        *expr = Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(expr.clone()),
            data_type,
            array: false,
            format: None,
        };
        ControlFlow::Continue(())
    }
}

/// The text of a statement with Spark's suffixed numeric literals (`6S`, `1Y`, `10L`,
/// `2.5D`, `1.5F`, `1.50BD`), which sqlparser does not read, written as `::` casts
/// (`6::SMALLINT`, `1.50::DECIMAL(3,2)`); the Spark names printer names such a cast of a
/// number after the number, as Spark names the literal. Text without a digit directly
/// followed by a suffix letter is returned as it is, untokenized.
pub(crate) fn suffixed_literals(sql: &str) -> Cow<'_, str> {
    let bytes = sql.as_bytes();
    let suspect = bytes.windows(2).any(|w| {
        w[0].is_ascii_digit()
            && matches!(
                w[1].to_ascii_uppercase(),
                b'S' | b'Y' | b'L' | b'D' | b'F' | b'B'
            )
    });
    if !suspect {
        return Cow::Borrowed(sql);
    }
    let Ok(tokens) = Tokenizer::new(&SparkSqlDialect {}, sql).tokenize_with_location() else {
        return Cow::Borrowed(sql);
    };
    let mut edits = Vec::new();
    for pair in tokens.windows(2) {
        let (Token::Number(number, _), Token::Word(word)) = (&pair[0].token, &pair[1].token) else {
            continue;
        };
        if word.quote_style.is_some() || pair[0].span.end != pair[1].span.start {
            continue;
        }
        let Some(cast) = suffix_type(number, &word.value) else {
            continue;
        };
        if let (Some(start), Some(end)) = (
            byte_offset(sql, pair[1].span.start),
            byte_offset(sql, pair[1].span.end),
        ) {
            edits.push((start, end, cast));
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut text = sql.to_string();
    for (start, end, cast) in edits.into_iter().rev() {
        text.replace_range(start..end, &format!("::{cast}"));
    }
    Cow::Owned(text)
}

/// The type a suffix gives a number (`S` smallint, `BD` a decimal of the digits written).
fn suffix_type(number: &str, suffix: &str) -> Option<String> {
    Some(match suffix.to_ascii_uppercase().as_str() {
        "Y" => "TINYINT".into(),
        "S" => "SMALLINT".into(),
        "L" => "BIGINT".into(),
        "D" => "DOUBLE".into(),
        "F" => "FLOAT".into(),
        "BD" => decimal_type(number)?,
        _ => return None,
    })
}

/// The decimal type of `number` as Java's `BigDecimal` reads it (`1.50` is
/// `DECIMAL(3,2)`), a negative scale (`20E2`) turned into digits (`DECIMAL(4,0)`).
fn decimal_type(number: &str) -> Option<String> {
    let (mantissa, exponent) = match number.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i64>().ok()?),
        None => (number, 0),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let digits = i64::try_from(digits.trim_start_matches('0').len().max(1)).ok()?;
    let scale = i64::try_from(fraction.len()).ok()? - exponent;
    let (precision, scale) = if scale < 0 {
        (digits - scale, 0)
    } else {
        (digits.max(scale), scale)
    };
    Some(format!("DECIMAL({precision},{scale})"))
}

/// The byte offset of a tokenizer location (1-based line and character column).
fn byte_offset(sql: &str, location: Location) -> Option<usize> {
    let mut line_start = 0;
    for _ in 1..location.line {
        line_start += sql[line_start..].find('\n')? + 1;
    }
    let column = usize::try_from(location.column).ok()?.checked_sub(1)?;
    let line = &sql[line_start..];
    let within = line
        .char_indices()
        .map(|(i, _)| i)
        .chain(std::iter::once(line.len()))
        .nth(column)?;
    Some(line_start + within)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn typed(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&SparkSqlDialect {}, sql).unwrap();
        type_literals(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn types_integers_as_int_and_exponents_as_double() {
        assert_eq!(
            typed("SELECT a + 1, 3000000000, 2e3, 1.5 FROM t"),
            "SELECT a + CAST(1 AS INT), 3000000000, CAST(2e3 AS DOUBLE), 1.5 FROM t"
        );
    }

    #[test]
    fn keeps_ordinals_limits_intervals_frames_and_settings() {
        assert_eq!(
            typed(
                "SELECT a, sum(b) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) \
                 FROM range(10) GROUP BY 1 ORDER BY 1 LIMIT 2"
            ),
            "SELECT a, sum(b) OVER (ORDER BY a ROWS BETWEEN 1 PRECEDING AND 1 FOLLOWING) \
             FROM range(10) GROUP BY 1 ORDER BY 1 LIMIT 2"
        );
        assert_eq!(
            typed("SELECT d + INTERVAL 2 DAY"),
            "SELECT d + INTERVAL 2 DAY"
        );
        assert_eq!(typed("SET x = 1"), "SET x = 1");
    }

    #[test]
    fn writes_suffixed_literals_as_casts() {
        assert_eq!(
            suffixed_literals("select 6S, 1Y,\n 2.50D, 1.50BD, 10L, 'x 6S', 6 S from t"),
            "select 6::SMALLINT, 1::TINYINT,\n 2.50::DOUBLE, 1.50::DECIMAL(3,2), 10L, \
             'x 6S', 6 S from t"
        );
        assert!(matches!(
            suffixed_literals("select a1 from t"),
            Cow::Borrowed(_)
        ));
        assert_eq!(decimal_type("20E2").as_deref(), Some("DECIMAL(4,0)"));
        assert_eq!(decimal_type("0.05").as_deref(), Some("DECIMAL(2,2)"));
    }
}
