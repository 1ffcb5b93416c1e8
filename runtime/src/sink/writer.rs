//! Rows → Parquet bytes, split into Hive-style partition directories.

use super::naming::partition_value;
use arrow::array::{Array, ArrayRef, AsArray, UInt32Array};
use arrow::datatypes::{DataType as ArrowType, SchemaRef, TimestampMicrosecondType};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as Codec, GzipLevel, ZstdLevel};
use parquet::errors::ParquetError;
use parquet::file::properties::WriterProperties;
use pipec_compiler::plan::{Compression, Partitioning};
use pipec_compiler::time::civil_from_days;
use std::collections::BTreeMap;

/// Rows per row group. A file being written holds its row group in
/// progress in memory, encoded: at the seed's event size (about 200 bytes
/// with `raw_event`) 128 Ki rows are some 10 MB compressed per open file,
/// which bounds a sink's memory. Readers scan in parallel by row group
/// (DataFusion splits a file's byte ranges at them, DuckDB hands them to
/// threads) and skip one by its min/max statistics, so a 1 Mi-row backfill
/// file of 8 row groups keeps every core busy where one row group would not,
/// and a row group is still long enough that per-group overhead is noise.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// ... and at most this many encoded bytes per row group, whichever comes
/// first: wide rows (kilobytes of `raw_event`) would otherwise hold 128 Ki
/// of them, hundreds of MB, in memory per open file. bench/run's 1 GB
/// partition of 2 KB rows took `pipec compact` to 711 MiB without it.
pub const ROW_GROUP_BYTES: usize = 32 * 1024 * 1024;

