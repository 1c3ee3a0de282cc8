//! Rewriting every expression of a logical plan, for recsql's analyzer rules (`pg_casts`,
//! `checked_arithmetic`, `numeric_division`): bottom up, subqueries included, each expression
//! typed against its node's inputs, and the node's output names kept as they were. Where a
//! rewrite changes a type (a quotient's scale), the schemas of the nodes above follow.

use std::cell::Cell;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, LogicalPlan};

/// `plan` with `rewrite` applied to every expression (and sub-expression) of every node.
pub fn rewrite_expressions(
    plan: LogicalPlan,
    rewrite: impl Fn(Expr, &DFSchema) -> Result<Transformed<Expr>>,
) -> Result<LogicalPlan> {
    // Set at the first rewrite: from there on, nodes recompute their schemas, as their
    // inputs' may have changed.
    let changed = Cell::new(false);
    plan.transform_up_with_subqueries(|plan| {
        let schema = merge_schema(&plan.inputs());
        let names = NamePreserver::new(&plan);
        let plan = plan.map_expressions(|expr| {
            let name = names.save(&expr);
            expr.transform_up(|e| rewrite(e, &schema))
                .map(|t| t.update_data(|e| name.restore(e)))
        })?;
        changed.set(changed.get() || plan.transformed);
        if changed.get() {
            plan.map_data(LogicalPlan::recompute_schema)
        } else {
            Ok(plan)
        }
    })
    .map(|t| t.data)
}
