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
//!
//! Segmenting scores every customer against the whole population,
//! `rfm_score(...) OVER ()` over that same join. DataFusion's
//! `WindowAggExec` keeps its whole input until the last row, so each
//! customer's row was kept with a copy of the fitted model structs (their
//! parameters, standard errors and covariances). [`WindowBelowOneRowJoin`]
//! computes the window on the customers alone and joins the one-row side
//! after it (with the window's output in batches, src/reserve.rs, the
//! 5M-customer pipeline's peak went from 4.1 GB to 1.4 GB).
//!
//! Summarising raw transactions per customer (`rfm_summary`, `rfm_holdout`
//! grouped by customer) gains nothing from DataFusion's two-step
//! aggregation: a log in time order brings every customer to every
//! partition, the first step cannot reduce, and it turns each transaction
//! into a state three times its width (the customer's dates, exact sums
//! and list of periods) that is then shuffled and merged.
//! [`SummariesInOneStep`] shuffles the transactions themselves and
//! summarises each customer once.

use std::sync::Arc;

use datafusion::common::ScalarValue;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::config::ConfigOptions;
use datafusion::error::Result;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::{Column, Literal};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::joins::CrossJoinExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};
use datafusion::physical_plan::windows::WindowAggExec;
use datafusion::physical_plan::{Distribution, ExecutionPlan, InputOrderMode, Partitioning};

/// Puts a cross join's right input on the build (left) side when it is
/// known to fit in one batch and the left input's size is unknown.
#[derive(Debug, Default)]
pub struct SmallCrossJoinBuild;

impl SmallCrossJoinBuild {
    /// DataFusion's rules with this one and then [`WindowBelowOneRowJoin`]
    /// right after `join_selection`, before repartitioning and sorting
    /// operators are inserted (as [`CrossJoinExec::swap_inputs`] requires,
    /// and so that a window's input is still the join itself);
    /// [`SummariesInOneStep`] after the distribution requirements are met,
    /// fanning summaries out where `fan_out`.
    pub fn with_default_rules(fan_out: bool) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
        let mut rules = PhysicalOptimizer::new().rules;
        let at = rules
            .iter()
            .position(|rule| rule.name() == "join_selection")
            .map_or(0, |i| i + 1);
        rules.insert(at, Arc::new(Self));
        rules.insert(at + 1, Arc::new(WindowBelowOneRowJoin));
        let at = rules
            .iter()
            .position(|rule| rule.name() == "EnsureRequirements")
            .map_or(rules.len(), |i| i + 1);
        rules.insert(at, Arc::new(SummariesInOneStep { fan_out }));
        rules
    }
}

