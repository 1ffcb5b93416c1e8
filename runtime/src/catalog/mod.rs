//! The pipeline's tables for SQL: one per declared table, one per sink
//! without one, and the dead-letter table, each a listing table over the
//! directory the sink writes (partitions discovered from `col=value/`).
//!
//! Identifiers resolve case-insensitively, as in Hive, Presto and Spark: the
//! files keep the declared column names (`Host`), and each table is a view
//! that names its columns in lower case (`host`), which is what unquoted SQL
//! identifiers become.

mod delta;

use crate::sink::decode::{arrow_type, dead_letter_schema, file_schema};
use crate::storage::Storage;
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use datafusion::catalog::{MemorySchemaProvider, TableProvider};
use datafusion::common::{Column, TableReference};
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::logical_expr::{col, Expr};
use datafusion::prelude::{SessionConfig, SessionContext};
use pipec_compiler::plan::{Location, Plan, Sink, DEAD_LETTER_PARTITION};
use std::path::Path;
use std::sync::Arc;

pub(crate) const CATALOG: &str = "pipec";
/// Where the raw listing tables live, under the views users query.
pub(crate) const FILES_SCHEMA: &str = "pipec_files";

/// A table as SQL sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogTable {
    pub database: String,
    pub name: String,
    pub location: String,
}

/// A session whose default schema is `default`, with every table of `plan`.
pub async fn session(plan: &Plan, data_dir: &Path) -> Result<(SessionContext, Vec<CatalogTable>)> {
    // DataFusion's own settings can be tuned through its `DATAFUSION_*`
    // environment variables (`DATAFUSION_EXECUTION_BATCH_SIZE=…`).
    let config = SessionConfig::from_env()?
        .with_default_catalog_and_schema(CATALOG, "default")
        .with_information_schema(true);
    let ctx = SessionContext::new_with_config(config);
    let mut tables = Vec::new();
    for table in &plan.tables {
        let sink = plan.sink(&table.sink);
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        let registered =
            register_sink_table(&ctx, sink, &table.database, &table.name, &columns, data_dir)
                .await?;
        tables.push(registered);
    }
    let with_table: Vec<usize> = plan.tables.iter().map(|t| t.sink.index()).collect();
    for (index, sink) in plan.sinks.iter().enumerate() {
        if with_table.contains(&index) {
            continue;
        }
        let columns: Vec<&str> = sink.columns.iter().map(|c| c.name.as_str()).collect();
        tables.push(
            register_sink_table(&ctx, sink, "default", &sink.name, &columns, data_dir).await?,
        );
    }
    let dead = &plan.dead_letters;
    let url = directory_url(&ctx, &dead.path, data_dir)?;
    let names: Vec<String> = dead_letter_schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let partition = Some((DEAD_LETTER_PARTITION, ArrowType::Utf8));
    let files = listing(&url, &dead_letter_schema(), partition)?;
    register(
        &ctx,
        &dead.database,
        &dead.table,
        files,
        &names,
        Some(DEAD_LETTER_PARTITION),
    )
    .await?;
    tables.push(CatalogTable {
        database: dead.database.clone(),
        name: dead.table.clone(),
        location: url,
    });
    Ok((ctx, tables))
}

async fn register_sink_table(
    ctx: &SessionContext,
    sink: &Sink,
    database: &str,
    name: &str,
    columns: &[&str],
    data_dir: &Path,
) -> Result<CatalogTable> {
    let file_schema = file_schema(sink);
    let partition = sink.partitioning.as_ref().map(|p| {
        let (column, data_type) = p.column();
        (column.to_string(), arrow_type(data_type))
    });
    let url = directory_url(ctx, &sink.path, data_dir)?;
    let partition_ref = partition.as_ref().map(|(c, t)| (c.as_str(), t.clone()));
    let files: Arc<dyn TableProvider> = if sink.format.delta().is_some() {
        let mut fields: Vec<Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if let Some((column, data_type)) = &partition {
            fields.push(Field::new(column, data_type.clone(), true));
        }
        let storage = Storage::open(&sink.path, data_dir)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        Arc::new(delta::LatestDeltaTable::new(
            storage,
            read_schema(&Arc::new(Schema::new(fields))),
        ))
    } else {
        listing(&url, &file_schema, partition_ref.clone())?
    };
    register(
        ctx,
        database,
        name,
        files,
        columns,
        partition_ref.map(|(c, _)| c),
    )
    .await?;
    Ok(CatalogTable {
        database: database.to_string(),
        name: name.to_string(),
        location: url,
    })
}

