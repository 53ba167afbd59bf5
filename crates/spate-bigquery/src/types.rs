//! BigQuery types ↔ Arrow types, both ways.
//!
//! | BigQuery | Arrow |
//! |---|---|
//! | INT64 | Int64 |
//! | FLOAT64 | Float64 |
//! | NUMERIC | Decimal128(38, 9) |
//! | BIGNUMERIC | Decimal256(76, 38) |
//! | BOOL | Boolean |
//! | STRING | Utf8 |
//! | BYTES | Binary |
//! | DATE | Date32 |
//! | DATETIME | Timestamp(µs) |
//! | TIME | Time64(µs) |
//! | TIMESTAMP | Timestamp(µs, UTC) |
//! | JSON, GEOGRAPHY (WKT) | Utf8, tagged `bigquery:type` |
//! | ARRAY (REPEATED) | List |
//! | STRUCT (RECORD) | Struct |
//! | RANGE&lt;T&gt; | Struct{start: T, end: T}, tagged `bigquery:type = RANGE` |
//!
//! These are also the Arrow types of the Storage APIs' wire format, so a table's Arrow
//! schema is what spate reads and what it writes. [`arrow_schema`] maps a table's REST
//! schema; [`rest_fields`] maps an Arrow schema to create a table from; [`WritePlan`]
//! checks that rows fit an existing table and casts them to its wire types.

use std::collections::HashMap;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};

use crate::error::{BigQueryError, Result};
use crate::location::TableRef;
use crate::rest_client::{RangeElementType, RestField};

/// The field metadata key that tells a BigQuery type Arrow cannot (JSON, GEOGRAPHY, RANGE).
pub const TYPE_METADATA_KEY: &str = "bigquery:type";

const NUMERIC: DataType = DataType::Decimal128(38, 9);
const BIGNUMERIC: DataType = DataType::Decimal256(76, 38);

