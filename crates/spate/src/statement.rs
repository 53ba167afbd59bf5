//! Scripts and statements: parse everything first, then run statement by statement.
//!
//! A script is split ([`crate::script`]), its parameters filled in and every statement
//! parsed before the first one runs, so a typo on line 80 stops the script before line 1
//! has written anything. Each statement then runs on its own and reports what it did: the
//! rows of a query, the rows an `INSERT`/`COPY` wrote, the table a `CREATE` made.

use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, StringArray, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use regex::Regex;

use spate_connectors::object_stores::StoreIo;
use spate_executor::Executor;

use crate::ExecutionMetrics;
use crate::config::ExecutorKind;
use crate::error::{Result, SpateError};
use crate::script::{ScriptStatement, split_statements, substitute};
use crate::session::Session;

/// A parsed script, ready to run.
#[derive(Debug, Clone)]
pub struct Script {
    /// Where the script came from (a file name, or `<sql>`), for messages.
    pub origin: String,
    /// Its statements in order.
    pub statements: Vec<PreparedStatement>,
}

/// One parsed statement of a script.
#[derive(Debug, Clone)]
pub struct PreparedStatement {
    /// Where the script came from, for messages.
    pub origin: String,
    /// The line it starts on.
    pub line: usize,
    /// Its SQL, parameters filled in.
    pub sql: String,
    parsed: DfStatement,
}

impl PreparedStatement {
    /// Whether the statement writes data (`INSERT`, `COPY`).
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// let script = session.prepare_script("x.sql", "COPY (SELECT 1) TO 'x.csv'; SELECT 1").unwrap();
    /// assert!(script.statements[0].writes() && !script.statements[1].writes());
    /// ```
    pub fn writes(&self) -> bool {
        match &self.parsed {
            DfStatement::CopyTo(_) => true,
            DfStatement::Statement(stmt) => {
                matches!(
                    stmt.as_ref(),
                    SqlStatement::Insert(_) | SqlStatement::Merge(_)
                )
            }
            _ => false,
        }
    }

    /// The statement's `EXPLAIN`: the same parsed statement, explained (not run).
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// let script = session.prepare_script("x.sql", "SELECT 1").unwrap();
    /// let explained = script.statements[0].explained();
    /// assert!(explained.returns_rows() && explained.sql.starts_with("EXPLAIN "));
    /// ```
    pub fn explained(&self) -> PreparedStatement {
        let parsed = match &self.parsed {
            already @ DfStatement::Explain(_) => already.clone(),
            other => DfStatement::Explain(datafusion::sql::parser::ExplainStatement {
                options: Default::default(),
                statement: Box::new(other.clone()),
            }),
        };
        PreparedStatement {
            origin: self.origin.clone(),
            line: self.line,
            sql: format!("EXPLAIN {}", self.sql),
            parsed,
        }
    }

    /// Whether the statement returns rows to show (SELECT, VALUES, EXPLAIN, SHOW, DESCRIBE).
    ///
    /// ```
    /// let session = spate::Session::new().unwrap();
    /// let script = session.prepare_script("x.sql", "create view v as select 1; select * from v").unwrap();
    /// assert!(!script.statements[0].returns_rows() && script.statements[1].returns_rows());
    /// ```
    pub fn returns_rows(&self) -> bool {
        match &self.parsed {
            DfStatement::Statement(stmt) => matches!(
                stmt.as_ref(),
                SqlStatement::Query(_)
                    | SqlStatement::Explain { .. }
                    | SqlStatement::ExplainTable { .. }
                    | SqlStatement::ShowTables { .. }
                    | SqlStatement::ShowColumns { .. }
                    | SqlStatement::ShowVariable { .. }
            ),
            DfStatement::Explain(_) => true,
            _ => false,
        }
    }
}

