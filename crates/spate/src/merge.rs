//! Upserts into Delta tables: SQL's `MERGE INTO target USING source ON ... WHEN MATCHED
//! ... WHEN NOT MATCHED ...` and [`MergeBuilder`] (`df.merge_into(table)`), both planned
//! as one logical plan: a [`DeltaMerge`] node over the source's plan.
//!
//! DataFusion's SQL planner does not plan MERGE, so spate turns the parsed statement into
//! that plan ([`Session::plan_merge_statement`], `EXPLAIN MERGE` included); from there it
//! is a plan like any other: optimized by DataFusion, planned by its physical planner
//! (with [`spate_delta::DeltaPlanner`]) into `DeltaMergeCommitExec` over the source
//! query, and run by the session's executor. Why the merge itself runs on delta-rs is
//! said in [`spate_delta::DeltaMerge`].

use datafusion::common::format::{ExplainFormat, ExplainStatementOptions};
use datafusion::logical_expr::{ExplainOption, LogicalPlan, LogicalPlanBuilder};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    AssignmentTarget, Merge, MergeAction, MergeClause as SqlMergeClause, MergeClauseKind,
    MergeInsertKind, Statement as SqlStatement, TableFactor,
};

pub use spate_delta::MergeOutcome;
use spate_delta::{DeltaLocation, DeltaMerge, DeltaTableProvider, MergeClause, MergeSpec};

use crate::ExecutionMetrics;
use crate::dataframe::DataFrame;
use crate::error::{Result, SpateError};
use crate::session::Session;

/// Builds an upsert of a DataFrame's rows into a Delta table; see
/// [`DataFrame::merge_into`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
/// use spate::{SaveMode, Session};
/// let dir = tempfile::tempdir().unwrap();
/// let table = dir.path().join("stock");
/// let session = Session::new()?;
/// session.sql("select * from (values (1, 5), (2, 7)) t(id, qty)").await?.write().delta(&table).await?;
/// let changes = session.sql("select * from (values (2, 1), (3, 4)) t(id, qty)").await?;
/// let outcome = changes
///     .merge_into(&table)
///     .on("target.id = source.id")
///     .when_matched_update(&[("qty", "target.qty + source.qty")])
///     .when_not_matched_insert_all()
///     .execute()
///     .await?;
/// assert_eq!((outcome.updated, outcome.inserted), (1, 1));
/// assert_eq!(session.read().delta(&table).await?.count().await?, 3);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct MergeBuilder {
    source: DataFrame,
    target: String,
    spec: MergeSpec,
    /// `*_all` clauses, filled in from the source's columns at execution.
    update_all: bool,
    insert_all: bool,
}

impl DataFrame {
    /// Merges this DataFrame's rows into the Delta table at `target` (a path or URL).
    /// In expressions the table's columns are `target.x` and these rows' `source.x`.
    pub fn merge_into(self, target: impl AsRef<std::path::Path>) -> MergeBuilder {
        MergeBuilder {
            source: self,
            target: target.as_ref().to_string_lossy().into_owned(),
            spec: MergeSpec {
                target_alias: "target".into(),
                source_alias: "source".into(),
                on: String::new(),
                clauses: Vec::new(),
            },
            update_all: false,
            insert_all: false,
        }
    }
}

impl MergeBuilder {
    /// The condition that pairs a source row with a target row (`target.id = source.id`).
    pub fn on(mut self, condition: &str) -> Self {
        self.spec.on = condition.to_string();
        self
    }

    /// Names the target's columns are qualified with (default `target`).
    pub fn target_alias(mut self, alias: &str) -> Self {
        self.spec.target_alias = alias.to_string();
        self
    }

    /// Names the source's columns are qualified with (default `source`).
    pub fn source_alias(mut self, alias: &str) -> Self {
        self.spec.source_alias = alias.to_string();
        self
    }

    /// Matched rows get these columns set to these SQL expressions.
    pub fn when_matched_update(mut self, set: &[(&str, &str)]) -> Self {
        self.spec.clauses.push(MergeClause::UpdateMatched {
            predicate: None,
            set: pairs(set),
        });
        self
    }

    /// Matched rows take every column from the source row.
    pub fn when_matched_update_all(mut self) -> Self {
        self.update_all = true;
        self
    }

    /// Matched rows are deleted.
    pub fn when_matched_delete(mut self) -> Self {
        self.spec
            .clauses
            .push(MergeClause::DeleteMatched { predicate: None });
        self
    }

    /// Source rows without a match are inserted with these column values.
    pub fn when_not_matched_insert(mut self, values: &[(&str, &str)]) -> Self {
        self.spec.clauses.push(MergeClause::InsertNotMatched {
            predicate: None,
            values: pairs(values),
        });
        self
    }