/// The Arrow schema of a table with these REST fields.
pub fn arrow_schema(table: &TableRef, fields: &[RestField]) -> Result<SchemaRef> {
    let fields = fields
        .iter()
        .map(|f| arrow_field(table, f))
        .collect::<Result<Vec<_>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

fn arrow_field(table: &TableRef, field: &RestField) -> Result<Field> {
    let bq_type = field.field_type.to_ascii_uppercase();
    let data_type = match bq_type.as_str() {
        "RECORD" | "STRUCT" => DataType::Struct(
            field
                .fields
                .iter()
                .map(|f| arrow_field(table, f))
                .collect::<Result<Fields>>()?,
        ),
        "RANGE" => {
            let element = field
                .range_element_type
                .as_ref()
                .map_or("DATE".to_string(), |r| r.element_type.to_ascii_uppercase());
            let inner = scalar_type(&element)
                .ok_or_else(|| unsupported(table, &field.name, &format!("RANGE<{element}>")))?;
            range_type(inner)
        }
        other => scalar_type(other).ok_or_else(|| unsupported(table, &field.name, other))?,
    };
    let mut metadata = HashMap::new();
    if matches!(bq_type.as_str(), "JSON" | "GEOGRAPHY" | "RANGE") {
        metadata.insert(TYPE_METADATA_KEY.to_string(), bq_type.clone());
    }
    let mode = field
        .mode
        .as_deref()
        .unwrap_or("NULLABLE")
        .to_ascii_uppercase();
    let result = match mode.as_str() {
        "REPEATED" => Field::new(
            &field.name,
            DataType::List(Arc::new(
                Field::new("item", data_type, true).with_metadata(metadata),
            )),
            true,
        ),
        "REQUIRED" => Field::new(&field.name, data_type, false).with_metadata(metadata),
        _ => Field::new(&field.name, data_type, true).with_metadata(metadata),
    };
    Ok(result)
}

fn scalar_type(bq_type: &str) -> Option<DataType> {
    Some(match bq_type {
        "INT64" | "INTEGER" => DataType::Int64,
        "FLOAT64" | "FLOAT" => DataType::Float64,
        "NUMERIC" | "DECIMAL" => NUMERIC,
        "BIGNUMERIC" | "BIGDECIMAL" => BIGNUMERIC,
        "BOOL" | "BOOLEAN" => DataType::Boolean,
        "STRING" | "JSON" | "GEOGRAPHY" => DataType::Utf8,
        "BYTES" => DataType::Binary,
        "DATE" => DataType::Date32,
        "DATETIME" => DataType::Timestamp(TimeUnit::Microsecond, None),
        "TIME" => DataType::Time64(TimeUnit::Microsecond),
        "TIMESTAMP" => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        _ => return None,
    })
}

fn range_type(inner: DataType) -> DataType {
    DataType::Struct(Fields::from(vec![
        Field::new("start", inner.clone(), true),
        Field::new("end", inner, true),
    ]))
}

fn unsupported(table: &TableRef, column: &str, data_type: &str) -> BigQueryError {
    BigQueryError::UnsupportedType {
        table: table.to_string(),
        column: column.to_string(),
        data_type: data_type.to_string(),
    }
}

/// The REST fields of a new table for rows of `schema`.
pub fn rest_fields(table: &TableRef, schema: &Schema) -> Result<Vec<RestField>> {
    schema
        .fields()
        .iter()
        .map(|f| rest_field(table, f))
        .collect()
}

fn rest_field(table: &TableRef, field: &Field) -> Result<RestField> {
    let tagged = field.metadata().get(TYPE_METADATA_KEY).map(String::as_str);
    let mut out = RestField {
        name: field.name().clone(),
        field_type: String::new(),
        mode: Some(
            if field.is_nullable() {
                "NULLABLE"
            } else {
                "REQUIRED"
            }
            .into(),
        ),
        fields: Vec::new(),
        range_element_type: None,
    };
    let mut data_type = field.data_type();
    if let DataType::Dictionary(_, value) = data_type {
        data_type = value;
    }
    if let DataType::List(item) | DataType::LargeList(item) | DataType::FixedSizeList(item, _) =
        data_type
    {
        if matches!(item.data_type(), DataType::List(_) | DataType::LargeList(_)) {
            return Err(
                unsupported(table, field.name(), &item.data_type().to_string()).nested_list(),
            );
        }
        let mut element = rest_field(table, &item.as_ref().clone().with_name(field.name()))?;
        element.mode = Some("REPEATED".into());
        return Ok(element);
    }
    out.field_type = match (data_type, tagged) {
        (DataType::Struct(fields), Some("RANGE")) => {
            let element = fields
                .first()
                .map(|f| bq_scalar_name(f.data_type()))
                .unwrap_or(None)
                .ok_or_else(|| unsupported(table, field.name(), &data_type.to_string()))?;
            out.range_element_type = Some(RangeElementType {
                element_type: element.into(),
            });
            "RANGE".into()
        }
        (DataType::Struct(fields), _) => {
            out.fields = fields
                .iter()
                .map(|f| rest_field(table, f))
                .collect::<Result<_>>()?;
            "RECORD".into()
        }
        (
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View,
            Some(tag @ ("JSON" | "GEOGRAPHY")),
        ) => tag.into(),
        (other, _) => bq_scalar_name(other)
            .ok_or_else(|| unsupported(table, field.name(), &other.to_string()))?
            .into(),
    };
    Ok(out)
}

/// The BigQuery type rows of this Arrow type become in a new table.
fn bq_scalar_name(data_type: &DataType) -> Option<&'static str> {
    Some(match data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => "INT64",
        DataType::Float16 | DataType::Float32 | DataType::Float64 => "FLOAT64",
        DataType::Decimal32(p, s)
        | DataType::Decimal64(p, s)
        | DataType::Decimal128(p, s)
        | DataType::Decimal256(p, s) => {
            let (p, s) = (i16::from(*p), i16::from(*s));
            if s <= 9 && p - s <= 29 {
                "NUMERIC"
            } else if s <= 38 && p - s <= 38 {
                "BIGNUMERIC"
            } else {
                return None;
            }
        }
        DataType::Boolean => "BOOL",
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => "STRING",
        DataType::Binary
        | DataType::LargeBinary
        | DataType::BinaryView
        | DataType::FixedSizeBinary(_) => "BYTES",
        DataType::Date32 | DataType::Date64 => "DATE",
        DataType::Timestamp(_, None) => "DATETIME",
        DataType::Timestamp(_, Some(_)) => "TIMESTAMP",
        DataType::Time32(_) | DataType::Time64(_) => "TIME",
        _ => return None,
    })
}

impl BigQueryError {
    /// An unsupported type that is a list of lists (BigQuery has no ARRAY of ARRAY).
    fn nested_list(self) -> BigQueryError {
        match self {
            BigQueryError::UnsupportedType {
                table,
                column,
                data_type,
            } => BigQueryError::UnsupportedType {
                table,
                column,
                data_type: format!("List({data_type}) (BigQuery has no array of arrays)"),
            },
            other => other,
        }
    }
}

/// How rows of one input schema are written to one table: which table column each input
/// column goes to, and the wire type it is cast to.
#[derive(Debug, Clone)]
pub struct WritePlan {
    table: TableRef,
    /// The schema of the batches sent (table names, wire types), in input column order.
    wire_schema: SchemaRef,
}