/// What kind of statement ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    /// A query, EXPLAIN or SHOW: rows to show.
    Query,
    /// `CREATE [EXTERNAL] TABLE`, `CREATE TABLE AS`.
    CreateTable,
    /// `CREATE VIEW`.
    CreateView,
    /// `DROP TABLE`, `DROP VIEW` and other removals.
    Drop,
    /// `INSERT INTO`.
    Insert,
    /// `COPY ... TO`.
    Copy,
    /// `MERGE INTO` a Delta table.
    Merge,
    /// `SET` and other session statements.
    Set,
    /// Any other DDL.
    Other,
}

/// What a statement did.
#[derive(Debug, Clone)]
pub struct StatementResult {
    /// Where the statement came from.
    pub origin: String,
    /// The line it starts on.
    pub line: usize,
    /// What kind of statement it was.
    pub kind: StatementKind,
    /// The schema of its rows (empty for statements that return none).
    pub schema: SchemaRef,
    /// The rows of a query; empty otherwise.
    pub batches: Vec<RecordBatch>,
    /// Rows written by `INSERT`, `COPY` or `CREATE TABLE AS`.
    pub rows_written: Option<u64>,
    /// A one-line summary for statements that return no rows ("created table t").
    pub message: String,
    /// How long it ran.
    pub elapsed: Duration,
    /// What executing it took (time, memory, spills, stages); empty for DDL.
    pub metrics: ExecutionMetrics,
}

impl StatementResult {
    /// The number of rows of a query's result.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let results = session.run_script("select * from (values (1), (2)) t(x)").await?;
    /// assert_eq!(results[0].row_count(), 2);
    /// # Ok(()) }
    /// ```
    pub fn row_count(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }
}

impl Session {
    /// Splits, fills in and parses every statement of `text`. `origin` names the script in
    /// messages (`daily.sql:12: ...`). Nothing runs yet.
    ///
    /// ```
    /// let session = spate::Session::builder().param("n", "3").build().unwrap();
    /// let script = session.prepare_script("job.sql", "select ${n};\nselect ${n} + 1").unwrap();
    /// assert_eq!(script.statements.len(), 2);
    /// assert_eq!(script.statements[1].sql, "select 3 + 1");
    /// let err = session.prepare_script("job.sql", "select 1;\nselec 2").unwrap_err();
    /// assert!(err.to_string().starts_with("job.sql:2: "), "{err}");
    /// ```
    pub fn prepare_script(&self, origin: &str, text: &str) -> Result<Script> {
        let statements = split_statements(text)
            .iter()
            .map(|stmt| self.prepare_statement(origin, stmt))
            .collect::<Result<Vec<_>>>()?;
        Ok(Script {
            origin: origin.to_string(),
            statements,
        })
    }

    pub(crate) fn prepare_statement(
        &self,
        origin: &str,
        stmt: &ScriptStatement,
    ) -> Result<PreparedStatement> {
        let at = |e: SpateError| e.at_statement(origin, stmt.line);
        let sql = substitute(&stmt.text, &self.inner.params, stmt.line).map_err(|e| match e {
            // The parameter error carries its own line; keep it, name the file.
            SpateError::UnknownParameter { line, .. } => SpateError::Statement {
                origin: origin.to_string(),
                line,
                source: Box::new(e),
            },
            other => at(other),
        })?;
        let state = self.inner.ctx.state();
        let dialect = crate::dialect::parser_dialect(state.config().options());
        let text = crate::dialect::parse_text(&sql, state.config().options());
        let parsed = state
            .sql_to_statement(&text, &dialect)
            .map_err(|e| at(syntax_error(e, stmt.line)))?;
        let mut parsed = crate::dialect::adapt(parsed, state.config().options()).map_err(at)?;
        force_sink_format(&mut parsed);
        Ok(PreparedStatement {
            origin: origin.to_string(),
            line: stmt.line,
            sql,
            parsed,
        })
    }

