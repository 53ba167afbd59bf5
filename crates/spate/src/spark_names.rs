//! Spark's names for unaliased select items, under the Spark dialect.
//!
//! Spark names a select item without an alias after its expression, printed the way its
//! analyzer prints the resolved expression: `a + 1` is `(a + 1)`, `count(*)` is `count(1)`,
//! `'x'` is `x`, `a <> b` is `(NOT (a = b))`, `t.a` is `a`, `cast(x as int)` is
//! `CAST(x AS INT)`, a window function carries its frame (`rank() OVER (ORDER BY a ASC
//! NULLS FIRST ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)`). DataFusion names such
//! items after its own expressions (`t.a + Int64(1)`), so a script's output columns, and
//! the names a query over a view or subquery refers to, would differ.
//!
//! # Algorithm
//! Before planning, every `SELECT` of a parsed statement (subqueries, views and CTEs
//! included) is visited bottom-up ([`name_select_items`]). An unaliased item whose
//! expression is not a bare column gets an explicit, quoted alias: its Spark name, printed
//! from the syntax tree by [`spark_sql`]. The printer follows Spark's rules for the
//! expressions Spark scripts commonly name this way (literals, operators, casts, `CASE`,
//! `IN`, `BETWEEN`, functions with `DISTINCT`, `FILTER` and `OVER`, subscripts,
//! intervals); for anything else it returns `None` and the item keeps DataFusion's name,
//! so an expression the printer does not know is never given a wrong Spark name. Spark
//! prints the *resolved* expression, so where the analyzer adds arguments
//! (`sort_array(a)` is `sort_array(a, true)`) the printer adds them too, for the functions
//! listed in [`function_sql`].

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CastKind, DataType, DateTimeField, DuplicateTreatment, ExactNumberInfo, Expr,
    Function, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, Interval, ObjectNamePart,
    OrderByExpr, Query, SelectItem, SetExpr, Statement, Subscript, UnaryOperator, Value, VisitMut,
    VisitorMut, WindowFrameBound, WindowFrameUnits, WindowSpec, WindowType,
};

/// Gives every unaliased, non-column select item of `statement` its Spark name as an alias.
pub(crate) fn name_select_items(statement: &mut Statement) {
    let _ = statement.visit(&mut Namer);
}

struct Namer;

impl VisitorMut for Namer {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_set_expr(&mut query.body);
        ControlFlow::Continue(())
    }
}

fn name_set_expr(body: &mut SetExpr) {
    match body {
        SetExpr::Select(select) => {
            for item in &mut select.projection {
                name_item(item);
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            name_set_expr(left);
            name_set_expr(right);
        }
        _ => {}
    }
}

fn name_item(item: &mut SelectItem) {
    let SelectItem::UnnamedExpr(expr) = item else {
        return;
    };
    if is_column(expr) {
        return;
    }
    if let Some(name) = spark_sql(expr) {
        *item = SelectItem::ExprWithAlias {
            expr: expr.clone(),
            alias: Ident::with_quote('`', name),
        };
    }
}

/// A bare (possibly qualified, possibly parenthesized) column: DataFusion already names it
/// as Spark does.
fn is_column(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Nested(inner) => is_column(inner),
        _ => false,
    }
}