impl WritePlan {
    /// Checks that rows of `input` fit the table with `fields`: every input column is a
    /// table column (by name, ignoring case) whose type accepts it, and every `REQUIRED`
    /// column is written.
    pub fn new(table: &TableRef, input: &Schema, fields: &[RestField]) -> Result<WritePlan> {
        let target = arrow_schema(table, fields)?;
        let mismatch = |detail: String| BigQueryError::SchemaMismatch {
            table: table.to_string(),
            detail,
        };
        let mut wire = Vec::with_capacity(input.fields().len());
        for field in input.fields() {
            let Some((_, column)) = target.fields().find(field.name()).or_else(|| {
                target
                    .fields()
                    .iter()
                    .enumerate()
                    .find(|(_, f)| f.name().eq_ignore_ascii_case(field.name()))
            }) else {
                let columns: Vec<&str> = fields.iter().map(|f| f.name.as_str()).collect();
                return Err(mismatch(format!(
                    "column `{}` is not in the table (its columns are {})",
                    field.name(),
                    columns.join(", ")
                )));
            };
            if !accepts(column.data_type(), field.data_type()) {
                let bq = fields
                    .iter()
                    .find(|f| f.name == *column.name())
                    .map_or_else(String::new, describe_rest_type);
                return Err(mismatch(format!(
                    "column `{}` is {bq} in the table, the rows have {}",
                    column.name(),
                    field.data_type()
                )));
            }
            wire.push(column.as_ref().clone().with_nullable(true));
        }
        if let Some(required) = target.fields().iter().find(|t| {
            !t.is_nullable()
                && !input
                    .fields()
                    .iter()
                    .any(|f| f.name().eq_ignore_ascii_case(t.name()))
        }) {
            return Err(mismatch(format!(
                "required column `{}` is not written",
                required.name()
            )));
        }
        Ok(WritePlan {
            table: table.clone(),
            wire_schema: Arc::new(Schema::new(wire)),
        })
    }

    /// The schema of the batches sent.
    pub fn wire_schema(&self) -> &SchemaRef {
        &self.wire_schema
    }

    /// `batch` cast to the wire types; a value that does not fit (a decimal with too many
    /// digits, an integer out of INT64) fails naming its column.
    pub fn convert(&self, batch: &RecordBatch) -> Result<RecordBatch> {
        let options = CastOptions {
            safe: false,
            ..Default::default()
        };
        let columns = batch
            .columns()
            .iter()
            .zip(self.wire_schema.fields())
            .map(|(column, field)| {
                cast_with_options(column, field.data_type(), &options).map_err(|e| {
                    BigQueryError::OutOfRange {
                        table: self.table.to_string(),
                        column: field.name().clone(),
                        detail: format!(
                            "{} does not fit {}: {e}",
                            column.data_type(),
                            field.data_type()
                        ),
                    }
                })
            })
            .collect::<Result<Vec<ArrayRef>>>()?;
        RecordBatch::try_new(Arc::clone(&self.wire_schema), columns).map_err(|e| {
            BigQueryError::SchemaMismatch {
                table: self.table.to_string(),
                detail: e.to_string(),
            }
        })
    }
}

fn describe_rest_type(field: &RestField) -> String {
    let base = match &field.range_element_type {
        Some(r) => format!("RANGE<{}>", r.element_type),
        None => field.field_type.clone(),
    };
    match field.mode.as_deref() {
        Some("REPEATED") => format!("ARRAY<{base}>"),
        _ => base,
    }
}

/// Whether rows of Arrow type `from` may be written to a column of Arrow type `to` (the
/// wire type of its BigQuery type).
fn accepts(to: &DataType, from: &DataType) -> bool {
    if let DataType::Dictionary(_, value) = from {
        return accepts(to, value);
    }
    match (to, from) {
        (DataType::Struct(to), DataType::Struct(from)) => {
            from.len() <= to.len()
                && from.iter().all(|f| {
                    to.iter()
                        .find(|t| t.name().eq_ignore_ascii_case(f.name()))
                        .is_some_and(|t| accepts(t.data_type(), f.data_type()))
                })
        }
        (
            DataType::List(to),
            DataType::List(from) | DataType::LargeList(from) | DataType::FixedSizeList(from, _),
        ) => accepts(to.data_type(), from.data_type()),
        (DataType::Decimal128(..) | DataType::Decimal256(..), from) => {
            from.is_integer() || matches!(bq_scalar_name(from), Some("NUMERIC" | "BIGNUMERIC"))
        }
        (DataType::Float64, from) => from.is_floating() || from.is_integer(),
        (to, from) => bq_scalar_name(to).is_some() && bq_scalar_name(to) == bq_scalar_name(from),
    }
}