    /// Runs every statement of `text` in order and returns what each did. Stops at the
    /// first failure, whose error names the statement's line.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// let session = spate::Session::builder().param("min", "2").build()?;
    /// let results = session
    ///     .run_script("create view v as select * from (values (1), (2), (3)) t(x);\n\
    ///                  select count(*) as n from v where x >= ${min};")
    ///     .await?;
    /// assert_eq!(results[0].message, "created view v");
    /// assert_eq!(results[1].row_count(), 1);
    /// # Ok(()) }
    /// ```
    pub async fn run_script(&self, text: &str) -> Result<Vec<StatementResult>> {
        let script = self.prepare_script("<sql>", text)?;
        let mut results = Vec::with_capacity(script.statements.len());
        for statement in &script.statements {
            results.push(self.execute_statement(statement).await?);
        }
        Ok(results)
    }

    /// Runs one prepared statement.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> spate::Result<()> {
    /// # let session = spate::Session::new()?;
    /// # let df = session.sql("select * from (values (1, 'a', 2.0), (2, 'b', 3.0)) t(id, name, price)").await?;
    /// let script = session.prepare_script("job.sql", "select 1 as one; select 2 as two")?;
    /// let second = session.execute_statement(&script.statements[1]).await?;
    /// assert_eq!((second.line, second.row_count()), (1, 1));
    /// # Ok(()) }
    /// ```
    pub async fn execute_statement(&self, stmt: &PreparedStatement) -> Result<StatementResult> {
        let started = Instant::now();
        self.progress().forget_failure();
        let io_before = self.store_io();
        let bigquery_before = self.bigquery_io();
        let mut outcome = self.run_parsed(stmt).await.map_err(|e| {
            self.with_refused_write(e, &io_before)
                .at_statement(&stmt.origin, stmt.line)
        })?;
        outcome.metrics.store_io = self
            .store_io()
            .into_iter()
            .map(
                |after| match io_before.iter().find(|b| b.store == after.store) {
                    Some(before) => after.since(before),
                    None => after,
                },
            )
            .filter(|io| !io.is_empty())
            .collect();
        outcome.metrics.bigquery_io =
            crate::bigquery::io_since(&bigquery_before, self.bigquery_io());
        Ok(StatementResult {
            origin: stmt.origin.clone(),
            line: stmt.line,
            kind: outcome.kind,
            schema: outcome.schema,
            batches: outcome.batches,
            rows_written: outcome.rows_written,
            message: outcome.message,
            elapsed: started.elapsed(),
            metrics: outcome.metrics,
        })
    }

    /// The logical plan of a statement: DataFusion's SQL planner's, or for `MERGE INTO`
    /// (which it does not plan) spate's ([`Session::plan_merge_statement`]).
    pub(crate) async fn plan_statement(&self, stmt: &PreparedStatement) -> Result<LogicalPlan> {
        if let Some(plan) = self.plan_merge_statement(&stmt.parsed).await? {
            return Ok(plan);
        }
        let state = self.inner.ctx.state();
        let plan = state
            .statement_to_plan(stmt.parsed.clone())
            .await
            .map_err(|e| self.error(e))?;
        crate::spark_settings::follow_ansi(&self.inner.ctx, &plan);
        Ok(plan)
    }

    async fn run_parsed(&self, stmt: &PreparedStatement) -> Result<Outcome> {
        let plan = self.plan_statement(stmt).await?;
        if let Some(merge) = spate_delta::DeltaMerge::of(&plan) {
            let target = merge.table().to_string();
            return self.run_merging(plan, &target).await;
        }
        match &plan {
            LogicalPlan::Ddl(ddl) => {
                let (kind, message) = describe_ddl(ddl);
                self.run_effect(plan).await?;
                Ok(Outcome::done(kind, message))
            }
            LogicalPlan::Statement(_) => {
                self.run_effect(plan).await?;
                Ok(Outcome::done(StatementKind::Set, "ok".into()))
            }
            LogicalPlan::Dml(dml) => {
                let target = format!("into {}", dml.table_name);
                self.run_writing(plan, StatementKind::Insert, "inserted", &target)
                    .await
            }
            LogicalPlan::Copy(copy) => {
                let target = match crate::sink::of_copy(copy) {
                    Some(sink) => {
                        if !sink.runs_on_cluster() {
                            self.refuse_on_cluster(&format!(
                                "COPY ... STORED AS {}",
                                sink.name().to_uppercase()
                            ))?;
                        }
                        format!("to {} {}", sink.noun(), copy.output_url)
                    }
                    None => format!("to {}", copy.output_url),
                };
                self.run_writing(plan, StatementKind::Copy, "wrote", &target)
                    .await
            }
            LogicalPlan::Explain(explain) if self.options().executor == ExecutorKind::Spate => {
                let stages = self.stage_graph(&explain.plan).await?;
                let mut outcome = self.run_query(&plan).await?;
                outcome
                    .batches
                    .push(explain_row(&outcome.schema, "spate_stages", &stages)?);
                Ok(outcome)
            }
            _ => self.run_query(&plan).await,
        }
    }