/// `expr` printed as Spark names it, or `None` when the printer does not know how.
pub(crate) fn spark_sql(expr: &Expr) -> Option<String> {
    Some(match expr {
        Expr::Identifier(ident) => ident_name(ident),
        Expr::CompoundIdentifier(parts) => ident_name(parts.last()?),
        Expr::Value(value) => value_sql(&value.value)?,
        Expr::Nested(inner) => spark_sql(inner)?,
        Expr::UnaryOp { op, expr } => unary_sql(*op, expr)?,
        Expr::BinaryOp { left, op, right } => binary_sql(left, op, right)?,
        Expr::IsNull(e) => format!("({} IS NULL)", spark_sql(e)?),
        Expr::IsNotNull(e) => format!("({} IS NOT NULL)", spark_sql(e)?),
        Expr::IsNotDistinctFrom(a, b) => format!("({} <=> {})", spark_sql(a)?, spark_sql(b)?),
        Expr::IsDistinctFrom(a, b) => {
            format!("(NOT ({} <=> {}))", spark_sql(a)?, spark_sql(b)?)
        }
        Expr::InList {
            expr,
            list,
            negated,
        } => negate(
            *negated,
            format!("({} IN ({}))", spark_sql(expr)?, list_sql(list)?),
        ),
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            let e = spark_sql(expr)?;
            let between = format!(
                "(({e} >= {}) AND ({e} <= {}))",
                spark_sql(low)?,
                spark_sql(high)?
            );
            negate(*negated, between)
        }
        Expr::Like {
            negated,
            any: false,
            expr,
            pattern,
            escape_char: None,
        } => negate(
            *negated,
            format!("{} LIKE {}", spark_sql(expr)?, spark_sql(pattern)?),
        ),
        // A suffixed literal (`6S`), written `6::SMALLINT` by `spark_literals`.
        Expr::Cast {
            kind: CastKind::DoubleColon,
            expr,
            ..
        } if is_number(expr) => spark_sql(expr)?,
        Expr::Cast {
            kind,
            expr,
            data_type,
            format: None,
            ..
        } => cast_sql(kind, expr, data_type)?,
        Expr::TypedString(typed) => typed_string_sql(typed)?,
        Expr::Function(function) => function_sql(function)?,
        Expr::Case {
            operand,
            conditions,
            else_result,
            ..
        } => case_sql(operand.as_deref(), conditions, else_result.as_deref())?,
        Expr::CompoundFieldAccess { root, access_chain } => field_access_sql(root, access_chain)?,
        Expr::Substring {
            expr,
            substring_from: Some(from),
            substring_for,
            ..
        } => format!(
            "substring({}, {}, {})",
            spark_sql(expr)?,
            spark_sql(from)?,
            match substring_for {
                Some(len) => spark_sql(len)?,
                None => i32::MAX.to_string(),
            }
        ),
        Expr::Interval(interval) => interval_sql(interval)?,
        Expr::Array(array) => format!("array({})", list_sql(&array.elem)?),
        _ => return None,
    })
}

/// `CAST(e AS t)` or `TRY_CAST(e AS t)` as Spark names it.
fn cast_sql(kind: &CastKind, expr: &Expr, data_type: &DataType) -> Option<String> {
    let cast = match kind {
        CastKind::Cast | CastKind::DoubleColon => "CAST",
        CastKind::TryCast => "TRY_CAST",
        CastKind::SafeCast => return None,
    };
    Some(format!(
        "{cast}({} AS {})",
        spark_sql(expr)?,
        type_sql(data_type)?
    ))
}

/// A typed literal (`DATE '2020-01-01'`) as Spark names it.
fn typed_string_sql(typed: &datafusion::sql::sqlparser::ast::TypedString) -> Option<String> {
    let prefix = match &typed.data_type {
        DataType::Date => "DATE",
        DataType::Timestamp(..) | DataType::Datetime(_) => "TIMESTAMP",
        DataType::TimestampNtz(_) => "TIMESTAMP_NTZ",
        _ => return None,
    };
    Some(format!("{prefix} '{}'", string_value(&typed.value.value)?))
}

/// `root[i].field` as Spark names it.
fn field_access_sql(
    root: &Expr,
    access_chain: &[datafusion::sql::sqlparser::ast::AccessExpr],
) -> Option<String> {
    use datafusion::sql::sqlparser::ast::AccessExpr;
    let mut text = spark_sql(root)?;
    for access in access_chain {
        match access {
            AccessExpr::Subscript(Subscript::Index { index }) => {
                text.push_str(&format!("[{}]", spark_sql(index)?))
            }
            AccessExpr::Dot(Expr::Identifier(f)) => text.push_str(&format!(".{}", f.value)),
            _ => return None,
        }
    }
    Some(text)
}

/// A column's name: unquoted names are folded to lower case, as DataFusion resolves them.
fn ident_name(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// A numeric literal, possibly with a suffix (`6::SMALLINT`).
fn is_number(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => matches!(v.value, Value::Number(..)),
        Expr::Cast {
            kind: CastKind::DoubleColon,
            expr,
            ..
        } => is_number(expr),
        _ => false,
    }
}

fn negate(negated: bool, text: String) -> String {
    if negated {
        format!("(NOT {text})")
    } else {
        text
    }
}

fn list_sql(list: &[Expr]) -> Option<String> {
    let parts = list.iter().map(spark_sql).collect::<Option<Vec<_>>>()?;
    Some(parts.join(", "))
}

