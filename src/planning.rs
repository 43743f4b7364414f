//! Physical planning clvsql adds to DataFusion's.
//!
//! Scoring joins every customer to a one-row table of fitted models
//! (`FROM customers CROSS JOIN models`). DataFusion's `CrossJoinExec` keeps
//! its left input in memory and emits one batch per left row and right
//! batch; `JoinSelection` puts the smaller input on the left only when it
//! knows both sizes. With `collect_statistics` off (see
//! [`crate::session_config`]) a summary's size is unknown, the customers
//! stay on the left and a 5M-customer scoring ran as 5M one-row batches
//! (44 s and 9 GB where one-row models on the left take seconds).

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::CrossJoinExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

/// Puts a cross join's right input on the build (left) side when it is
/// known to fit in one batch and the left input's size is unknown.
#[derive(Debug, Default)]
pub struct SmallCrossJoinBuild;

impl SmallCrossJoinBuild {
    /// DataFusion's rules with this one right after `join_selection`, before
    /// repartitioning operators are inserted (as
    /// [`CrossJoinExec::swap_inputs`] requires).
    pub fn with_default_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
        let mut rules = PhysicalOptimizer::new().rules;
        let at = rules
            .iter()
            .position(|rule| rule.name() == "join_selection")
            .map_or(0, |i| i + 1);
        rules.insert(at, Arc::new(Self));
        rules
    }
}

impl PhysicalOptimizerRule for SmallCrossJoinBuild {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !config.optimizer.join_reordering {
            return Ok(plan);
        }
        // A context per question: its cache is keyed by node addresses,
        // which the rewrite below frees and reuses.
        let rows = |plan: &Arc<dyn ExecutionPlan>| -> Result<Option<usize>> {
            let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
            Ok(stats.num_rows.get_value().copied())
        };
        plan.transform_up(|plan| {
            let Some(join) = plan.downcast_ref::<CrossJoinExec>() else {
                return Ok(Transformed::no(plan));
            };
            let small_right =
                rows(join.right())?.is_some_and(|n| n <= usize::from(config.execution.batch_size));
            if small_right && rows(join.left())?.is_none() {
                Ok(Transformed::yes(join.swap_inputs()?))
            } else {
                Ok(Transformed::no(plan))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "small_cross_join_build"
    }

    fn schema_check(&self) -> bool {
        true
    }
}
