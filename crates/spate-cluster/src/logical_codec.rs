//! [`SpateLogicalCodec`]: how the client encodes a statement's logical plan for the
//! scheduler, and how the scheduler decodes it: Ballista's codec, with the CSV file format
//! of `COPY ... STORED AS CSV` encoded right, and Delta tables
//! ([`crate::cluster_delta_table`]), and the writing half of Delta writes
//! ([`crate::shipped_delta_write`]).
//!
//! DataFusion 55 encodes a CSV format's quote style by the position of its Rust variant
//! while the decoder reads the protobuf enum, whose first two values are the other way
//! round: `COPY` to CSV on a cluster would quote every field. This codec writes the
//! protobuf value itself and frames the result the way Ballista's decoder reads file
//! formats (`FileFormatProto { encoder_position, blob }`, the CSV codec at position 1, a
//! layout Ballista keeps for clients of older versions), so the scheduler needs no codec
//! of spate's for it.

use std::sync::Arc;

use ballista_core::serde::BallistaLogicalExtensionCodec;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::TableReference;
use datafusion::common::parsers::CsvQuoteStyle;
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::datasource::file_format::csv::CsvFormatFactory;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Extension, LogicalPlan};
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::protobuf;
use prost::Message;
use spate_delta::DeltaTableProvider;

use crate::cluster_delta_table;
use crate::shipped_delta_write;

/// Where Ballista's file-format codec list has its CSV codec.
const BALLISTA_CSV_CODEC: u32 = 1;

/// Ballista's framing of an encoded file format.
#[derive(Clone, PartialEq, prost::Message)]
struct FileFormatFrame {
    #[prost(uint32, tag = "1")]
    encoder_position: u32,
    #[prost(bytes = "vec", tag = "2")]
    blob: Vec<u8>,
}

/// The client's logical codec; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct SpateLogicalCodec {
    ballista: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for SpateLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        if let Some(files) = shipped_delta_write::decode_logical(buf, inputs)? {
            return Ok(Extension {
                node: Arc::new(files),
            });
        }
        self.ballista.try_decode(buf, inputs, ctx)
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(bytes) = shipped_delta_write::encode_logical(node.node.as_ref()) {
            buf.extend_from_slice(&bytes);
            return Ok(());
        }
        self.ballista.try_encode(node, buf)
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        if let Some(delta) = cluster_delta_table::decode(buf, table_ref, Arc::clone(&schema))? {
            return Ok(delta);
        }
        self.ballista
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        if let Some(delta) = node.downcast_ref::<DeltaTableProvider>() {
            return cluster_delta_table::encode(delta, buf);
        }
        self.ballista
            .try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.ballista.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        let Some(csv) = node.downcast_ref::<CsvFormatFactory>() else {
            return self.ballista.try_encode_file_format(buf, node);
        };
        let options = csv.options.clone().unwrap_or_default();
        let mut proto = protobuf::CsvOptions::from(&CsvFormatFactory {
            options: Some(options.clone()),
        });
        proto.quote_style = match options.quote_style {
            CsvQuoteStyle::Always => protobuf::CsvQuoteStyle::Always,
            CsvQuoteStyle::Necessary => protobuf::CsvQuoteStyle::Necessary,
            CsvQuoteStyle::NonNumeric => protobuf::CsvQuoteStyle::NonNumeric,
            CsvQuoteStyle::Never => protobuf::CsvQuoteStyle::Never,
        } as i32;
        FileFormatFrame {
            encoder_position: BALLISTA_CSV_CODEC,
            blob: proto.encode_to_vec(),
        }
        .encode(buf)
        .map_err(|e| DataFusionError::Internal(format!("cannot encode a CSV format: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the scheduler decodes (with Ballista's own codec) is the format the client had.
    #[test]
    fn csv_formats_reach_the_scheduler_as_they_are() -> Result<()> {
        let ctx = TaskContext::default();
        for style in [
            CsvQuoteStyle::Always,
            CsvQuoteStyle::Necessary,
            CsvQuoteStyle::NonNumeric,
            CsvQuoteStyle::Never,
        ] {
            let options = datafusion::common::config::CsvOptions {
                quote_style: style,
                delimiter: b'|',
                ..Default::default()
            };
            let mut buf = Vec::new();
            SpateLogicalCodec::default().try_encode_file_format(
                &mut buf,
                Arc::new(CsvFormatFactory::new_with_options(options)),
            )?;
            let decoded =
                BallistaLogicalExtensionCodec::default().try_decode_file_format(&buf, &ctx)?;
            let decoded = decoded
                .downcast_ref::<CsvFormatFactory>()
                .and_then(|f| f.options.clone());
            assert_eq!(
                decoded.map(|o| (o.quote_style, o.delimiter)),
                Some((style, b'|'))
            );
        }
        Ok(())
    }
}