fn string_value(value: &Value) -> Option<String> {
    match value {
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
        _ => None,
    }
}

/// A literal as Spark names it: numbers as their Java value prints, strings bare.
fn value_sql(value: &Value) -> Option<String> {
    match value {
        Value::Number(text, _) => number_sql(text),
        Value::SingleQuotedString(s) | Value::DoubleQuotedString(s) => Some(s.clone()),
        Value::Boolean(b) => Some(b.to_string()),
        Value::Null => Some("NULL".into()),
        _ => None,
    }
}

/// A numeric literal as Spark prints its value: an integer without leading zeros, a
/// decimal with the digits written (`.5` is `0.5`), an exponent form as Java's
/// `Double.toString` (`1e10` is `1.0E10`).
fn number_sql(text: &str) -> Option<String> {
    if text.contains(['e', 'E']) {
        return text.parse::<f64>().ok().map(java_double);
    }
    match text.split_once('.') {
        None => text.parse::<i128>().ok().map(|n| n.to_string()),
        Some((whole, fraction)) => {
            let whole = whole
                .parse::<i128>()
                .ok()
                .map_or("0".to_string(), |n| n.to_string());
            if fraction.is_empty() {
                Some(whole)
            } else {
                Some(format!("{whole}.{fraction}"))
            }
        }
    }
}

/// A double as Java's `Double.toString` prints it: plain from 1e-3 to below 1e7 (with at
/// least one fractional digit), else `d.dddE±n`.
pub(crate) fn java_double(value: f64) -> String {
    if value.is_nan() {
        return "NaN".into();
    }
    if value.is_infinite() {
        return if value > 0.0 { "Infinity" } else { "-Infinity" }.into();
    }
    let magnitude = value.abs();
    if magnitude == 0.0 || (1e-3..1e7).contains(&magnitude) {
        let text = format!("{value}");
        return if text.contains('.') {
            text
        } else {
            format!("{text}.0")
        };
    }
    let text = format!("{value:e}");
    let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
    let mantissa = if mantissa.contains('.') {
        mantissa.to_string()
    } else {
        format!("{mantissa}.0")
    };
    format!("{mantissa}E{exponent}")
}

fn unary_sql(op: UnaryOperator, expr: &Expr) -> Option<String> {
    let operand = spark_sql(expr)?;
    Some(match op {
        UnaryOperator::Minus if is_number(expr) => format!("-{operand}"),
        UnaryOperator::Minus => format!("(- {operand})"),
        UnaryOperator::Plus => format!("(+ {operand})"),
        UnaryOperator::Not | UnaryOperator::BangNot => format!("(NOT {operand})"),
        _ => return None,
    })
}

fn binary_sql(left: &Expr, op: &BinaryOperator, right: &Expr) -> Option<String> {
    let (l, r) = (spark_sql(left)?, spark_sql(right)?);
    let symbol = match op {
        BinaryOperator::Plus => "+",
        BinaryOperator::Minus => "-",
        BinaryOperator::Multiply => "*",
        BinaryOperator::Divide => "/",
        BinaryOperator::Modulo => "%",
        BinaryOperator::Eq => "=",
        BinaryOperator::Lt => "<",
        BinaryOperator::LtEq => "<=",
        BinaryOperator::Gt => ">",
        BinaryOperator::GtEq => ">=",
        BinaryOperator::Spaceship => "<=>",
        BinaryOperator::And => "AND",
        BinaryOperator::Or => "OR",
        BinaryOperator::BitwiseAnd => "&",
        BinaryOperator::BitwiseOr => "|",
        BinaryOperator::BitwiseXor => "^",
        BinaryOperator::MyIntegerDivide | BinaryOperator::DuckIntegerDivide => "div",
        BinaryOperator::NotEq => return Some(format!("(NOT ({l} = {r}))")),
        BinaryOperator::StringConcat => return Some(format!("concat({l}, {r})")),
        _ => return None,
    };
    Some(format!("({l} {symbol} {r})"))
}