    /// Runs a plan for its effect (DDL, SET): DataFusion's context does it.
    async fn run_effect(&self, plan: LogicalPlan) -> Result<()> {
        self.inner
            .ctx
            .execute_logical_plan(plan)
            .await
            .map_err(|e| self.error(e))?;
        Ok(())
    }

    /// Runs a plan that writes; its summary is "`verb` N rows `target`".
    async fn run_writing(
        &self,
        plan: LogicalPlan,
        kind: StatementKind,
        verb: &str,
        target: &str,
    ) -> Result<Outcome> {
        let (rows, metrics) = self.run_write(plan).await?;
        let mut outcome = Outcome::done(kind, format!("{verb} {rows} rows {target}"));
        outcome.rows_written = Some(rows);
        outcome.metrics = metrics;
        Ok(outcome)
    }

    /// Runs a merge's plan; its summary counts what it did to the target.
    async fn run_merging(&self, plan: LogicalPlan, target: &str) -> Result<Outcome> {
        let (done, metrics) = self.run_merge(plan).await?;
        let mut outcome = Outcome::done(
            StatementKind::Merge,
            format!(
                "merged into {target}: {} rows inserted, {} updated, {} deleted (version {})",
                done.inserted, done.updated, done.deleted, done.version
            ),
        );
        outcome.rows_written = Some((done.inserted + done.updated + done.deleted) as u64);
        outcome.metrics = metrics;
        Ok(outcome)
    }

    async fn run_query(&self, plan: &LogicalPlan) -> Result<Outcome> {
        let physical = self.physical_plan(plan).await?;
        let (batches, metrics) = crate::execute::collect_with_metrics(self, physical).await?;
        Ok(Outcome {
            kind: StatementKind::Query,
            schema: Arc::clone(plan.schema().inner()),
            batches,
            rows_written: None,
            message: String::new(),
            metrics,
        })
    }

    /// The stages spate's executor would run `plan` as, as text.
    pub(crate) async fn stage_graph(&self, plan: &LogicalPlan) -> Result<String> {
        let physical = self.physical_plan(plan).await?;
        let config = self.config().executor_config(self.options().threads);
        Executor::new(config)
            .explain(physical, &self.inner.ctx.task_ctx())
            .map_err(|e| self.error(e))
    }

    pub(crate) async fn physical_plan(
        &self,
        plan: &LogicalPlan,
    ) -> Result<Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
        self.inner
            .ctx
            .state()
            .create_physical_plan(plan)
            .await
            .map_err(|e| self.error(e))
    }

    /// `err`, or, when it is DataFusion's (whose file sinks report that writing failed
    /// but drop the cause) and a store refused a write since `before` (its counters say
    /// so), that store's answer: where, and why.
    pub(crate) fn with_refused_write(&self, err: SpateError, before: &[StoreIo]) -> SpateError {
        if !matches!(err.root(), SpateError::DataFusion(_)) {
            return err;
        }
        let refused = self.store_io().into_iter().find(|after| {
            let earlier = before
                .iter()
                .find(|b| b.store == after.store)
                .map_or(0, |b| b.write_failures);
            after.write_failures > earlier
        });
        match refused.and_then(|io| Some((self.inner.stores.last_write_failure(&io.store)?, io))) {
            Some((cause, io)) => SpateError::StoreWrite {
                store: io.store,
                cause,
            },
            None => err,
        }
    }

    /// Runs a plan that writes (INSERT, COPY) and returns the rows it wrote.
    pub(crate) async fn run_write(&self, plan: LogicalPlan) -> Result<(u64, ExecutionMetrics)> {
        let physical = self.physical_plan(&plan).await?;
        let (batches, metrics) = crate::execute::collect_with_metrics(self, physical).await?;
        Ok((count_column(&batches), metrics))
    }
}