    /// Source rows without a match are inserted as they are.
    pub fn when_not_matched_insert_all(mut self) -> Self {
        self.insert_all = true;
        self
    }

    /// Runs the source query and the merge; returns what changed.
    pub async fn execute(self) -> Result<MergeOutcome> {
        let at = DeltaLocation::parse(&self.target)?;
        let mut spec = self.spec;
        if spec.on.trim().is_empty() {
            return Err(SpateError::InvalidOption {
                option: "on".into(),
                value: String::new(),
                reason: "a merge needs the condition that pairs source and target rows".into(),
            });
        }
        let columns: Vec<String> = self
            .source
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let from_source = |c: &String| (c.clone(), format!("{}.\"{c}\"", spec.source_alias));
        if self.update_all {
            spec.clauses.push(MergeClause::UpdateMatched {
                predicate: None,
                set: columns.iter().map(from_source).collect(),
            });
        }
        if self.insert_all {
            spec.clauses.push(MergeClause::InsertNotMatched {
                predicate: None,
                values: columns.iter().map(from_source).collect(),
            });
        }
        let session = self.source.session().clone();
        session.refuse_on_cluster("MERGE INTO")?;
        let plan = DeltaMerge::plan(self.source.logical_plan().clone(), self.target, at, spec)
            .map_err(|e| session.error(e))?;
        Ok(session.run_merge(plan).await?.0)
    }
}

fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
    items
        .iter()
        .map(|(c, e)| (c.to_string(), e.to_string()))
        .collect()
}

impl Session {
    /// The plan of a parsed `MERGE INTO` (or of its `EXPLAIN`), `None` for other
    /// statements: DataFusion's SQL planner does not plan MERGE.
    pub(crate) async fn plan_merge_statement(
        &self,
        parsed: &DfStatement,
    ) -> Result<Option<LogicalPlan>> {
        let merge_of = |statement: &DfStatement| match statement {
            DfStatement::Statement(s) => match s.as_ref() {
                SqlStatement::Merge(merge) => Some(merge.clone()),
                _ => None,
            },
            _ => None,
        };
        match parsed {
            DfStatement::Explain(explain) => match merge_of(&explain.statement) {
                Some(merge) => {
                    let plan = self.plan_merge(&merge).await?;
                    let option = explain_option(&explain.options, self);
                    let explained = LogicalPlanBuilder::from(plan)
                        .explain_option_format(option)
                        .and_then(LogicalPlanBuilder::build)
                        .map_err(|e| self.error(e))?;
                    Ok(Some(explained))
                }
                None => Ok(None),
            },
            other => match merge_of(other) {
                Some(merge) => Ok(Some(self.plan_merge(&merge).await?)),
                None => Ok(None),
            },
        }
    }

    /// Plans SQL's `MERGE INTO`: the target must be a Delta table of the session
    /// (`CREATE EXTERNAL TABLE ... STORED AS DELTA`); the source a table or a subquery.
    async fn plan_merge(&self, merge: &Merge) -> Result<LogicalPlan> {
        self.refuse_on_cluster("MERGE INTO")?;
        let (target_name, target_alias) = match &merge.table {
            TableFactor::Table { name, alias, .. } => (
                name.to_string(),
                alias.as_ref().map(|a| a.name.value.clone()),
            ),
            other => return Err(unsupported(format!("MERGE INTO {other}"))),
        };
        let provider = self
            .context()
            .table_provider(target_name.as_str())
            .await
            .map_err(|e| self.error(e))?;
        let delta = provider
            .downcast_ref::<DeltaTableProvider>()
            .ok_or_else(|| SpateError::InvalidOption {
                option: "MERGE INTO".into(),
                value: target_name.clone(),
                reason: "MERGE needs a Delta table (CREATE EXTERNAL TABLE ... STORED AS DELTA)"
                    .into(),
            })?;
        let (source, source_alias) = self.merge_source(&merge.source).await?;
        let columns: Vec<String> = provider
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let clauses = merge
            .clauses
            .iter()
            .map(|clause| translate_clause(clause, &columns))
            .collect::<Result<Vec<_>>>()?;
        let spec = MergeSpec {
            target_alias: target_alias.unwrap_or_else(|| last_part(&target_name)),
            source_alias,
            on: merge.on.to_string(),
            clauses,
        };
        DeltaMerge::plan(source, target_name, delta.location().clone(), spec)
            .map_err(|e| self.error(e))
    }