/// A type as Spark's `sql` prints it in a cast (`INT`, `DECIMAL(10,2)`, `STRING`).
fn type_sql(data_type: &DataType) -> Option<String> {
    Some(
        match data_type {
            DataType::TinyInt(_) => "TINYINT",
            DataType::SmallInt(_) => "SMALLINT",
            DataType::Int(_) | DataType::Integer(_) => "INT",
            DataType::BigInt(_) => "BIGINT",
            DataType::Float(_) | DataType::Real => "FLOAT",
            DataType::Double(_) | DataType::DoublePrecision => "DOUBLE",
            DataType::Boolean | DataType::Bool => "BOOLEAN",
            DataType::String(_)
            | DataType::Varchar(_)
            | DataType::Char(_)
            | DataType::Text
            | DataType::CharacterVarying(_) => "STRING",
            DataType::Binary(_) | DataType::Bytea => "BINARY",
            DataType::Date => "DATE",
            DataType::Timestamp(..) => "TIMESTAMP",
            DataType::TimestampNtz(_) => "TIMESTAMP_NTZ",
            DataType::Decimal(info) | DataType::Numeric(info) | DataType::Dec(info) => {
                let (precision, scale) = match info {
                    ExactNumberInfo::None => (10, 0),
                    ExactNumberInfo::Precision(p) => (*p, 0),
                    ExactNumberInfo::PrecisionAndScale(p, s) => (*p, *s),
                };
                return Some(format!("DECIMAL({precision},{scale})"));
            }
            _ => return None,
        }
        .to_string(),
    )
}

fn case_sql(
    operand: Option<&Expr>,
    conditions: &[datafusion::sql::sqlparser::ast::CaseWhen],
    else_result: Option<&Expr>,
) -> Option<String> {
    let operand = match operand {
        Some(operand) => Some(spark_sql(operand)?),
        None => None,
    };
    let mut text = String::from("CASE");
    for when in conditions {
        let condition = spark_sql(&when.condition)?;
        let condition = match &operand {
            Some(operand) => format!("({operand} = {condition})"),
            None => condition,
        };
        text.push_str(&format!(
            " WHEN {condition} THEN {}",
            spark_sql(&when.result)?
        ));
    }
    if let Some(otherwise) = else_result {
        text.push_str(&format!(" ELSE {}", spark_sql(otherwise)?));
    }
    text.push_str(" END");
    Some(text)
}

/// `INTERVAL '2' DAY`, `INTERVAL '1-2' YEAR TO MONTH`, as Spark names an ANSI interval.
fn interval_sql(interval: &Interval) -> Option<String> {
    let value = match interval.value.as_ref() {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.clone(),
            other => string_value(other)?,
        },
        _ => return None,
    };
    let field = |f: &DateTimeField| -> Option<&'static str> {
        Some(match f {
            DateTimeField::Year | DateTimeField::Years => "YEAR",
            DateTimeField::Month | DateTimeField::Months => "MONTH",
            DateTimeField::Day | DateTimeField::Days => "DAY",
            DateTimeField::Hour | DateTimeField::Hours => "HOUR",
            DateTimeField::Minute | DateTimeField::Minutes => "MINUTE",
            DateTimeField::Second | DateTimeField::Seconds => "SECOND",
            _ => return None,
        })
    };
    let leading = field(interval.leading_field.as_ref()?)?;
    Some(match &interval.last_field {
        Some(last) => format!("INTERVAL '{value}' {leading} TO {}", field(last)?),
        None => format!("INTERVAL '{value}' {leading}"),
    })
}

/// The plain arguments of a call, printed (`*` as `*`); `None` for named arguments.
fn args_sql(args: &[FunctionArg]) -> Option<Vec<String>> {
    args.iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => spark_sql(e),
            FunctionArg::Unnamed(FunctionArgExpr::Wildcard) => Some("*".into()),
            _ => None,
        })
        .collect()
}

/// Spark's cast functions (`double(x)` is `CAST(x AS DOUBLE)`), which Spark names after
/// their argument.
pub(crate) const CAST_FUNCTIONS: &[&str] = &[
    "boolean",
    "tinyint",
    "smallint",
    "int",
    "bigint",
    "float",
    "double",
    "decimal",
    "string",
    "binary",
    "date",
    "timestamp",
];

/// Ranking functions, whose default frame is `ROWS ... CURRENT ROW`.
const RANKING: &[&str] = &["row_number", "rank", "dense_rank", "percent_rank", "ntile"];

/// Ranking functions Spark prints in capitals, without their (implicit) arguments.
const CAPITAL_RANKING: &[&str] = &["rank", "dense_rank", "percent_rank"];