/// Turns a column as the server sent it into the type of the table's schema: the same
/// type as is; WKB (how some servers send GEOGRAPHY) to WKT; anything else by Arrow's
/// cast (list item names, nested field order).
pub fn conform(table: &TableRef, column: &ArrayRef, field: &FieldRef) -> Result<ArrayRef> {
    if column.data_type() == field.data_type() {
        return Ok(Arc::clone(column));
    }
    let bad = |detail: String| BigQueryError::BadData {
        table: table.to_string(),
        detail: format!("column `{}`: {detail}", field.name()),
    };
    let is_geography =
        field.metadata().get(TYPE_METADATA_KEY).map(String::as_str) == Some("GEOGRAPHY");
    if is_geography && column.data_type().is_binary_like_or_view() {
        return crate::wkb::wkb_column_to_wkt(column.as_ref()).map_err(bad);
    }
    cast_with_options(column, field.data_type(), &CastOptions::default()).map_err(|e| {
        bad(format!(
            "cannot read {} as {}: {e}",
            column.data_type(),
            field.data_type()
        ))
    })
}

/// Whether a type is `Binary`, `LargeBinary` or `BinaryView`.
trait BinaryLike {
    fn is_binary_like_or_view(&self) -> bool;
}

impl BinaryLike for DataType {
    fn is_binary_like_or_view(&self) -> bool {
        matches!(
            self,
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(name: &str, t: &str, mode: &str) -> RestField {
        RestField {
            name: name.into(),
            field_type: t.into(),
            mode: Some(mode.into()),
            fields: Vec::new(),
            range_element_type: None,
        }
    }

    #[test]
    fn every_type_round_trips_through_arrow() {
        let table = TableRef::parse("p.d.t").unwrap();
        let mut fields: Vec<RestField> = [
            "INT64",
            "FLOAT64",
            "NUMERIC",
            "BIGNUMERIC",
            "BOOL",
            "STRING",
            "BYTES",
            "DATE",
            "DATETIME",
            "TIME",
            "TIMESTAMP",
            "JSON",
            "GEOGRAPHY",
        ]
        .iter()
        .enumerate()
        .map(|(i, t)| field(&format!("c{i}"), t, "NULLABLE"))
        .collect();
        fields.push(field("arr", "INT64", "REPEATED"));
        let mut record = field("rec", "RECORD", "REQUIRED");
        record.fields = vec![
            field("x", "INT64", "NULLABLE"),
            field("bn", "BIGNUMERIC", "NULLABLE"),
        ];
        fields.push(record);
        let mut range = field("r", "RANGE", "NULLABLE");
        range.range_element_type = Some(RangeElementType {
            element_type: "TIMESTAMP".into(),
        });
        fields.push(range);
        let schema = arrow_schema(&table, &fields).unwrap();
        assert_eq!(schema.field(3).data_type(), &DataType::Decimal256(76, 38));
        assert_eq!(schema.field(13).data_type().to_string(), "List(Int64)");
        assert!(!schema.field(14).is_nullable());
        assert_eq!(rest_fields(&table, &schema).unwrap(), fields);
    }

    #[test]
    fn unmappable_types_name_column_and_type() {
        let table = TableRef::parse("p.d.t").unwrap();
        let err = arrow_schema(&table, &[field("span", "INTERVAL", "NULLABLE")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "column `span` of BigQuery table p.d.t has type INTERVAL, which spate cannot map"
        );
        let schema = Schema::new(vec![Field::new(
            "d",
            DataType::Duration(TimeUnit::Second),
            true,
        )]);
        let err = rest_fields(&table, &schema).unwrap_err().to_string();
        assert!(err.contains("`d`") && err.contains("Duration"), "{err}");
    }

    #[test]
    fn write_plans_check_names_types_and_digits() {
        let table = TableRef::parse("p.d.t").unwrap();
        let fields = [
            field("id", "INT64", "REQUIRED"),
            field("amount", "NUMERIC", "NULLABLE"),
        ];
        let input = Schema::new(vec![
            Field::new("ID", DataType::Int32, false),
            Field::new("amount", DataType::Decimal128(38, 0), true),
        ]);
        let plan = WritePlan::new(&table, &input, &fields).unwrap();
        assert_eq!(plan.wire_schema().field(0).name(), "id");
        let wide = arrow::array::Decimal128Array::from(vec![10i128.pow(35)])
            .with_precision_and_scale(38, 0)
            .unwrap();
        let batch = RecordBatch::try_new(
            Arc::new(input.clone()),
            vec![
                Arc::new(arrow::array::Int32Array::from(vec![1])),
                Arc::new(wide),
            ],
        )
        .unwrap();
        let err = plan.convert(&batch).unwrap_err().to_string();
        assert!(
            err.starts_with("value out of range for column `amount`"),
            "{err}"
        );
        let text = Schema::new(vec![Field::new("id", DataType::Utf8, false)]);
        let err = WritePlan::new(&table, &text, &fields)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("column `id` is INT64 in the table, the rows have Utf8"),
            "{err}"
        );
        let partial = Schema::new(vec![Field::new("amount", DataType::Float64, true)]);
        assert!(WritePlan::new(&table, &partial, &fields).is_err());
    }
}
