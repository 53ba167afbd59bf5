//! Spark functions and types DataFusion lacks that are shorthand for SQL it has, under the
//! Spark dialect: `if(c, a, b)` is `CASE WHEN c THEN a ELSE b END`, the cast functions
//! (`double(x)`, `int(x)`, `string(x)`, ...) are `CAST(x AS <type>)`, `startswith(s, p)`
//! and `endswith(s, p)` are DataFusion's `starts_with` and `ends_with`, and Spark's type
//! names DataFusion does not read are written as the ones it does: `BINARY` is `BYTEA`,
//! `TIMESTAMP_NTZ` is `TIMESTAMP WITHOUT TIME ZONE` (in casts, typed literals and column
//! definitions). `pmod(a, b)` is the remainder with the sign of the divisor, `CASE WHEN
//! a % b < 0 THEN (a % b + b) % b ELSE a % b END` (Spark's definition; `%` takes the
//! dividend's sign in both engines), in the type `%` gives (the `datafusion-spark` crate's
//! `pmod` keeps the first argument's type, not Spark's).
//!
//! # Algorithm
//! After the select items got their Spark names ([`crate::spark_names`], which names these
//! calls as Spark does), every call of one of these functions with plain arguments, no
//! window and no filter, is replaced bottom-up by the expression it stands for, and every
//! cast, typed literal and column definition gets DataFusion's name for its type. Calls
//! with another number of arguments are left alone, so DataFusion reports the unknown
//! function.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::TimezoneInfo;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    ArrayElemTypeDef, BinaryOperator, CaseWhen, CastKind, DataType, ExactNumberInfo, Expr,
    FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart, Statement,
    TypedString, Value, VisitMut, VisitorMut,
};

/// Replaces the shorthand calls in `statement` by what they mean.
pub(crate) fn rewrite_functions(statement: &mut Statement) {
    let _ = statement.visit(&mut Rewriter);
}

/// Writes the default arguments Spark fills in, and names, into the calls of `statement`:
/// `mask(s)` is `mask(s, 'X', 'x', 'n', NULL)`. Runs before the select items are named.
pub(crate) fn fill_defaults(statement: &mut Statement) {
    let _ = statement.visit(&mut DefaultFiller);
}

struct DefaultFiller;