/// A call as Spark names it: the lower-case name, the arguments Spark's analyzer fills in
/// (`count(*)` is `count(1)`, `sort_array(a)` is `sort_array(a, true)`, `lag(a)` is
/// `lag(a, 1, NULL)`), `DISTINCT`, `FILTER (WHERE ...)` and the window with its frame.
fn function_sql(function: &Function) -> Option<String> {
    if function.null_treatment.is_some() || !function.within_group.is_empty() {
        return None;
    }
    let name = match function.name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => ident.value.to_lowercase(),
        _ => return None,
    };
    let (distinct, mut args) = match &function.args {
        FunctionArguments::None => (false, Vec::new()),
        FunctionArguments::List(list) => {
            if !list.clauses.is_empty() {
                return None;
            }
            let distinct = matches!(list.duplicate_treatment, Some(DuplicateTreatment::Distinct));
            (distinct, args_sql(&list.args)?)
        }
        FunctionArguments::Subquery(_) => return None,
    };
    match (name.as_str(), args.len()) {
        ("count", 0) => args.push("1".into()),
        ("count", 1) if args[0] == "*" => args[0] = "1".into(),
        ("sort_array", 1) => args.push("true".into()),
        ("lag" | "lead", 1) => args.extend(["1".to_string(), "NULL".to_string()]),
        ("lag" | "lead", 2) => args.push("NULL".into()),
        _ if args.iter().any(|a| a == "*") => return None,
        _ => {}
    }
    if CAST_FUNCTIONS.contains(&name.as_str()) && args.len() == 1 && function.over.is_none() {
        return args.pop();
    }
    let joined = args.join(", ");
    let mut text = match name.as_str() {
        "if" => format!("(IF({joined}))"),
        _ if CAPITAL_RANKING.contains(&name.as_str()) => format!("{}()", name.to_uppercase()),
        _ if distinct => format!("{name}(DISTINCT {joined})"),
        _ => format!("{name}({joined})"),
    };
    if let Some(filter) = &function.filter {
        text.push_str(&format!(" FILTER (WHERE {})", spark_sql(filter)?));
    }
    match &function.over {
        None => {}
        Some(WindowType::WindowSpec(spec)) => {
            text.push_str(&format!(" OVER ({})", window_sql(&name, &args, spec)?));
        }
        Some(WindowType::NamedWindow(_)) => return None,
    }
    Some(text)
}

/// A window as Spark prints it: `PARTITION BY`, `ORDER BY` with explicit direction and
/// null order, and the frame, the default one filled in.
fn window_sql(name: &str, args: &[String], spec: &WindowSpec) -> Option<String> {
    if spec.window_name.is_some() {
        return None;
    }
    let mut parts = Vec::new();
    if !spec.partition_by.is_empty() {
        parts.push(format!("PARTITION BY {}", list_sql(&spec.partition_by)?));
    }
    if !spec.order_by.is_empty() {
        let keys = spec
            .order_by
            .iter()
            .map(order_sql)
            .collect::<Option<Vec<_>>>()?;
        parts.push(format!("ORDER BY {}", keys.join(", ")));
    }
    let frame = match &spec.window_frame {
        Some(frame) => {
            let units = match frame.units {
                WindowFrameUnits::Rows => "ROWS",
                WindowFrameUnits::Range => "RANGE",
                WindowFrameUnits::Groups => return None,
            };
            let end = match &frame.end_bound {
                Some(end) => bound_sql(end)?,
                None => "CURRENT ROW".into(),
            };
            format!(
                "{units} BETWEEN {} AND {end}",
                bound_sql(&frame.start_bound)?
            )
        }
        None if RANKING.contains(&name) => {
            "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW".into()
        }
        None if name == "lag" || name == "lead" => {
            let offset = args.get(1)?;
            let offset = match (name, offset.strip_prefix('-')) {
                ("lead", _) => offset.clone(),
                (_, Some(positive)) => positive.to_string(),
                _ => format!("-{offset}"),
            };
            format!("ROWS BETWEEN {offset} FOLLOWING AND {offset} FOLLOWING")
        }
        None if spec.order_by.is_empty() => {
            "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING".into()
        }
        None => "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW".into(),
    };
    parts.push(frame);
    Some(parts.join(" "))
}

