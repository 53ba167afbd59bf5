//! [`ShippedCsvSink`]: CSV writes (`COPY ... STORED AS CSV`, `INSERT` into a CSV table)
//! sent to executors intact.
//!
//! DataFusion 55's protobuf form of a CSV sink loses part of its writer settings: unset
//! date and time formats come back as empty ones (dates and timestamps are then written
//! as empty strings), and the time-zone timestamp format, the line terminator and the
//! compression level are dropped (apache/datafusion#24623, fixed in 56). So the
//! scheduler's planner ([`ship_csv_sinks`]) wraps every CSV sink in a `ShippedCsvSink`,
//! which DataFusion does not know, so that the plan goes through spate's physical codec
//! ([`crate::physical_codec`]), which writes every setting ([`encode`]) and rebuilds
//! DataFusion's own CSV sink on the executor ([`decode`]).

use std::sync::Arc;

use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::csv::writer::{QuoteStyle, Terminator};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::file_options::csv_writer::CsvWriterOptions;
use datafusion::common::parsers::CompressionTypeVariant;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::file_format::csv::CsvSink;
use datafusion::datasource::physical_plan::{FileSink, FileSinkConfig};
use datafusion::datasource::sink::{DataSink, DataSinkExec};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{LexRequirement, PhysicalSortExpr};
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, SendableRecordBatchStream,
};
use datafusion_proto::physical_plan::from_proto::parse_physical_sort_exprs;
use datafusion_proto::physical_plan::to_proto::serialize_physical_sort_exprs;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use prost::Message;

/// A DataFusion `CsvSink`, marked to travel through spate's codec.
#[derive(Debug)]
pub(crate) struct ShippedCsvSink {
    inner: CsvSink,
}

impl DisplayAs for ShippedCsvSink {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.fmt_as(t, f)
    }
}

#[async_trait::async_trait]
impl DataSink for ShippedCsvSink {
    fn metrics(&self) -> Option<MetricsSet> {
        self.inner.metrics()
    }

    fn schema(&self) -> &SchemaRef {
        self.inner.schema()
    }

    async fn write_all(
        &self,
        data: SendableRecordBatchStream,
        context: &Arc<TaskContext>,
    ) -> Result<u64> {
        DataSink::write_all(&self.inner, data, context).await
    }
}

/// `plan` with its CSV sinks wrapped in [`ShippedCsvSink`]s (the scheduler's planner runs
/// it on every physical plan).
pub(crate) fn ship_csv_sinks(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(|node| {
        let Some(exec) = node.downcast_ref::<DataSinkExec>() else {
            return Ok(Transformed::no(node));
        };
        let Some(csv) = exec.sink().downcast_ref::<CsvSink>() else {
            return Ok(Transformed::no(node));
        };
        let inner = CsvSink::new(csv.config().clone(), csv.writer_options().clone());
        let shipped: Arc<dyn ExecutionPlan> = Arc::new(DataSinkExec::new(
            Arc::clone(exec.input()),
            Arc::new(ShippedCsvSink { inner }),
            exec.sort_order().clone(),
        ));
        Ok(Transformed::yes(shipped))
    })
    .map(|t| t.data)
}

/// A CSV sink as spate sends it: DataFusion's file sink settings, every writer setting,
/// and the order the sink wants its input in (none when empty).
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CsvSinkNode {
    /// DataFusion's `FileSinkConfig` message, encoded.
    #[prost(bytes = "vec", tag = "1")]
    pub config: Vec<u8>,
    #[prost(message, optional, tag = "2")]
    pub writer: Option<CsvWriterNode>,
    #[prost(message, repeated, tag = "3")]
    pub sort_order: Vec<protobuf::PhysicalSortExprNode>,
}

/// The settings of arrow's CSV writer and of DataFusion's compression of its output.
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct CsvWriterNode {
    #[prost(bool, tag = "1")]
    pub header: bool,
    #[prost(uint32, tag = "2")]
    pub delimiter: u32,
    #[prost(uint32, tag = "3")]
    pub quote: u32,
    #[prost(uint32, tag = "4")]
    pub escape: u32,
    #[prost(bool, tag = "5")]
    pub double_quote: bool,
    #[prost(string, optional, tag = "6")]
    pub date_format: Option<String>,
    #[prost(string, optional, tag = "7")]
    pub datetime_format: Option<String>,
    #[prost(string, optional, tag = "8")]
    pub time_format: Option<String>,
    #[prost(string, optional, tag = "9")]
    pub timestamp_format: Option<String>,
    #[prost(string, optional, tag = "10")]
    pub timestamp_tz_format: Option<String>,
    #[prost(string, tag = "11")]
    pub null: String,
    /// 0 necessary, 1 always, 2 non-numeric, 3 never.
    #[prost(uint32, tag = "12")]
    pub quote_style: u32,
    #[prost(bool, tag = "13")]
    pub ignore_leading_whitespace: bool,
    #[prost(bool, tag = "14")]
    pub ignore_trailing_whitespace: bool,
    /// A byte, or none for CRLF.
    #[prost(uint32, optional, tag = "15")]
    pub line_terminator: Option<u32>,
    /// 0 gzip, 1 bzip2, 2 xz, 3 zstd, 4 none.
    #[prost(uint32, tag = "16")]
    pub compression: u32,
    #[prost(uint32, optional, tag = "17")]
    pub compression_level: Option<u32>,
}

