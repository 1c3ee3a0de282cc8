//! The type of a parameter compared with `= ANY`: in `x = ANY($1)` (and `<> ALL`), `$1` is an
//! array of `x`'s type, as PostgreSQL types it. DataFusion plans the comparison as
//! `array_has($1, x)` and leaves `$1` untyped, so a prepared statement announced it as
//! `unknown` and its value was read by splitting its text at every comma with the quotes kept:
//! node-postgres' `= ANY($1)` with `[1, 2, 3]` (sent as `{"1","2","3"}`) failed with `Cannot
//! cast string '"1"'`. With the type in the plan the driver's array text or binary value is
//! read as PostgreSQL reads it. This module types placeholders in a plan; it runs nothing.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Placeholder, ScalarFunction};
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan};

use super::plan_rewrite::rewrite_expressions;

/// The array functions that `= ANY` and `<> ALL` become, which take the array first.
const ARRAY_FIRST: [&str; 3] = ["array_has", "array_contains", "list_has"];

/// `plan` with each untyped `$n` of `array_has($n, x)` typed as an array of `x`'s type.
pub fn type_any_parameters(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !mentions_array_has(&plan) {
        return Ok(plan);
    }
    rewrite_expressions(plan, typed)
}

/// Whether any expression of `plan` calls one of [`ARRAY_FIRST`] (so most plans are left
/// without a rewrite).
fn mentions_array_has(plan: &LogicalPlan) -> bool {
    use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
    let mut found = false;
    let _ = plan.apply_with_subqueries(|node| {
        for expr in node.expressions() {
            let _ = expr.apply(|e| {
                if let Expr::ScalarFunction(f) = e
                    && ARRAY_FIRST.contains(&f.name())
                {
                    found = true;
                    return Ok(TreeNodeRecursion::Stop);
                }
                Ok(TreeNodeRecursion::Continue)
            });
        }
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

fn typed(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::ScalarFunction(ScalarFunction { func, mut args }) = expr else {
        return Ok(Transformed::no(expr));
    };
    let untyped = ARRAY_FIRST.contains(&func.name())
        && args.len() == 2
        && matches!(&args[0], Expr::Placeholder(p) if p.field.is_none());
    let element = if untyped {
        args[1].get_type(schema).ok()
    } else {
        None
    };
    let Some(element) = element.filter(|t| *t != DataType::Null) else {
        return Ok(Transformed::no(Expr::ScalarFunction(ScalarFunction {
            func,
            args,
        })));
    };
    if let Expr::Placeholder(p) = &args[0] {
        let list = DataType::List(Arc::new(Field::new_list_field(element, true)));
        args[0] = Expr::Placeholder(Placeholder::new_with_field(
            p.id.clone(),
            Some(Arc::new(Field::new("", list, true))),
        ));
    }
    Ok(Transformed::yes(Expr::ScalarFunction(ScalarFunction {
        func,
        args,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{SessionConfig, SessionContext};

    async fn parameter_types(sql: &str) -> Vec<(String, Option<DataType>)> {
        let ctx = SessionContext::new_with_config(
            SessionConfig::new()
                .set_bool("datafusion.sql_parser.map_string_types_to_utf8view", false),
        );
        ctx.sql("CREATE TABLE t (a BIGINT, b VARCHAR)")
            .await
            .expect("creates");
        let plan = ctx.state().create_logical_plan(sql).await.expect("plans");
        let plan = type_any_parameters(plan).expect("types");
        let mut types: Vec<_> = plan
            .get_parameter_types()
            .expect("typed")
            .into_iter()
            .collect();
        types.sort();
        types
    }

    fn list(t: DataType) -> Option<DataType> {
        Some(DataType::List(Arc::new(Field::new_list_field(t, true))))
    }

    #[tokio::test]
    async fn any_parameter_is_an_array_of_the_compared_type() {
        assert_eq!(
            parameter_types("SELECT * FROM t WHERE a = ANY($1) AND b = ANY($2)").await,
            vec![
                ("$1".to_string(), list(DataType::Int64)),
                ("$2".to_string(), list(DataType::Utf8))
            ]
        );
        // A parameter cast by the statement is left to its cast (datafusion-postgres types it
        // from the cast), not typed from the column.
        let cast = parameter_types("SELECT * FROM t WHERE a = ANY($1::int[]) AND b = $2").await;
        assert_ne!(cast[0].1, list(DataType::Int64));
        assert_eq!(cast[1], ("$2".to_string(), Some(DataType::Utf8)));
    }
}