/// How pipec writes Parquet: the sink's codec, row groups of
/// [`ROW_GROUP_ROWS`] or [`ROW_GROUP_BYTES`], page statistics (the default) for pruning.
pub fn writer_properties(compression: Compression) -> WriterProperties {
    let codec = match compression {
        Compression::Snappy => Codec::SNAPPY,
        Compression::Zstd => Codec::ZSTD(ZstdLevel::default()),
        Compression::Gzip => Codec::GZIP(GzipLevel::default()),
        Compression::Lz4 => Codec::LZ4_RAW,
        Compression::None => Codec::UNCOMPRESSED,
    };
    WriterProperties::builder()
        .set_compression(codec)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .set_created_by(format!("pipec {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// A whole file at once, for what is small (dead letters).
pub fn encode_parquet(
    batch: &RecordBatch,
    compression: Compression,
) -> Result<Vec<u8>, ParquetError> {
    let mut writer = ArrowWriter::try_new(
        Vec::new(),
        batch.schema(),
        Some(writer_properties(compression)),
    )?;
    writer.write(batch)?;
    writer.into_inner()
}

/// The batch's rows grouped by partition directory (`day=2020-08-02`), or
/// one group with no directory for an unpartitioned sink.
pub fn split(
    batch: &RecordBatch,
    partitioning: Option<&Partitioning>,
) -> Result<Vec<(String, RecordBatch)>, ArrowError> {
    let Some(partitioning) = partitioning else {
        return Ok(vec![(String::new(), batch.clone())]);
    };
    let (source, directory_column) = match partitioning {
        Partitioning::Column { column, .. } => (column.as_str(), column.as_str()),
        Partitioning::Date { source, column } => (source.as_str(), column.as_str()),
    };
    let values = batch
        .column_by_name(source)
        .ok_or_else(|| ArrowError::SchemaError(format!("no column `{source}` to partition by")))?;
    let mut groups: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        let value = match partitioning {
            Partitioning::Column { .. } => display(values, row),
            Partitioning::Date { .. } => date(values, row),
        };
        let directory = format!("{directory_column}={}", partition_value(value.as_deref()));
        groups.entry(directory).or_default().push(row as u32);
    }
    groups
        .into_iter()
        .map(|(directory, rows)| {
            let rows = UInt32Array::from(rows);
            Ok((directory, arrow::compute::take_record_batch(batch, &rows)?))
        })
        .collect()
}

fn display(values: &ArrayRef, row: usize) -> Option<String> {
    if values.is_null(row) {
        return None;
    }
    Some(match values.data_type() {
        ArrowType::Utf8 => values.as_string::<i32>().value(row).to_string(),
        ArrowType::Int64 => values
            .as_primitive::<arrow::datatypes::Int64Type>()
            .value(row)
            .to_string(),
        ArrowType::Boolean => values.as_boolean().value(row).to_string(),
        other => unreachable!("the checker allows no partition column of type {other}"),
    })
}

fn date(values: &ArrayRef, row: usize) -> Option<String> {
    if values.is_null(row) {
        return None;
    }
    let micros = values.as_primitive::<TimestampMicrosecondType>().value(row);
    let (year, month, day) = civil_from_days(micros.div_euclid(86_400_000_000));
    Some(format!("{year:04}-{month:02}-{day:02}"))
}

/// The columns of `schema`, in its order, taken from a wider batch.
pub fn project(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            batch
                .column_by_name(field.name())
                .cloned()
                .ok_or_else(|| ArrowError::SchemaError(format!("no column `{}`", field.name())))
        })
        .collect::<Result<Vec<_>, _>>()?;
    RecordBatch::try_new(schema.clone(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{StringArray, TimestampMicrosecondArray};
    use arrow::datatypes::{Field, Schema};
    use bytes::Bytes;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("host", ArrowType::Utf8, true),
            Field::new("timestamp", crate::sink::decode::timestamp_type(), false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(vec![
                    Some("a"),
                    None,
                    Some("a/b"),
                    Some("a"),
                ])),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![0, 86_400_000_000, 86_400_000_001, -1])
                        .with_timezone("UTC"),
                ),
            ],
        )
        .unwrap()
    }

    #[test]
    fn splits_by_column_value_and_by_date() {
        let by_host = split(
            &batch(),
            Some(&Partitioning::Column {
                column: "host".into(),
                data_type: pipec_compiler::types::DataType::String,
            }),
        )
        .unwrap();
        let dirs: Vec<_> = by_host
            .iter()
            .map(|(d, b)| (d.as_str(), b.num_rows()))
            .collect();
        assert_eq!(
            dirs,
            [
                ("host=__HIVE_DEFAULT_PARTITION__", 1),
                ("host=a", 2),
                ("host=a%2Fb", 1)
            ]
        );
        let by_day = split(
            &batch(),
            Some(&Partitioning::Date {
                source: "timestamp".into(),
                column: "dt".into(),
            }),
        )
        .unwrap();
        let dirs: Vec<_> = by_day
            .iter()
            .map(|(d, b)| (d.as_str(), b.num_rows()))
            .collect();
        assert_eq!(
            dirs,
            [
                ("dt=1969-12-31", 1),
                ("dt=1970-01-01", 1),
                ("dt=1970-01-02", 2)
            ]
        );
        assert_eq!(split(&batch(), None).unwrap()[0].0, "");
    }

    #[test]
    fn parquet_round_trips_with_the_chosen_codec() {
        for compression in [
            Compression::Snappy,
            Compression::Zstd,
            Compression::Gzip,
            Compression::Lz4,
            Compression::None,
        ] {
            let bytes = encode_parquet(&batch(), compression).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes)).unwrap();
            let codec = reader.metadata().row_group(0).column(0).compression();
            let read: Vec<_> = reader.build().unwrap().map(Result::unwrap).collect();
            assert_eq!(read[0], batch(), "{compression:?}");
            assert_eq!(
                format!("{codec:?}")
                    .split('(')
                    .next()
                    .unwrap()
                    .to_lowercase()
                    .replace("_raw", "")
                    .replace("uncompressed", "none"),
                compression.name()
            );
        }
    }
}