/// The number of rows `plan` produces, when known.
fn known_rows(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<usize>> {
    // A context per question: its cache is keyed by node addresses, which
    // rewrites free and reuse.
    let stats = StatisticsContext::new().compute(plan.as_ref(), &StatisticsArgs::new())?;
    Ok(stats.num_rows.get_value().copied())
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
        plan.transform_up(|plan| {
            let Some(join) = plan.downcast_ref::<CrossJoinExec>() else {
                return Ok(Transformed::no(plan));
            };
            let small_right = known_rows(join.right())?
                .is_some_and(|n| n <= usize::from(config.execution.batch_size));
            if small_right && known_rows(join.left())?.is_none() {
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

/// `window(A CROSS JOIN B)`, where B has at most one row and the window
/// reads only A's columns, becomes `B CROSS JOIN window(A)`: the same rows
/// (every window partition of A × one row is that partition of A with the
/// row appended), with only A's columns in the window's buffer.
#[derive(Debug, Default)]
pub struct WindowBelowOneRowJoin;

impl PhysicalOptimizerRule for WindowBelowOneRowJoin {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|plan| match window_below_join(&plan)? {
            Some(moved) => Ok(Transformed::yes(moved)),
            None => Ok(Transformed::no(plan)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "window_below_one_row_join"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// [`WindowBelowOneRowJoin`]'s rewrite of `plan`, if it applies.
fn window_below_join(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(window) = plan.downcast_ref::<WindowAggExec>() else {
        return Ok(None);
    };
    // The window's input: the join, or projections of it (as `swap_inputs`
    // and common subexpressions leave), as an expression over the join's
    // columns for each input column.
    let input = window.input();
    let schema = input.schema();
    let columns = schema.fields().iter().enumerate();
    let mut sources: Vec<Arc<dyn PhysicalExpr>> = columns
        .map(|(i, f)| Arc::new(Column::new(f.name(), i)) as _)
        .collect();
    let mut node = input;
    let join = loop {
        if let Some(join) = node.downcast_ref::<CrossJoinExec>() {
            break join;
        }
        let Some(projection) = node.downcast_ref::<ProjectionExec>() else {
            return Ok(None);
        };
        let exprs = projection.expr();
        sources = sources
            .into_iter()
            .map(|source| {
                source
                    .transform(|e| match e.downcast_ref::<Column>() {
                        Some(column) => {
                            Ok(Transformed::yes(Arc::clone(&exprs[column.index()].expr)))
                        }
                        None => Ok(Transformed::no(e)),
                    })
                    .data()
            })
            .collect::<Result<_>>()?;
        node = projection.input();
    };
    let left_width = join.left().schema().fields().len();
    let at_most_one_row = |side: &Arc<dyn ExecutionPlan>| -> Result<bool> {
        Ok(known_rows(side)?.is_some_and(|n| n <= 1))
    };
    // The one-row side, where its columns and the other side's start in the
    // join, and which join columns are the other side's.
    let (one_row, other, one_row_from, other_from) = if at_most_one_row(join.left())? {
        (join.left(), join.right(), 0, left_width)
    } else if at_most_one_row(join.right())? {
        (join.right(), join.left(), left_width, 0)
    } else {
        return Ok(None);
    };
    let is_other = |join_column: usize| (join_column < left_width) == (other_from == 0);
    // Each input column's side: the other side's (true) when it reads no
    // column of the one-row side, the one-row side's when it reads only
    // those; one reading both stops the rewrite.
    let mut of_other = Vec::with_capacity(sources.len());
    for source in &sources {
        let (mut reads_other, mut reads_one_row) = (false, false);
        source.apply(|node| {
            if let Some(column) = node.downcast_ref::<Column>() {
                reads_other |= is_other(column.index());
                reads_one_row |= !is_other(column.index());
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        if reads_other && reads_one_row {
            return Ok(None);
        }
        of_other.push(!reads_one_row);
    }
    let mut reads_only_other = true;
    for expr in window.window_expr() {
        let all = expr.all_expressions();
        for e in all
            .args
            .iter()
            .chain(&all.partition_by_exprs)
            .chain(&all.order_by_exprs)
        {
            e.apply(|node| {
                if let Some(column) = node.downcast_ref::<Column>() {
                    reads_only_other &= of_other.get(column.index()).copied().unwrap_or(false);
                }
                Ok(TreeNodeRecursion::Continue)
            })?;
        }
    }
    if !reads_only_other {
        return Ok(None);
    }
    // The window's input on the other side alone: its columns where they
    // were, untyped NULLs (no memory) in place of the one-row side's, so
    // the window expressions' column numbers stay right.
    let input_schema = input.schema();
    let mut narrowed: Vec<(Arc<dyn PhysicalExpr>, String)> = vec![];
    for ((source, field), &other_side) in sources.iter().zip(input_schema.fields()).zip(&of_other) {
        let expr = if other_side {
            shift_columns(source, other_from)?
        } else {
            Arc::new(Literal::new(ScalarValue::Null))
        };
        narrowed.push((expr, field.name().clone()));
    }
    let narrowed = Arc::new(ProjectionExec::try_new(narrowed, Arc::clone(other))?);
    let windowed = Arc::clone(plan).replace_children(
        vec![narrowed],
        ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
    )?;
    let one_row_width = one_row.schema().fields().len();
    let joined = Arc::new(CrossJoinExec::new(Arc::clone(one_row), windowed));
    // The window's columns in its own order: the one-row side's computed on
    // the join's left, the rest taken from the window after it.
    let mut output: Vec<(Arc<dyn PhysicalExpr>, String)> = vec![];
    for (i, field) in plan.schema().fields().iter().enumerate() {
        let expr = match sources.get(i) {
            Some(source) if !of_other[i] => shift_columns(source, one_row_from)?,
            _ => Arc::new(Column::new(field.name(), one_row_width + i)),
        };
        output.push((expr, field.name().clone()));
    }
    Ok(Some(Arc::new(ProjectionExec::try_new(output, joined)?)))
}

/// `expr` with each column's number lowered by `by`.
fn shift_columns(expr: &Arc<dyn PhysicalExpr>, by: usize) -> Result<Arc<dyn PhysicalExpr>> {
    Arc::clone(expr)
        .transform(|node| match node.downcast_ref::<Column>() {
            Some(column) => Ok(Transformed::yes(Arc::new(Column::new(
                column.name(),
                column.index() - by,
            )) as _)),
            None => Ok(Transformed::no(node)),
        })
        .data()
}

/// clvsql's aggregates that summarise each customer's raw transactions.
const PER_CUSTOMER_SUMMARIES: [&str; 2] = ["rfm_summary", "rfm_holdout"];

/// The least number of partitions a summary is aggregated in, where nothing
/// above it relies on how its output is partitioned. Each row of a log in
/// time order lands on another customer; in more, smaller partitions the
/// customers a batch touches stay in cache. 5M customers' time-ordered
/// summary: 3.3 s in 2 partitions (this machine's cores), 2.3 s in 16.
const SUMMARY_PARTITIONS: usize = 16;

/// [`in_one_step`] applied to `plan` and all below it. `relied_on`: whether
/// an operator above relies on how `plan`'s output is partitioned (a
/// partitioned join or aggregation on the same keys, through operators that
/// keep the partitioning); where nothing does, a summary is aggregated in
/// `fan_out` partitions rather than as many as planned.
fn in_one_step_below(
    plan: Arc<dyn ExecutionPlan>,
    relied_on: bool,
    fan_out: usize,
) -> Result<Arc<dyn ExecutionPlan>> {
    let plan = in_one_step(&plan, (!relied_on).then_some(fan_out))?.unwrap_or(plan);
    let repartitions = plan.downcast_ref::<RepartitionExec>().is_some()
        || plan.downcast_ref::<CoalescePartitionsExec>().is_some()
        || plan.downcast_ref::<SortPreservingMergeExec>().is_some();
    let requirements = plan.input_distribution_requirements().into_per_child();
    let children = plan.children();
    let mut changed = false;
    let mut below = Vec::with_capacity(children.len());
    for (child, requirement) in children.into_iter().zip(requirements) {
        let relied = (relied_on && !repartitions)
            || !matches!(
                requirement,
                Distribution::UnspecifiedDistribution | Distribution::SinglePartition
            );
        let rewritten = in_one_step_below(Arc::clone(child), relied, fan_out)?;
        changed |= !Arc::ptr_eq(&rewritten, child);
        below.push(rewritten);
    }
    if changed {
        plan.replace_children(
            below,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    } else {
        Ok(plan)
    }
}

/// A grouped aggregation that computes a per-customer summary, planned as
/// a partial step, a shuffle of its states and a final step, becomes one
/// step after a shuffle of its input rows. Applied after the distribution
/// requirements are met, where the steps and the shuffle are in place.
#[derive(Debug, Default)]
pub struct SummariesInOneStep {
    /// Whether a summary whose partitioning nothing relies on is aggregated
    /// in [`SUMMARY_PARTITIONS`]. Not under a memory limit: each partition's
    /// shuffle buffers and hash table are a fixed cost the limit must also
    /// hold (at `-m 8M`, sixteen partitions' buffers left a 200k-customer
    /// summary no room to start, where two spill and finish).
    pub fan_out: bool,
}

impl PhysicalOptimizerRule for SummariesInOneStep {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let planned = config.execution.target_partitions;
        let fan_out = if self.fan_out {
            planned.max(SUMMARY_PARTITIONS)
        } else {
            planned
        };
        in_one_step_below(plan, false, fan_out)
    }

    fn name(&self) -> &str {
        "summaries_in_one_step"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `FinalPartitioned(Repartition(hash, Partial(input)))` computing a
/// per-customer summary, as `SinglePartitioned(Repartition(hash, input))`:
/// the same groups, each aggregated whole in the partition its key hashes
/// to, in `fan_out` partitions when given and more than planned. Left
/// alone: grouping sets, and inputs whose order the aggregation uses (a
/// shuffle would lose it).
fn in_one_step(
    plan: &Arc<dyn ExecutionPlan>,
    fan_out: Option<usize>,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(last) = plan.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let Some(shuffle) = last.input().downcast_ref::<RepartitionExec>() else {
        return Ok(None);
    };
    let Some(first) = shuffle.input().downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let Partitioning::Hash(_, partitions) = shuffle.partitioning() else {
        return Ok(None);
    };
    let summarises = first
        .aggr_expr()
        .iter()
        .any(|aggregate| PER_CUSTOMER_SUMMARIES.contains(&aggregate.fun().name()));
    if *last.mode() != AggregateMode::FinalPartitioned
        || *first.mode() != AggregateMode::Partial
        || *first.input_order_mode() != InputOrderMode::Linear
        || shuffle.preserve_order()
        || !first.group_expr().is_single()
        || !summarises
    {
        return Ok(None);
    }
    let keys = first.group_expr().input_exprs();
    let partitions = fan_out.map_or(*partitions, |n| n.max(*partitions));
    let rows = RepartitionExec::try_new(
        Arc::clone(first.input()),
        Partitioning::Hash(keys, partitions),
    )?;
    let single = AggregateExec::try_new(
        AggregateMode::SinglePartitioned,
        first.group_expr().clone(),
        first.aggr_expr().to_vec(),
        first.filter_expr().to_vec(),
        Arc::new(rows),
        first.input_schema(),
    )?
    .with_limit_options(last.limit_options());
    Ok(Some(Arc::new(single)))
}
