//! Spark functions DataFusion lacks that are shorthand for SQL it has, under the Spark
//! dialect: `if(c, a, b)` is `CASE WHEN c THEN a ELSE b END`, the cast functions
//! (`double(x)`, `int(x)`, `string(x)`, ...) are `CAST(x AS <type>)`, and `pmod(a, b)` is
//! the remainder with the sign of the divisor, `CASE WHEN a % b < 0 THEN (a % b + b) % b
//! ELSE a % b END` (Spark's definition; `%` takes the dividend's sign in both engines).
//!
//! # Algorithm
//! After the select items got their Spark names ([`crate::spark_names`], which names these
//! calls as Spark does), every call of one of these functions with plain arguments, no
//! window and no filter, is replaced bottom-up by the expression it stands for. Calls
//! with another number of arguments are left alone, so DataFusion reports the unknown
//! function.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::TimezoneInfo;
use datafusion::sql::sqlparser::ast::helpers::attached_token::AttachedToken;
use datafusion::sql::sqlparser::ast::{
    BinaryOperator, CaseWhen, CastKind, DataType, ExactNumberInfo, Expr, FunctionArg,
    FunctionArgExpr, FunctionArguments, ObjectNamePart, Statement, Value, VisitMut, VisitorMut,
};

/// Replaces the shorthand calls in `statement` by what they mean.
pub(crate) fn rewrite_functions(statement: &mut Statement) {
    let _ = statement.visit(&mut Rewriter);
}

struct Rewriter;

impl VisitorMut for Rewriter {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Some(rewritten) = rewrite(expr) {
            *expr = rewritten;
        }
        ControlFlow::Continue(())
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
        "binary" => DataType::Binary(None),
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
    fn rewrites_if_casts_and_pmod() {
        assert_eq!(
            rewritten("SELECT if(a > 1, 'x', 'y'), double(b), pmod(a, 3), int(a, b) FROM t"),
            "SELECT CASE WHEN a > 1 THEN 'x' ELSE 'y' END, CAST(b AS DOUBLE), \
             CASE WHEN a % 3 < 0 THEN (a % 3 + 3) % 3 ELSE a % 3 END, int(a, b) FROM t"
        );
    }
}