/// What running a statement produced, before it is dated and placed.
struct Outcome {
    kind: StatementKind,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
    rows_written: Option<u64>,
    message: String,
    metrics: ExecutionMetrics,
}

impl Outcome {
    /// A statement that returns no rows.
    fn done(kind: StatementKind, message: String) -> Self {
        Outcome {
            kind,
            schema: Arc::new(datafusion::arrow::datatypes::Schema::empty()),
            batches: Vec::new(),
            rows_written: None,
            message,
            metrics: ExecutionMetrics::default(),
        }
    }
}

/// A COPY to a location only one sink writes (`bigquery://...`) is stored as that sink,
/// whatever its `STORED AS` says; see [`crate::sink::forced_format`].
fn force_sink_format(statement: &mut DfStatement) {
    match statement {
        DfStatement::CopyTo(copy) => {
            if let Some(name) = crate::sink::forced_format(&copy.target) {
                copy.stored_as = Some(name.to_string());
            }
        }
        DfStatement::Explain(explain) => force_sink_format(&mut explain.statement),
        _ => {}
    }
}

/// One more `(plan_type, plan)` row for EXPLAIN's output.
fn explain_row(schema: &SchemaRef, plan_type: &str, plan: &str) -> Result<RecordBatch> {
    let columns: Vec<datafusion::arrow::array::ArrayRef> = vec![
        Arc::new(StringArray::from(vec![plan_type])),
        Arc::new(StringArray::from(vec![plan])),
    ];
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// The sum of the `count` column DataFusion's writers return.
pub(crate) fn count_column(batches: &[RecordBatch]) -> u64 {
    batches
        .iter()
        .filter_map(|b| b.column(0).as_any().downcast_ref::<UInt64Array>())
        .flat_map(|a| a.iter().flatten())
        .sum()
}

fn describe_ddl(ddl: &DdlStatement) -> (StatementKind, String) {
    match ddl {
        DdlStatement::CreateExternalTable(c) => (
            StatementKind::CreateTable,
            format!("created table {}", c.name),
        ),
        DdlStatement::CreateMemoryTable(c) => (
            StatementKind::CreateTable,
            format!("created table {}", c.name),
        ),
        DdlStatement::CreateView(c) => (
            StatementKind::CreateView,
            format!("created view {}", c.name),
        ),
        DdlStatement::DropTable(d) => (StatementKind::Drop, format!("dropped table {}", d.name)),
        DdlStatement::DropView(d) => (StatementKind::Drop, format!("dropped view {}", d.name)),
        other => (StatementKind::Other, other.name().to_lowercase()),
    }
}

/// Parser errors give positions within the statement ("at Line: 2, Column: 5"); users need
/// them within the file.
fn syntax_error(err: datafusion::error::DataFusionError, first_line: usize) -> SpateError {
    static POSITION: LazyLock<Option<Regex>> =
        LazyLock::new(|| Regex::new(r"at Line: (\d+), Column: (\d+)").ok());
    let message = SpateError::from(err).to_string();
    let Some(re) = POSITION.as_ref() else {
        return SpateError::DataFusion(datafusion::error::DataFusionError::Plan(message));
    };
    let message = re.replace_all(&message, |caps: &regex::Captures<'_>| {
        let line: usize = caps[1].parse().unwrap_or(1);
        format!("at line {}, column {}", line + first_line - 1, &caps[2])
    });
    SpateError::DataFusion(datafusion::error::DataFusionError::Plan(format!(
        "SQL syntax error: {}",
        message.trim_start_matches("sql parser error: ")
    )))
}
