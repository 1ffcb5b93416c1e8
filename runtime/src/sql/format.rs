//! Query results as text: a table like the Presto CLI's, CSV, and JSON.

use super::QueryResult;
use arrow::datatypes::DataType;
use arrow::error::ArrowError;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// ```text
///        host        | total_events
/// -------------------+--------------
///  user1.comcast.com |          223
/// (1 row)
/// ```
pub fn to_table(result: &QueryResult) -> Result<String, ArrowError> {
    let fields = result.schema.fields();
    let options = FormatOptions::default().with_null("NULL");
    let mut rows: Vec<Vec<String>> = Vec::new();
    for batch in &result.batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            rows.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect(),
            );
        }
    }
    let widths: Vec<usize> = fields
        .iter()
        .enumerate()
        .map(|(i, field)| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain(std::iter::once(field.name().chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let numeric: Vec<bool> = fields.iter().map(|f| is_numeric(f.data_type())).collect();
    let mut out = String::new();
    let header: Vec<String> = fields
        .iter()
        .zip(&widths)
        .map(|(field, width)| {
            let name = field.name();
            let total = width - name.chars().count();
            let left = total / 2;
            format!(" {}{}{} ", " ".repeat(left), name, " ".repeat(total - left))
        })
        .collect();
    out.push_str(&header.join("|"));
    out.push('\n');
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(w + 2)).collect();
    out.push_str(&rule.join("+"));
    out.push('\n');
    for row in &rows {
        let cells: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(i, value)| {
                let pad = " ".repeat(widths[i] - value.chars().count());
                if numeric[i] {
                    format!(" {pad}{value} ")
                } else {
                    format!(" {value}{pad} ")
                }
            })
            .collect();
        out.push_str(&cells.join("|"));
        out.push('\n');
    }
    let count = rows.len();
    out.push_str(&format!(
        "({count} row{})\n",
        if count == 1 { "" } else { "s" }
    ));
    if result.truncated {
        out.push_str("(more rows were cut by the row limit)\n");
    }
    Ok(out)
}

fn is_numeric(data_type: &DataType) -> bool {
    data_type.is_numeric()
}

pub fn to_csv(result: &QueryResult) -> Result<String, ArrowError> {
    let mut buffer = Vec::new();
    {
        let mut writer = arrow::csv::WriterBuilder::new()
            .with_header(true)
            .build(&mut buffer);
        if result.batches.is_empty() {
            writer.write(&arrow::record_batch::RecordBatch::new_empty(
                result.schema.clone(),
            ))?;
        }
        for batch in &result.batches {
            writer.write(batch)?;
        }
    }
    Ok(String::from_utf8(buffer).expect("CSV is UTF-8"))
}

/// One JSON object per row.
pub fn to_json_rows(result: &QueryResult) -> Result<Vec<serde_json::Value>, ArrowError> {
    let mut buffer = Vec::new();
    {
        let mut writer = arrow::json::ArrayWriter::new(&mut buffer);
        for batch in &result.batches {
            writer.write(batch)?;
        }
        writer.finish()?;
    }
    if buffer.is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_slice(&buffer).map_err(|e| ArrowError::JsonError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{Field, Schema};
    use arrow::record_batch::RecordBatch;
    use std::sync::Arc;

    fn result() -> QueryResult {
        let schema = Arc::new(Schema::new(vec![
            Field::new("host", DataType::Utf8, true),
            Field::new("total_events", DataType::Int64, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(vec![
                    "user1.comcast.com",
                    "user2.att.com",
                ])),
                Arc::new(Int64Array::from(vec![223, 302])),
            ],
        )
        .unwrap();
        QueryResult {
            schema,
            batches: vec![batch],
            truncated: false,
        }
    }

    #[test]
    fn tables_look_like_the_presto_cli() {
        assert_eq!(
            to_table(&result()).unwrap(),
            "       host        | total_events \n\
             -------------------+--------------\n \
             user1.comcast.com |          223 \n \
             user2.att.com     |          302 \n\
             (2 rows)\n"
        );
    }

    #[test]
    fn csv_and_json() {
        assert_eq!(
            to_csv(&result()).unwrap(),
            "host,total_events\nuser1.comcast.com,223\nuser2.att.com,302\n"
        );
        let rows = to_json_rows(&result()).unwrap();
        assert_eq!(
            rows[1],
            serde_json::json!({"host": "user2.att.com", "total_events": 302})
        );
    }
}