fn order_sql(order: &OrderByExpr) -> Option<String> {
    let asc = order.options.asc.unwrap_or(true);
    let nulls_first = order.options.nulls_first.unwrap_or(asc);
    Some(format!(
        "{} {} {}",
        spark_sql(&order.expr)?,
        if asc { "ASC" } else { "DESC" },
        if nulls_first {
            "NULLS FIRST"
        } else {
            "NULLS LAST"
        }
    ))
}

fn bound_sql(bound: &WindowFrameBound) -> Option<String> {
    Some(match bound {
        WindowFrameBound::CurrentRow => "CURRENT ROW".into(),
        WindowFrameBound::Preceding(None) => "UNBOUNDED PRECEDING".into(),
        WindowFrameBound::Following(None) => "UNBOUNDED FOLLOWING".into(),
        WindowFrameBound::Preceding(Some(n)) => format!("{} PRECEDING", spark_sql(n)?),
        WindowFrameBound::Following(Some(n)) => format!("{} FOLLOWING", spark_sql(n)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    /// The output names the namer gives the items of `select`.
    fn names(select: &str) -> Vec<String> {
        let mut statements = Parser::parse_sql(&SparkSqlDialect {}, select).unwrap();
        name_select_items(&mut statements[0]);
        let Statement::Query(query) = &statements[0] else {
            panic!("not a query: {select}");
        };
        let SetExpr::Select(select) = query.body.as_ref() else {
            panic!("not a select");
        };
        select
            .projection
            .iter()
            .map(|item| match item {
                SelectItem::ExprWithAlias { alias, .. } => alias.value.clone(),
                other => format!("unnamed {other}"),
            })
            .collect()
    }

    #[test]
    fn names_operators_literals_and_casts_as_spark() {
        assert_eq!(
            names(
                "select t.a + 1, 'x', a <> b, cast(1 as tinyint) / 2, 1e10, -1, .5, \
                 a between 1 and 2, b not in (1, 2), a is null, x, d as y"
            ),
            [
                "(a + 1)",
                "x",
                "(NOT (a = b))",
                "(CAST(1 AS TINYINT) / 2)",
                "1.0E10",
                "-1",
                "0.5",
                "((a >= 1) AND (a <= 2))",
                "(NOT (b IN (1, 2)))",
                "(a IS NULL)",
                "unnamed x",
                "y",
            ]
        );
    }

    #[test]
    fn names_functions_cases_and_windows_as_spark() {
        assert_eq!(
            names(
                "select COUNT(*), sum(distinct t.b), if(a, 1, 2), sort_array(x), \
                 case a when 1 then 'one' else null end, count(b) filter (where b > 1), \
                 rank() over (partition by a order by b desc), sum(b) over (order by a), \
                 lag(b) over (order by a), cast(a as decimal(5, 2)), date '2020-01-01'"
            ),
            [
                "count(1)",
                "sum(DISTINCT b)",
                "(IF(a, 1, 2))",
                "sort_array(x, true)",
                "CASE WHEN (a = 1) THEN one ELSE NULL END",
                "count(b) FILTER (WHERE (b > 1))",
                "RANK() OVER (PARTITION BY a ORDER BY b DESC NULLS LAST ROWS BETWEEN \
                 UNBOUNDED PRECEDING AND CURRENT ROW)",
                "sum(b) OVER (ORDER BY a ASC NULLS FIRST RANGE BETWEEN UNBOUNDED PRECEDING \
                 AND CURRENT ROW)",
                "lag(b, 1, NULL) OVER (ORDER BY a ASC NULLS FIRST ROWS BETWEEN -1 FOLLOWING \
                 AND -1 FOLLOWING)",
                "CAST(a AS DECIMAL(5,2))",
                "DATE '2020-01-01'",
            ]
        );
    }

    #[test]
    fn leaves_unknown_expressions_to_datafusion() {
        assert_eq!(
            names("select a similar to 'x', (select 1)"),
            ["unnamed a SIMILAR TO 'x'", "unnamed (SELECT 1 AS `1`)"]
        );
    }

    #[test]
    fn prints_doubles_as_java() {
        assert_eq!(java_double(1e10), "1.0E10");
        assert_eq!(java_double(150.0), "150.0");
        assert_eq!(java_double(1.5e-5), "1.5E-5");
        assert_eq!(java_double(0.001), "0.001");
    }
}
