//! [`BigQueryTable`]: a BigQuery table as a DataFusion table — scans through the Storage
//! Read API, `INSERT INTO` through the Storage Write API.

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::stats::Precision;
use datafusion::common::{Statistics, not_impl_err};
use datafusion::datasource::TableType;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::Result as DFResult;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;

use crate::client::BigQueryClient;
use crate::error::Result;
use crate::filter::row_restriction;
use crate::io_counters::IoCounters;
use crate::location::TableRef;
use crate::proto::storage::{CreateReadSessionRequest, DataFormat, ReadSession, read_session};
use crate::rest_client::TableInfo;
use crate::scan_exec::BigQueryScanExec;
use crate::sink::{BigQuerySink, SinkOptions, WriteMode};
use crate::types::arrow_schema;

/// A BigQuery table, its schema and size as `tables.get` reported them.
#[derive(Debug)]
pub struct BigQueryTable {
    table: TableRef,
    client: Arc<BigQueryClient>,
    info: TableInfo,
    schema: SchemaRef,
    counters: Arc<IoCounters>,
    retries: usize,
}

impl BigQueryTable {
    /// Looks the table up; fails when it does not exist or has a type spate cannot map.
    pub(crate) async fn open(
        table: TableRef,
        client: Arc<BigQueryClient>,
        counters: Arc<IoCounters>,
        retries: usize,
    ) -> Result<BigQueryTable> {
        let info = client.rest.get_table(&table).await?.ok_or_else(|| {
            crate::error::BigQueryError::TableNotFound {
                table: table.to_string(),
            }
        })?;
        let schema = arrow_schema(&table, &info.fields)?;
        Ok(BigQueryTable {
            table,
            client,
            info,
            schema,
            counters,
            retries,
        })
    }

    /// The table's name.
    pub fn table_ref(&self) -> &TableRef {
        &self.table
    }

    /// Creates the read session of a scan: `columns` selected, `restriction` applied.
    async fn read_session(
        &self,
        columns: Vec<String>,
        restriction: String,
        max_streams: usize,
    ) -> Result<ReadSession> {
        let request = CreateReadSessionRequest {
            parent: format!("projects/{}", self.table.project),
            read_session: Some(ReadSession {
                table: self.table.resource(),
                data_format: DataFormat::Arrow as i32,
                read_options: Some(read_session::TableReadOptions {
                    selected_fields: columns,
                    row_restriction: restriction,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            max_stream_count: i32::try_from(max_streams).unwrap_or(i32::MAX),
            preferred_min_stream_count: 0,
        };
        self.client
            .storage
            .create_read_session(&self.table, request)
            .await
    }
}

#[async_trait]
impl TableProvider for BigQueryTable {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> DFResult<Vec<TableProviderFilterPushDown>> {
        Ok(filters
            .iter()
            .map(|f| match row_restriction(f, &self.schema) {
                Some(_) => TableProviderFilterPushDown::Exact,
                None => TableProviderFilterPushDown::Unsupported,
            })
            .collect())
    }

    fn statistics(&self) -> Option<Statistics> {
        let mut statistics = Statistics::new_unknown(&self.schema);
        if let Some(rows) = self.info.num_rows {
            statistics.num_rows = Precision::Inexact(rows as usize);
        }
        if let Some(bytes) = self.info.num_bytes {
            statistics.total_byte_size = Precision::Inexact(bytes as usize);
        }
        Some(statistics)
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let schema: SchemaRef = match projection {
            Some(indices) => Arc::new(self.schema.project(indices)?),
            None => Arc::clone(&self.schema),
        };
        // A scan of no columns (count(*)) still needs rows: it reads the first column.
        let mut columns: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
        if columns.is_empty()
            && let Some(first) = self.schema.fields().first()
        {
            columns.push(first.name().clone());
        }
        let restrictions: Vec<String> = filters
            .iter()
            .filter_map(|f| row_restriction(f, &self.schema))
            .collect();
        let restriction = restrictions.join(" AND ");
        let max_streams = state.config().target_partitions();
        let session = self
            .read_session(columns, restriction.clone(), max_streams)
            .await?;
        let schema_message = match &session.schema {
            Some(read_session::Schema::ArrowSchema(s)) => s.serialized_schema.clone(),
            _ => Default::default(),
        };
        let streams: Vec<String> = session.streams.into_iter().map(|s| s.name).collect();
        self.counters.read_session(streams.len());
        Ok(Arc::new(BigQueryScanExec::new(
            self.table.clone(),
            Arc::clone(&self.client),
            streams,
            schema_message.into(),
            schema,
            restriction,
            Arc::clone(&self.counters),
            self.retries,
        )))
    }

    async fn insert_into(
        &self,
        _state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> DFResult<Arc<dyn ExecutionPlan>> {
        let mode = match insert_op {
            InsertOp::Append => WriteMode::Append,
            InsertOp::Overwrite => WriteMode::Overwrite,
            InsertOp::Replace => return not_impl_err!("REPLACE INTO a BigQuery table"),
        };
        let options = SinkOptions {
            mode,
            ..Default::default()
        };
        let sink = BigQuerySink::prepare(
            self.table.clone(),
            Arc::clone(&self.client),
            Arc::clone(&self.counters),
            &input.schema(),
            options,
        )
        .await?;
        let schema: Arc<Schema> = input.schema();
        let _ = schema;
        Ok(Arc::new(DataSinkExec::new(input, Arc::new(sink), None)))
    }
}
