//! The registrar's calls over the metastore's Thrift API, through the
//! `hive_metastore` crate (the iceberg-rust authors' generated client, on
//! volo-thrift): `get_database`, `create_database`, `get_table_req`
//! (Hive 4 dropped `get_table`),
//! `create_table`, `alter_table` and `add_partitions_req` with
//! `ifNotExists`. Buffered transport and the binary protocol, as Hive's
//! own clients use. Tested against Apache Hive's standalone metastore
//! 4.0.1 (tests/services/hms.sh).

use super::{parse_uri, Catalog, CatalogError, MetastoreError, NewPartition};
use hive_metastore::{
    AddPartitionsRequest, Database, FieldSchema, GetTableRequest, Partition, SerDeInfo,
    StorageDescriptor, ThriftHiveMetastoreClient, ThriftHiveMetastoreClientBuilder,
    ThriftHiveMetastoreCreateDatabaseException, ThriftHiveMetastoreGetDatabaseException,
    ThriftHiveMetastoreGetTableReqException,
};
use pilota::{AHashMap, FastStr};
use pipec_compiler::ddl::metastore::{self, Column, Table};
use std::net::ToSocketAddrs;
use std::time::Duration;
use volo_thrift::MaybeException;

/// A call that takes longer is a metastore that is not answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ThriftCatalog {
    uri: String,
    client: ThriftHiveMetastoreClient,
}

impl ThriftCatalog {
    pub fn new(uri: &str) -> Result<ThriftCatalog, MetastoreError> {
        let (host, port) = parse_uri(uri).map_err(MetastoreError::Uri)?;
        let address = (host.as_str(), port)
            .to_socket_addrs()
            .ok()
            .and_then(|mut addresses| addresses.next())
            .ok_or_else(|| {
                MetastoreError::Uri(format!(
                    "the metastore host `{host}` of `{uri}` does not resolve"
                ))
            })?;
        let client = ThriftHiveMetastoreClientBuilder::new("hms")
            .address(address)
            .make_codec(volo_thrift::codec::default::DefaultMakeCodec::buffered())
            .build();
        Ok(ThriftCatalog {
            uri: uri.to_string(),
            client,
        })
    }

    fn unreachable(&self, reason: impl std::fmt::Display) -> CatalogError {
        CatalogError::Unreachable {
            uri: self.uri.clone(),
            reason: reason.to_string(),
        }
    }

    /// Runs a call with the timeout; a transport error or a timeout is the
    /// metastore not answering, another error its answer.
    async fn call<T, E>(
        &self,
        name: &str,
        call: impl std::future::Future<Output = Result<MaybeException<T, E>, volo_thrift::ClientError>>,
    ) -> Result<Result<T, E>, CatalogError> {
        match tokio::time::timeout(CALL_TIMEOUT, call).await {
            Err(_) => Err(self.unreachable(format!("no answer in {}s", CALL_TIMEOUT.as_secs()))),
            Ok(Err(error @ volo_thrift::ClientError::Transport(_))) => Err(self.unreachable(error)),
            Ok(Err(error)) => Err(refused(name, error)),
            Ok(Ok(MaybeException::Ok(value))) => Ok(Ok(value)),
            Ok(Ok(MaybeException::Exception(exception))) => Ok(Err(exception)),
        }
    }
}

impl ThriftCatalog {
    async fn get_table(
        &self,
        database: &str,
        name: &str,
    ) -> Result<Result<hive_metastore::Table, ThriftHiveMetastoreGetTableReqException>, CatalogError>
    {
        let request = GetTableRequest {
            db_name: text(database),
            tbl_name: text(name),
            capabilities: None,
        };
        let answer = self
            .call("get_table_req", self.client.get_table_req(request))
            .await?;
        Ok(answer.map(|result| result.table))
    }
}

fn refused(call: &str, exception: impl std::fmt::Debug) -> CatalogError {
    CatalogError::Refused {
        call: call.to_string(),
        reason: format!("{exception:?}"),
    }
}

fn text(value: &str) -> FastStr {
    FastStr::new(value)
}

fn map(pairs: &[(String, String)]) -> AHashMap<FastStr, FastStr> {
    pairs.iter().map(|(k, v)| (text(k), text(v))).collect()
}

fn fields(columns: &[Column]) -> Vec<FieldSchema> {
    columns
        .iter()
        .map(|c| FieldSchema {
            name: Some(text(&c.name)),
            r#type: Some(text(&c.type_name)),
            comment: None,
        })
        .collect()
}

/// Parquet files at `location`, as `STORED AS PARQUET` describes them.
fn storage(columns: &[Column], location: &str) -> StorageDescriptor {
    StorageDescriptor {
        cols: Some(fields(columns)),
        location: Some(text(location)),
        input_format: Some(text(metastore::INPUT_FORMAT)),
        output_format: Some(text(metastore::OUTPUT_FORMAT)),
        compressed: Some(false),
        num_buckets: Some(-1),
        serde_info: Some(SerDeInfo {
            name: None,
            serialization_lib: Some(text(metastore::SERDE)),
            parameters: Some(map(&[("serialization.format".into(), "1".into())])),
        }),
        bucket_cols: Some(Vec::new()),
        sort_cols: Some(Vec::new()),
        parameters: Some(AHashMap::default()),
        ..Default::default()
    }
}