impl VisitorMut for DefaultFiller {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        let Some((name, args)) = plain_call(expr) else {
            return ControlFlow::Continue(());
        };
        if name == "mask" && (1..5).contains(&args.len()) {
            let defaults = [
                Expr::value(Value::SingleQuotedString("X".into())),
                Expr::value(Value::SingleQuotedString("x".into())),
                Expr::value(Value::SingleQuotedString("n".into())),
                Expr::value(Value::Null),
            ];
            if let Expr::Function(function) = expr
                && let FunctionArguments::List(list) = &mut function.args
            {
                for default in defaults.into_iter().skip(args.len() - 1) {
                    list.args
                        .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(default)));
                }
            }
        }
        ControlFlow::Continue(())
    }
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = ();

    fn pre_visit_statement(&mut self, statement: &mut Statement) -> ControlFlow<()> {
        if let Statement::CreateTable(table) = statement {
            for column in &mut table.columns {
                datafusion_type(&mut column.data_type);
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Some(rewritten) = rewrite(expr) {
            *expr = rewritten;
        }
        if let Expr::Cast { data_type, .. } | Expr::TypedString(TypedString { data_type, .. }) =
            expr
        {
            datafusion_type(data_type);
        }
        ControlFlow::Continue(())
    }
}

/// Writes Spark's type names that DataFusion does not read as the ones it does.
fn datafusion_type(data_type: &mut DataType) {
    match data_type {
        DataType::Binary(_) => *data_type = DataType::Bytea,
        DataType::TimestampNtz(precision) => {
            *data_type = DataType::Timestamp(*precision, TimezoneInfo::WithoutTimeZone)
        }
        DataType::Array(ArrayElemTypeDef::AngleBracket(inner)) => datafusion_type(inner),
        DataType::Map(key, value) => {
            datafusion_type(key);
            datafusion_type(value);
        }
        _ => {}
    }
}

/// The name and plain arguments of a call without window, filter or `DISTINCT`.
fn plain_call(expr: &Expr) -> Option<(String, Vec<Expr>)> {
    let Expr::Function(function) = expr else {
        return None;
    };
    if function.over.is_some() || function.filter.is_some() || function.null_treatment.is_some() {
        return None;
    }
    let name = match function.name.0.as_slice() {
        [ObjectNamePart::Identifier(ident)] => ident.value.to_lowercase(),
        _ => return None,
    };
    let FunctionArguments::List(list) = &function.args else {
        return None;
    };
    if list.duplicate_treatment.is_some() || !list.clauses.is_empty() {
        return None;
    }
    let args = list
        .args
        .iter()
        .map(|arg| match arg {
            FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
            _ => None,
        })
        .collect::<Option<Vec<_>>>()?;
    Some((name, args))
}

fn rewrite(expr: &Expr) -> Option<Expr> {
    let (name, args) = plain_call(expr)?;
    match (name.as_str(), args.as_slice()) {
        ("if", [condition, then, otherwise]) => Some(case(
            vec![(condition.clone(), then.clone())],
            otherwise.clone(),
        )),
        ("pmod", [a, b]) => {
            let remainder = binary(a.clone(), BinaryOperator::Modulo, b.clone());
            let negative = binary(
                remainder.clone(),
                BinaryOperator::Lt,
                Expr::value(Value::Number("0".into(), false)),
            );
            let shifted = binary(
                Expr::Nested(Box::new(binary(
                    remainder.clone(),
                    BinaryOperator::Plus,
                    b.clone(),
                ))),
                BinaryOperator::Modulo,
                b.clone(),
            );
            Some(case(vec![(negative, shifted)], remainder))
        }
        ("startswith", [_, _]) => Some(renamed(expr, "starts_with")),
        ("endswith", [_, _]) => Some(renamed(expr, "ends_with")),
        (name, [arg]) => Some(Expr::Cast {
            kind: CastKind::Cast,
            expr: Box::new(arg.clone()),
            data_type: cast_type(name)?,
            array: false,
            format: None,
        }),
        _ => None,
    }
}

/// The type of a Spark cast function (`double` is `DOUBLE`, `decimal` is `DECIMAL(10,0)`).
fn cast_type(name: &str) -> Option<DataType> {
    Some(match name {
        "boolean" => DataType::Boolean,
        "tinyint" => DataType::TinyInt(None),
        "smallint" => DataType::SmallInt(None),
        "int" => DataType::Int(None),
        "bigint" => DataType::BigInt(None),
        "float" => DataType::Float(ExactNumberInfo::None),
        "double" => DataType::Double(ExactNumberInfo::None),
        "decimal" => DataType::Decimal(ExactNumberInfo::PrecisionAndScale(10, 0)),
        "string" => DataType::String(None),
        "binary" => DataType::Bytea,
        "date" => DataType::Date,
        "timestamp" => DataType::Timestamp(None, TimezoneInfo::None),
        _ => return None,
    })
}

fn binary(left: Expr, op: BinaryOperator, right: Expr) -> Expr {
    Expr::BinaryOp {
        left: Box::new(left),
        op,
        right: Box::new(right),
    }
}

/// The call `expr` (a function) under another name.
fn renamed(expr: &Expr, name: &str) -> Expr {
    let mut expr = expr.clone();
    if let Expr::Function(function) = &mut expr {
        function.name = ObjectName::from(vec![Ident::new(name)]);
    }
    expr
}

fn case(branches: Vec<(Expr, Expr)>, otherwise: Expr) -> Expr {
    Expr::Case {
        case_token: AttachedToken::empty(),
        end_token: AttachedToken::empty(),
        operand: None,
        conditions: branches
            .into_iter()
            .map(|(condition, result)| CaseWhen { condition, result })
            .collect(),
        else_result: Some(Box::new(otherwise)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::sqlparser::dialect::SparkSqlDialect;
    use datafusion::sql::sqlparser::parser::Parser;

    fn rewritten(sql: &str) -> String {
        let mut statements = Parser::parse_sql(&SparkSqlDialect {}, sql).unwrap();
        rewrite_functions(&mut statements[0]);
        statements[0].to_string()
    }

    #[test]
    fn rewrites_if_casts_pmod_and_string_predicates() {
        assert_eq!(
            rewritten(
                "SELECT if(a > 1, 'x', 'y'), double(b), int(a, b), startswith(s, 'a'), \
                 endswith(s, 'b'), pmod(a, 3) FROM t"
            ),
            "SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END, CAST(b AS DOUBLE), int(a, b), \
             starts_with(s, 'a'), ends_with(s, 'b'), \
             CASE WHEN a % 3 < 0 THEN (a % 3 + 3) % 3 ELSE a % 3 END FROM t"
        );
    }

    #[test]
    fn fills_in_the_default_arguments_spark_names() {
        let mut statements = Parser::parse_sql(
            &SparkSqlDialect {},
            "SELECT mask(s), mask(s, 'Q', NULL) FROM t",
        )
        .unwrap();
        fill_defaults(&mut statements[0]);
        assert_eq!(
            statements[0].to_string(),
            "SELECT mask(s, 'X', 'x', 'n', NULL), mask(s, 'Q', NULL, 'n', NULL) FROM t"
        );
    }

    #[test]
    fn writes_spark_type_names_as_datafusion_reads_them() {
        assert_eq!(
            rewritten(
                "SELECT CAST(s AS BINARY), binary(s), TIMESTAMP_NTZ '2021-01-01 00:00:00', \
                 CAST(a AS ARRAY<BINARY>) FROM t"
            ),
            "SELECT CAST(s AS BYTEA), CAST(s AS BYTEA), \
             TIMESTAMP WITHOUT TIME ZONE '2021-01-01 00:00:00', CAST(a AS ARRAY<BYTEA>) FROM t"
        );
        assert_eq!(
            rewritten("CREATE TABLE t (b BINARY, ts TIMESTAMP_NTZ) USING parquet"),
            "CREATE TABLE t (b BYTEA, ts TIMESTAMP WITHOUT TIME ZONE) USING parquet"
        );
    }
}
