//! Integer literals typed as PostgreSQL types them: `integer` (int4) where the value fits,
//! `bigint` beyond. DataFusion reads every integer literal as a bigint, so `SELECT 1` was
//! announced as `int8` (node-postgres then hands it back as a string, and typed drivers such
//! as tokio-postgres and sqlx refuse to read it as an `i32`), `int4_column + 1` was a bigint
//! and `2147483647 + 1` did not overflow.
//!
//! A client's statement is planned, then this narrows a literal where its type decides the
//! type of a value the query produces: a select-list item, an operand of integer arithmetic
//! (`+ - * / %` with an integer on the other side), a `CASE` result, an argument of
//! `coalesce`, `nullif`, `greatest`, `least`, `sum`, `min`, `max` or `pg_typeof`, and the
//! columns of a `VALUES` list. Elsewhere (comparisons, `IN` lists, other functions'
//! arguments, `LIMIT`) the type of the literal changes no result, and the literal is left
//! as DataFusion planned it, so filters reach models and remote databases as before. Plans
//! that write (`INSERT`, `COPY`, DDL) are left alone: DataFusion typed their casts to the
//! target when it planned them.
//!
//! It is applied once, where the server plans a client's query (the extended protocol's
//! Parse, the simple protocol's queries), not as an analyzer rule: DataFusion analyses a plan
//! each time it optimises it, so a rule would also meet an optimised plan and narrow the
//! constants that optimisation folded (`230::bigint` is the literal `230` by then: when
//! datafusion-postgres ran prepared statements, it was described as a bigint and sent as an
//! integer, read as 987842478080 through psycopg's binary results).
//!
//! This module changes plans only; it does not parse SQL.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::{Transformed, TreeNodeRecursion};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr::{AggregateFunction, Alias, BinaryExpr, Case, ScalarFunction};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, Operator, Union, Values};
use datafusion::optimizer::analyzer::type_coercion::coerce_union_schema;

/// Functions whose result has the type of their arguments.
const TYPED_BY_ARGUMENTS: &[&str] = &[
    "coalesce",
    "nullif",
    "greatest",
    "least",
    "sum",
    "min",
    "max",
    "pg_typeof",
];

/// `plan` with its integer literals typed as PostgreSQL types them (see the module).
pub fn type_integer_literals(plan: LogicalPlan) -> Result<LogicalPlan> {
    if matches!(
        plan,
        LogicalPlan::Dml(_) | LogicalPlan::Copy(_) | LogicalPlan::Ddl(_)
    ) || recursive(&plan)?
    {
        return Ok(plan);
    }
    plan.transform_up_with_subqueries(|plan| {
        let plan = match plan {
            LogicalPlan::Values(values) => LogicalPlan::Values(narrow_values(values)?),
            LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_) => {
                let schema = merge_schema(&plan.inputs());
                let names = NamePreserver::new(&plan);
                plan.map_expressions(|expr| {
                    let name = names.save(&expr);
                    let narrowed = narrow(expr, &schema);
                    Ok(Transformed::yes(name.restore(narrowed)))
                })?
                .data
            }
            // A union keeps the schema it was planned with, to which type coercion would
            // cast its inputs; it takes the type its inputs' types coerce to instead.
            LogicalPlan::Union(Union { inputs, .. }) => {
                let schema = Arc::new(coerce_union_schema(&inputs)?);
                return Ok(Transformed::yes(LogicalPlan::Union(Union {
                    inputs,
                    schema,
                })));
            }
            other => other,
        };
        // Every node, so that the narrowed types reach the schemas above them.
        plan.recompute_schema().map(Transformed::yes)
    })
    .map(|t| t.data)
}