fn thrift_table(table: &Table) -> hive_metastore::Table {
    hive_metastore::Table {
        table_name: Some(text(&table.name)),
        db_name: Some(text(&table.database)),
        owner: Some(text("pipec")),
        create_time: Some(unix_seconds()),
        last_access_time: Some(0),
        retention: Some(0),
        sd: Some(storage(&table.columns, &table.location)),
        partition_keys: Some(fields(&table.partition_keys)),
        parameters: Some(map(&table.parameters)),
        table_type: Some(text("EXTERNAL_TABLE")),
        ..Default::default()
    }
}

fn unix_seconds() -> i32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i32)
        .unwrap_or(0)
}

/// The model of a table read back: what [`metastore::compare`] looks at.
fn model(table: &hive_metastore::Table) -> Table {
    let columns = |fields: Option<&Vec<FieldSchema>>| -> Vec<Column> {
        fields
            .map(|fields| {
                fields
                    .iter()
                    .map(|f| Column {
                        name: f.name.as_deref().unwrap_or_default().to_ascii_lowercase(),
                        type_name: f.r#type.as_deref().unwrap_or_default().to_ascii_lowercase(),
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    let sd = table.sd.as_ref();
    Table {
        database: table.db_name.as_deref().unwrap_or_default().to_string(),
        name: table.table_name.as_deref().unwrap_or_default().to_string(),
        columns: columns(sd.and_then(|sd| sd.cols.as_ref())),
        partition_keys: columns(table.partition_keys.as_ref()),
        location: sd
            .and_then(|sd| sd.location.as_deref())
            .unwrap_or_default()
            .to_string(),
        parameters: table
            .parameters
            .iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}

#[async_trait::async_trait]
impl Catalog for ThriftCatalog {
    async fn ensure_database(&self, name: &str, location: &str) -> Result<(), CatalogError> {
        match self
            .call("get_database", self.client.get_database(text(name)))
            .await?
        {
            Ok(_) => return Ok(()),
            Err(ThriftHiveMetastoreGetDatabaseException::O1(_)) => {}
            Err(other) => return Err(refused("get_database", other)),
        }
        let database = Database {
            name: Some(text(name)),
            description: Some(text("created by pipec")),
            location_uri: Some(text(location)),
            parameters: Some(AHashMap::default()),
            ..Default::default()
        };
        match self
            .call("create_database", self.client.create_database(database))
            .await?
        {
            // Another worker made it first.
            Ok(()) | Err(ThriftHiveMetastoreCreateDatabaseException::O1(_)) => Ok(()),
            Err(other) => Err(refused("create_database", other)),
        }
    }

    async fn table(&self, database: &str, name: &str) -> Result<Option<Table>, CatalogError> {
        match self.get_table(database, name).await? {
            Ok(table) => Ok(Some(model(&table))),
            Err(ThriftHiveMetastoreGetTableReqException::O2(_)) => Ok(None),
            Err(other) => Err(refused("get_table", other)),
        }
    }

    async fn create_table(&self, table: &Table) -> Result<(), CatalogError> {
        match self
            .call(
                "create_table",
                self.client.create_table(thrift_table(table)),
            )
            .await?
        {
            Ok(()) => Ok(()),
            // Another worker made it first: the next round compares it.
            Err(hive_metastore::ThriftHiveMetastoreCreateTableException::O1(_)) => Ok(()),
            Err(other) => Err(refused("create_table", other)),
        }
    }

    async fn alter_columns(&self, table: &Table) -> Result<(), CatalogError> {
        // The registered table with only its columns changed: what Hive's
        // own ALTER TABLE ... ADD COLUMNS sends.
        let mut registered = match self.get_table(&table.database, &table.name).await? {
            Ok(registered) => registered,
            Err(other) => return Err(refused("get_table", other)),
        };
        if let Some(sd) = registered.sd.as_mut() {
            sd.cols = Some(fields(&table.columns));
        }
        match self
            .call(
                "alter_table",
                self.client
                    .alter_table(text(&table.database), text(&table.name), registered),
            )
            .await?
        {
            Ok(()) => Ok(()),
            Err(other) => Err(refused("alter_table", other)),
        }
    }

    async fn add_partitions(
        &self,
        table: &Table,
        partitions: &[NewPartition],
    ) -> Result<(), CatalogError> {
        let parts = partitions
            .iter()
            .map(|(values, location)| Partition {
                values: Some(values.iter().map(|v| text(v)).collect()),
                db_name: Some(text(&table.database)),
                table_name: Some(text(&table.name)),
                create_time: Some(unix_seconds()),
                last_access_time: Some(0),
                sd: Some(storage(&table.columns, location)),
                parameters: Some(AHashMap::default()),
                ..Default::default()
            })
            .collect();
        let request = AddPartitionsRequest {
            db_name: text(&table.database),
            tbl_name: text(&table.name),
            parts,
            if_not_exists: true,
            need_result: Some(false),
            cat_name: None,
        };
        match self
            .call(
                "add_partitions_req",
                self.client.add_partitions_req(request),
            )
            .await?
        {
            Ok(_) => Ok(()),
            Err(other) => Err(refused("add_partitions_req", other)),
        }
    }
}
