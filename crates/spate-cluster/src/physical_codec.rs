//! [`SpatePhysicalCodec`]: how the scheduler encodes the plans of tasks for executors, and
//! how executors decode them: Ballista's codec, plus the nodes spate adds. Every node it
//! writes is a [`SpateNode`] naming which of them it holds, so the scheduler and the
//! executors must both use it (they do: both are the `spate` binary).
//!
//! The nodes spate adds: CSV sinks ([`crate::shipped_csv_sink`]), grace hash joins
//! ([`crate::shipped_grace_join`]), Delta writers ([`crate::shipped_delta_write`]).

use std::sync::Arc;

use ballista_core::serde::BallistaPhysicalExtensionCodec;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use prost::Message;

use crate::shipped_csv_sink;
use crate::shipped_delta_write::{self, DeltaWriteNode};
use crate::shipped_grace_join::{self, GraceJoinNode};

/// One encoded node: exactly one field is set.
#[derive(Clone, PartialEq, prost::Message)]
struct SpateNode {
    /// A node of Ballista's codec (its shuffles, its query stages).
    #[prost(bytes = "vec", optional, tag = "1")]
    ballista: Option<Vec<u8>>,
    /// A CSV sink.
    #[prost(bytes = "vec", optional, tag = "2")]
    csv_sink: Option<Vec<u8>>,
    /// A grace hash join.
    #[prost(message, optional, tag = "10")]
    grace_join: Option<GraceJoinNode>,
    /// A Delta writer.
    #[prost(message, optional, tag = "11")]
    delta_write: Option<DeltaWriteNode>,
}

/// The physical codec of spate's scheduler and executors; see the module doc.
#[derive(Debug, Default)]
pub(crate) struct SpatePhysicalCodec {
    ballista: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for SpatePhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let node = SpateNode::decode(buf)
            .map_err(|e| DataFusionError::Internal(format!("bad plan node from spate: {e}")))?;
        if node.grace_join.is_some() {
            return shipped_grace_join::decode(inputs, ctx);
        }
        if let Some(writer) = &node.delta_write {
            return shipped_delta_write::decode(writer, inputs, ctx);
        }
        match (node.ballista, node.csv_sink, inputs) {
            (Some(ballista), None, _) => {
                self.ballista.try_decode(&ballista, inputs, ctx, converter)
            }
            (None, Some(sink), [input]) => {
                shipped_csv_sink::decode(&sink, Arc::clone(input), ctx, self, converter)
            }
            _ => Err(DataFusionError::Internal(format!(
                "a plan node from spate with {} inputs that spate cannot read",
                inputs.len()
            ))),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(grace_join) = shipped_grace_join::encode(&node) {
            let wrapped = SpateNode {
                grace_join: Some(grace_join),
                ..SpateNode::default()
            };
            return wrapped
                .encode(buf)
                .map_err(|e| DataFusionError::Internal(format!("cannot encode a plan node: {e}")));
        }
        if let Some(writer) = shipped_delta_write::encode(&node)? {
            let wrapped = SpateNode {
                delta_write: Some(writer),
                ..SpateNode::default()
            };
            return wrapped
                .encode(buf)
                .map_err(|e| DataFusionError::Internal(format!("cannot encode a plan node: {e}")));
        }
        let sink = match node.downcast_ref::<DataSinkExec>() {
            Some(exec) => shipped_csv_sink::encode(exec, self, converter)?,
            None => None,
        };
        let wrapped = match sink {
            Some(sink) => SpateNode {
                csv_sink: Some(sink),
                ..SpateNode::default()
            },
            None => {
                let mut inner = Vec::new();
                self.ballista.try_encode(node, &mut inner, converter)?;
                SpateNode {
                    ballista: Some(inner),
                    ..SpateNode::default()
                }
            }
        };
        wrapped
            .encode(buf)
            .map_err(|e| DataFusionError::Internal(format!("cannot encode a plan node: {e}")))
    }
}
