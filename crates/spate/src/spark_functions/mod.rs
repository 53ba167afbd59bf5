//! Spark SQL functions that neither DataFusion nor the `datafusion-spark` crate has, with
//! Spark's semantics, registered in sessions of the Spark dialect ([`register`]) after
//! `datafusion-spark`'s. One function family per module: [`try_arithmetic`] (`try_add`,
//! `try_subtract`, `try_multiply`, `try_divide`), [`bround`], [`mask`], [`to_binary`]
//! (`to_binary`, `try_to_binary`).
//!
//! `avg` stays DataFusion's: `datafusion-spark`'s has no sliding (retracting) accumulator
//! for window frames and drops `FILTER (WHERE ...)`, and DataFusion's gives Spark's types
//! (`double`, `decimal(p+4,s+4)`).
//!
//! `width_bucket` is taken out: `datafusion-spark` 55.2's overflows on a bucket count near
//! `i64::MAX` (a panic in debug builds, a wrong bucket in release builds), and a wrong
//! answer is worse than a missing function.

mod bround;
mod mask;
mod to_binary;
mod try_arithmetic;

use std::sync::Arc;

use datafusion::execution::FunctionRegistry;
use datafusion::execution::SessionState;
use datafusion::logical_expr::ScalarUDF;

/// Registers spate's Spark functions in `state`.
pub(crate) fn register(state: &mut SessionState) -> datafusion::error::Result<()> {
    let functions = [
        ScalarUDF::new_from_impl(try_arithmetic::TryArithmetic::add()),
        ScalarUDF::new_from_impl(try_arithmetic::TryArithmetic::subtract()),
        ScalarUDF::new_from_impl(try_arithmetic::TryArithmetic::multiply()),
        ScalarUDF::new_from_impl(try_arithmetic::TryArithmetic::divide()),
        ScalarUDF::new_from_impl(bround::Bround::new()),
        ScalarUDF::new_from_impl(mask::Mask::new()),
        ScalarUDF::new_from_impl(to_binary::ToBinary::new(false)),
        ScalarUDF::new_from_impl(to_binary::ToBinary::new(true)),
    ];
    for function in functions {
        state.register_udf(Arc::new(function))?;
    }
    state.register_udaf(datafusion::functions_aggregate::average::avg_udaf())?;
    state.deregister_udf("width_bucket")?;
    Ok(())
}