    /// A MERGE's source, planned from its AST (a table, or a subquery), and its alias.
    async fn merge_source(&self, source: &TableFactor) -> Result<(LogicalPlan, String)> {
        match source {
            TableFactor::Table { name, alias, .. } => {
                let table = self
                    .context()
                    .table(name.to_string().as_str())
                    .await
                    .map_err(|e| self.error(e))?;
                let alias = alias
                    .as_ref()
                    .map_or_else(|| last_part(&name.to_string()), |a| a.name.value.clone());
                Ok((table.logical_plan().clone(), alias))
            }
            TableFactor::Derived {
                subquery, alias, ..
            } => {
                let query = DfStatement::Statement(Box::new(SqlStatement::Query(subquery.clone())));
                let plan = self
                    .context()
                    .state()
                    .statement_to_plan(query)
                    .await
                    .map_err(|e| self.error(e))?;
                let alias = alias
                    .as_ref()
                    .map_or_else(|| "source".to_string(), |a| a.name.value.clone());
                Ok((plan, alias))
            }
            other => Err(unsupported(format!("MERGE ... USING {other}"))),
        }
    }

    /// Runs a merge's plan ([`DeltaMerge`] at its root); returns what it did.
    pub(crate) async fn run_merge(
        &self,
        plan: LogicalPlan,
    ) -> Result<(MergeOutcome, ExecutionMetrics)> {
        let physical = self.physical_plan(&plan).await?;
        let (batches, metrics) = crate::execute::collect_with_metrics(self, physical).await?;
        let outcome = MergeOutcome::from_batches(&batches).ok_or_else(|| {
            SpateError::DataFusion(datafusion::error::DataFusionError::Internal(
                "a merge returned no outcome".into(),
            ))
        })?;
        Ok((outcome, metrics))
    }
}

/// EXPLAIN's options as DataFusion's SQL planner reads them: `VERBOSE` and `ANALYZE`
/// print indented plans, else the statement's `FORMAT` or the session's.
fn explain_option(options: &ExplainStatementOptions, session: &Session) -> ExplainOption {
    let format = match &options.format {
        _ if options.verbose => ExplainFormat::Indent,
        Some(format) => format.clone(),
        None if options.analyze => ExplainFormat::Indent,
        None => session
            .context()
            .state()
            .config_options()
            .explain
            .format
            .clone(),
    };
    ExplainOption::default()
        .with_verbose(options.verbose)
        .with_analyze(options.analyze)
        .with_format(format)
        .with_show_statistics(options.show_statistics)
        .with_analyze_level(options.analyze_level)
        .with_analyze_categories(options.analyze_categories.clone())
}

/// One `WHEN ... THEN ...` of a MERGE as delta-rs takes it; `columns` are the target's
/// (an `INSERT` without a column list fills them all).
fn translate_clause(clause: &SqlMergeClause, columns: &[String]) -> Result<MergeClause> {
    let predicate = clause.predicate.as_ref().map(ToString::to_string);
    match (&clause.clause_kind, &clause.action) {
        (MergeClauseKind::Matched, MergeAction::Update(update)) => {
            let mut set = Vec::new();
            for assignment in &update.assignments {
                let AssignmentTarget::ColumnName(column) = &assignment.target else {
                    return Err(unsupported(format!("UPDATE SET {assignment}")));
                };
                set.push((last_part(&column.to_string()), assignment.value.to_string()));
            }
            Ok(MergeClause::UpdateMatched { predicate, set })
        }
        (MergeClauseKind::Matched, MergeAction::Delete { .. }) => {
            Ok(MergeClause::DeleteMatched { predicate })
        }
        (
            MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget,
            MergeAction::Insert(insert),
        ) => {
            let MergeInsertKind::Values(values) = &insert.kind else {
                return Err(unsupported("INSERT ROW in MERGE".into()));
            };
            let [row] = values.rows.as_slice() else {
                return Err(unsupported("MERGE INSERT with several rows".into()));
            };
            let columns: Vec<String> = if insert.columns.is_empty() {
                columns.to_vec()
            } else {
                insert
                    .columns
                    .iter()
                    .map(|c| last_part(&c.to_string()))
                    .collect()
            };
            if columns.len() != row.len() {
                return Err(unsupported(format!(
                    "MERGE INSERT of {} values into {} columns",
                    row.len(),
                    columns.len()
                )));
            }
            let values = columns
                .into_iter()
                .zip(row.iter().map(ToString::to_string))
                .collect();
            Ok(MergeClause::InsertNotMatched { predicate, values })
        }
        (kind, action) => Err(unsupported(format!("WHEN {kind} THEN {action}"))),
    }
}

/// `b` of `a.b`, unquoted.
fn last_part(name: &str) -> String {
    name.rsplit('.')
        .next()
        .unwrap_or(name)
        .trim_matches('"')
        .to_string()
}

fn unsupported(what: String) -> SpateError {
    SpateError::DataFusion(datafusion::error::DataFusionError::NotImplemented(what))
}