/// The plain Parquet files of a directory, partitions from `col=value/`.
fn listing(
    url: &str,
    file_schema: &SchemaRef,
    partition: Option<(&str, ArrowType)>,
) -> Result<Arc<dyn TableProvider>> {
    let mut options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if let Some((column, data_type)) = &partition {
        options = options.with_table_partition_cols(vec![(column.to_string(), data_type.clone())]);
    }
    let config = ListingTableConfig::new(ListingTableUrl::parse(url)?)
        .with_listing_options(options)
        .with_schema(read_schema(file_schema));
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// Registers the files as `pipec_files.database__name` and the view
/// `database.name` over them with lower-case column names.
async fn register(
    ctx: &SessionContext,
    database: &str,
    name: &str,
    files_table: Arc<dyn TableProvider>,
    columns: &[&str],
    partition: Option<&str>,
) -> Result<()> {
    ensure_schema(ctx, FILES_SCHEMA)?;
    ensure_schema(ctx, database)?;
    let files = TableReference::full(CATALOG, FILES_SCHEMA, format!("{database}__{name}"));
    ctx.register_table(files.clone(), files_table)?;
    let mut selected: Vec<Expr> = columns
        .iter()
        .map(|c| col(Column::new_unqualified(*c)).alias(c.to_lowercase()))
        .collect();
    if let Some(column) = partition {
        selected.push(col(Column::new_unqualified(column)).alias(column.to_lowercase()));
    }
    let view = ctx.table(files).await?.select(selected)?.into_view();
    ctx.register_table(
        TableReference::full(CATALOG, database.to_lowercase(), name.to_lowercase()),
        view,
    )?;
    Ok(())
}

/// The files' schema with strings and bytes read as views (`Utf8View`,
/// `BinaryView`): the Parquet reader then points into its pages instead of
/// copying every value, and DataFusion groups and compares view columns
/// without rebuilding offsets. This is what DataFusion does for a schema it
/// infers (`schema_force_view_types`); ours is declared, so it is done here.
fn read_schema(file_schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = file_schema
        .fields()
        .iter()
        .map(|field| {
            let read_as = match field.data_type() {
                ArrowType::Utf8 | ArrowType::LargeUtf8 => ArrowType::Utf8View,
                ArrowType::Binary | ArrowType::LargeBinary => ArrowType::BinaryView,
                other => other.clone(),
            };
            field.as_ref().clone().with_data_type(read_as)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

fn ensure_schema(ctx: &SessionContext, name: &str) -> Result<()> {
    let catalog = ctx
        .catalog(CATALOG)
        .ok_or_else(|| DataFusionError::Internal("the pipec catalog is missing".into()))?;
    let name = name.to_lowercase();
    if catalog.schema(&name).is_none() {
        catalog.register_schema(&name, Arc::new(MemorySchemaProvider::new()))?;
    }
    Ok(())
}

/// The directory's URL, through the same [`Storage`] the sinks write with
/// (a local directory is created, so a table with no files yet is empty
/// rather than missing). An object store (its bucket, with the sinks'
/// credentials) is registered with the session, so the tables read what
/// the sinks wrote.
fn directory_url(ctx: &SessionContext, location: &Location, data_dir: &Path) -> Result<String> {
    let storage =
        Storage::open(location, data_dir).map_err(|e| DataFusionError::External(Box::new(e)))?;
    if let Some(store_url) = storage.store_url() {
        let base = ObjectStoreUrl::parse(store_url)?;
        ctx.register_object_store(base.as_ref(), storage.object_store());
    }
    Ok(storage.reader_url())
}