/// The bytes of `exec`'s sink when it is a [`ShippedCsvSink`]; `codec` and `converter`
/// encode the expressions of its ordering.
pub(crate) fn encode(
    exec: &DataSinkExec,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Option<Vec<u8>>> {
    let Some(shipped) = exec.sink().downcast_ref::<ShippedCsvSink>() else {
        return Ok(None);
    };
    let csv = &shipped.inner;
    let config = protobuf::FileSinkConfig::try_from(csv.config())?;
    let ordering = exec.sort_order().iter().flat_map(|requirement| {
        requirement
            .iter()
            .map(|r| PhysicalSortExpr::from(r.clone()))
    });
    let node = CsvSinkNode {
        config: config.encode_to_vec(),
        writer: Some(writer_node(csv.writer_options())),
        sort_order: serialize_physical_sort_exprs(ordering, codec, converter)?,
    };
    Ok(Some(node.encode_to_vec()))
}

/// The `DataSinkExec` with DataFusion's CSV sink that `bytes` (from [`encode`]) describe,
/// writing `input`.
pub(crate) fn decode(
    bytes: &[u8],
    input: Arc<dyn ExecutionPlan>,
    context: &TaskContext,
    codec: &dyn PhysicalExtensionCodec,
    converter: &dyn PhysicalProtoConverterExtension,
) -> Result<Arc<dyn ExecutionPlan>> {
    let bad = |e: prost::DecodeError| DataFusionError::Internal(format!("bad CSV sink: {e}"));
    let node = CsvSinkNode::decode(bytes).map_err(bad)?;
    let config = protobuf::FileSinkConfig::decode(node.config.as_slice()).map_err(bad)?;
    let config = FileSinkConfig::try_from(&config)?;
    let writer = node
        .writer
        .ok_or_else(|| DataFusionError::Internal("a CSV sink without writer settings".into()))?;
    let ordering = parse_physical_sort_exprs(
        &node.sort_order,
        &PhysicalPlanDecodeContext::new(context, codec),
        input.schema().as_ref(),
        converter,
    )?;
    let sort_order = LexRequirement::new(ordering.into_iter().map(Into::into));
    let sink = CsvSink::new(config, writer_options(&writer)?);
    Ok(Arc::new(DataSinkExec::new(
        input,
        Arc::new(sink),
        sort_order,
    )))
}

fn writer_node(options: &CsvWriterOptions) -> CsvWriterNode {
    let w = &options.writer_options;
    CsvWriterNode {
        header: w.header(),
        delimiter: w.delimiter().into(),
        quote: w.quote().into(),
        escape: w.escape().into(),
        double_quote: w.double_quote(),
        date_format: w.date_format().map(str::to_string),
        datetime_format: w.datetime_format().map(str::to_string),
        time_format: w.time_format().map(str::to_string),
        timestamp_format: w.timestamp_format().map(str::to_string),
        timestamp_tz_format: w.timestamp_tz_format().map(str::to_string),
        null: w.null().to_string(),
        quote_style: match w.quote_style() {
            QuoteStyle::Always => 1,
            QuoteStyle::NonNumeric => 2,
            QuoteStyle::Never => 3,
            _ => 0,
        },
        ignore_leading_whitespace: w.ignore_leading_whitespace(),
        ignore_trailing_whitespace: w.ignore_trailing_whitespace(),
        line_terminator: match w.line_terminator() {
            Terminator::CRLF => None,
            Terminator::Any(byte) => Some((*byte).into()),
        },
        compression: match options.compression {
            CompressionTypeVariant::GZIP => 0,
            CompressionTypeVariant::BZIP2 => 1,
            CompressionTypeVariant::XZ => 2,
            CompressionTypeVariant::ZSTD => 3,
            CompressionTypeVariant::UNCOMPRESSED => 4,
        },
        compression_level: options.compression_level,
    }
}

/// One of `WriterBuilder`'s date and time format setters.
type FormatSetter = fn(WriterBuilder, String) -> WriterBuilder;

fn writer_options(node: &CsvWriterNode) -> Result<CsvWriterOptions> {
    let byte = |value: u32, what: &str| {
        u8::try_from(value)
            .map_err(|_| DataFusionError::Internal(format!("bad CSV {what} {value}")))
    };
    let mut builder = WriterBuilder::new()
        .with_header(node.header)
        .with_delimiter(byte(node.delimiter, "delimiter")?)
        .with_quote(byte(node.quote, "quote")?)
        .with_escape(byte(node.escape, "escape")?)
        .with_double_quote(node.double_quote)
        .with_null(node.null.clone())
        .with_quote_style(match node.quote_style {
            1 => QuoteStyle::Always,
            2 => QuoteStyle::NonNumeric,
            3 => QuoteStyle::Never,
            _ => QuoteStyle::Necessary,
        })
        .with_ignore_leading_whitespace(node.ignore_leading_whitespace)
        .with_ignore_trailing_whitespace(node.ignore_trailing_whitespace);
    let formats: [(&Option<String>, FormatSetter); 5] = [
        (&node.date_format, WriterBuilder::with_date_format),
        (&node.datetime_format, WriterBuilder::with_datetime_format),
        (&node.time_format, WriterBuilder::with_time_format),
        (&node.timestamp_format, WriterBuilder::with_timestamp_format),
        (
            &node.timestamp_tz_format,
            WriterBuilder::with_timestamp_tz_format,
        ),
    ];
    for (format, set) in formats {
        if let Some(format) = format {
            builder = set(builder, format.clone());
        }
    }
    if let Some(terminator) = node.line_terminator {
        builder = builder.with_line_terminator(Terminator::Any(byte(terminator, "terminator")?));
    }
    let compression = match node.compression {
        0 => CompressionTypeVariant::GZIP,
        1 => CompressionTypeVariant::BZIP2,
        2 => CompressionTypeVariant::XZ,
        3 => CompressionTypeVariant::ZSTD,
        _ => CompressionTypeVariant::UNCOMPRESSED,
    };
    let mut options = CsvWriterOptions::new(builder, compression);
    options.compression_level = node.compression_level;
    Ok(options)
}
