//! A Delta sink's table for SQL: every scan reads the table's latest
//! snapshot (so a query sees whole commits only, and a long-lived session
//! such as `POST /sql` sees each new commit by its next query), through
//! delta-rs's own DataFusion provider, never by listing the directory.

use crate::sink::delta;
use crate::storage::Storage;
use arrow::datatypes::{Schema, SchemaRef};
use async_trait::async_trait;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_expr::expressions::{cast, Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::empty::EmptyExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

#[derive(Debug)]
pub struct LatestDeltaTable {
    storage: Storage,
    /// The sink's columns as SQL reads them: stable whatever the table's
    /// snapshot holds (a column the table has not got yet reads as null).
    schema: SchemaRef,
}

impl LatestDeltaTable {
    pub fn new(storage: Storage, schema: SchemaRef) -> Self {
        LatestDeltaTable { storage, schema }
    }
}

#[async_trait]
impl TableProvider for LatestDeltaTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let wanted = Arc::new(match projection {
            Some(indices) => self.schema.project(indices)?,
            None => self.schema.as_ref().clone(),
        });
        let external = |e: delta::DeltaError| DataFusionError::External(Box::new(e));
        let started = std::time::Instant::now();
        let Some((table, snapshot)) = delta::snapshot(&self.storage).await.map_err(external)?
        else {
            // No commit yet: the sink creates the table at its first claim.
            return Ok(Arc::new(EmptyExec::new(wanted)));
        };
        let version = snapshot.version();
        let snapshot_taken = started.elapsed();
        table
            .update_datafusion_session(state)
            .map_err(|e| DataFusionError::External(Box::new(e)))?;
        let provider = table.table_provider().with_snapshot(snapshot).await?;
        let table_schema = provider.schema();
        let present: Vec<usize> = wanted
            .fields()
            .iter()
            .filter_map(|f| table_schema.index_of(f.name()).ok())
            .collect();
        let input = provider.scan(state, Some(&present), &[], limit).await?;
        tracing::debug!(
            table = %self.storage.display(),
            version,
            snapshot_ms = snapshot_taken.as_secs_f64() * 1e3,
            planned_ms = started.elapsed().as_secs_f64() * 1e3,
            "read the Delta table's latest snapshot"
        );
        if wanted.fields().is_empty() {
            return Ok(input);
        }
        let input_schema: Arc<Schema> = input.schema();
        let mut exprs: Vec<(Arc<dyn PhysicalExpr>, String)> = Vec::new();
        for field in wanted.fields() {
            let expr: Arc<dyn PhysicalExpr> = match input_schema.index_of(field.name()) {
                Ok(index) => cast(
                    Arc::new(Column::new(field.name(), index)),
                    &input_schema,
                    field.data_type().clone(),
                )?,
                Err(_) => Arc::new(Literal::new(ScalarValue::try_from(field.data_type())?)),
            };
            exprs.push((expr, field.name().clone()));
        }
        Ok(Arc::new(ProjectionExec::try_new(exprs, input)?))
    }
}