/// Whether `plan` has a recursive query, whose work table keeps the types it was planned
/// with (such a plan is left as it is).
fn recursive(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|p| {
        found = matches!(p, LogicalPlan::RecursiveQuery(_));
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(found)
}

/// `v` as an `integer` if it is a bigint that fits one.
fn narrowed(v: &ScalarValue) -> Option<ScalarValue> {
    match v {
        ScalarValue::Int64(Some(n)) => i32::try_from(*n).ok().map(|n| ScalarValue::Int32(Some(n))),
        _ => None,
    }
}

/// `e` with its literals narrowed where their type is the type of `e`'s value.
fn narrow(e: Expr, schema: &DFSchema) -> Expr {
    match e {
        Expr::Literal(v, meta) => match narrowed(&v) {
            Some(n) => Expr::Literal(n, meta),
            None => Expr::Literal(v, meta),
        },
        Expr::Alias(Alias {
            expr,
            relation,
            name,
            metadata,
        }) => Expr::Alias(Alias {
            expr: Box::new(narrow(*expr, schema)),
            relation,
            name,
            metadata,
        }),
        Expr::Negative(inner) => Expr::Negative(Box::new(narrow(*inner, schema))),
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if arithmetic(op) && is_integer(&left, schema) && is_integer(&right, schema) =>
        {
            Expr::BinaryExpr(BinaryExpr {
                left: Box::new(narrow(*left, schema)),
                op,
                right: Box::new(narrow(*right, schema)),
            })
        }
        Expr::Case(Case {
            expr,
            when_then_expr,
            else_expr,
        }) => Expr::Case(Case {
            expr,
            when_then_expr: when_then_expr
                .into_iter()
                .map(|(when, then)| (when, Box::new(narrow(*then, schema))))
                .collect(),
            else_expr: else_expr.map(|e| Box::new(narrow(*e, schema))),
        }),
        Expr::ScalarFunction(ScalarFunction { func, args })
            if TYPED_BY_ARGUMENTS.contains(&func.name()) =>
        {
            let args = args.into_iter().map(|a| narrow(a, schema)).collect();
            Expr::ScalarFunction(ScalarFunction { func, args })
        }
        Expr::AggregateFunction(mut f) if TYPED_BY_ARGUMENTS.contains(&f.func.name()) => {
            let AggregateFunction { params, .. } = &mut f;
            params.args = std::mem::take(&mut params.args)
                .into_iter()
                .map(|a| narrow(a, schema))
                .collect();
            Expr::AggregateFunction(f)
        }
        other => other,
    }
}

fn arithmetic(op: Operator) -> bool {
    matches!(
        op,
        Operator::Plus | Operator::Minus | Operator::Multiply | Operator::Divide | Operator::Modulo
    )
}

/// Whether `e` is of an integer type (false where its type cannot be told yet).
fn is_integer(e: &Expr, schema: &DFSchema) -> bool {
    e.get_type(schema).is_ok_and(|t| t.is_integer())
}

/// `values` with each column of bigint literals that all fit an integer made `integer`.
fn narrow_values(mut values: Values) -> Result<Values> {
    let columns = values.schema.fields().len();
    let mut narrow_column = vec![false; columns];
    for (c, narrow) in narrow_column.iter_mut().enumerate() {
        if values.schema.field(c).data_type() != &DataType::Int64 {
            continue;
        }
        *narrow = values.values.iter().all(|row| match row.get(c) {
            Some(Expr::Literal(v, _)) => v.is_null() || narrowed(v).is_some(),
            _ => false,
        });
    }
    if !narrow_column.contains(&true) {
        return Ok(values);
    }
    for row in &mut values.values {
        for (c, e) in row.iter_mut().enumerate() {
            if narrow_column[c]
                && let Expr::Literal(v, _) = e
            {
                *v = narrowed(v).unwrap_or(ScalarValue::Int32(None));
            }
        }
    }
    let fields: Vec<Field> = values
        .schema
        .fields()
        .iter()
        .zip(&narrow_column)
        .map(|(f, &narrow)| {
            let f = f.as_ref().clone();
            if narrow {
                f.with_data_type(DataType::Int32)
            } else {
                f
            }
        })
        .collect();
    let qualifiers = (0..columns)
        .map(|c| values.schema.qualified_field(c).0.cloned())
        .collect();
    let schema = DFSchema::from_field_specific_qualified_schema(
        qualifiers,
        &Arc::new(Schema::new_with_metadata(
            fields,
            values.schema.as_arrow().metadata().clone(),
        )),
    )?;
    values.schema = Arc::new(schema);
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::SessionContext;

    async fn types(sql: &str) -> Vec<DataType> {
        let ctx = SessionContext::new();
        let plan = ctx.state().create_logical_plan(sql).await.unwrap();
        let plan = type_integer_literals(plan).unwrap();
        let df = ctx.execute_logical_plan(plan).await.unwrap();
        let described: Vec<DataType> = df
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        let batches = df.collect().await.unwrap();
        let sent: Vec<DataType> = batches[0]
            .schema()
            .fields()
            .iter()
            .map(|f| f.data_type().clone())
            .collect();
        assert_eq!(described, sent, "{sql}");
        sent
    }

    #[tokio::test]
    async fn literals_that_fit_are_integers() {
        use DataType::*;
        assert_eq!(
            types("SELECT 1, 3000000000, -2147483648, 1 + 1, 2 * 3000000000").await,
            vec![Int32, Int64, Int32, Int32, Int64]
        );
        assert_eq!(
            types("SELECT CASE WHEN true THEN 1 ELSE 0 END, coalesce(NULL, 2), -(7)").await,
            vec![Int32, Int32, Int32]
        );
        assert_eq!(
            types("SELECT x, x + 1 FROM (VALUES (1), (2)) t(x)").await,
            vec![Int32, Int32]
        );
        assert_eq!(
            types("SELECT x FROM (VALUES (1), (3000000000)) t(x)").await,
            vec![Int64]
        );
        assert_eq!(
            types("SELECT y FROM (SELECT 1 AS y UNION ALL SELECT 2) t ORDER BY 1").await,
            vec![Int32]
        );
        assert_eq!(
            types("SELECT 1 AS y UNION ALL SELECT 3000000000 UNION SELECT 2").await,
            vec![Int64]
        );
    }

    #[tokio::test]
    async fn other_literals_keep_their_types() {
        use DataType::*;
        assert_eq!(
            types("SELECT count(1), substr('abc', 1, 2), 1 = 1 FROM (VALUES (1)) t(x) LIMIT 1")
                .await,
            vec![Int64, Utf8, Boolean]
        );
        assert_eq!(
            types("SELECT a, sum(1) FROM (SELECT 1 AS a) t GROUP BY a").await,
            vec![Int32, Int64]
        );
        // A recursive query keeps DataFusion's types.
        assert_eq!(
            types("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 3) SELECT n FROM s").await,
            vec![Int64]
        );
    }
}
