//! The registrar against a metastore kept in memory, which can be made to
//! stop answering: what it creates, alters, refuses and registers.

use super::*;
use pipec_compiler::{compile, Source};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

const PIPELINE: &str = "schema e {\n kind: string\n n: int\n}\ntopic t { schema e }\n\
    sink kinds { from t\n path \"kinds\"\n checkpoint \"cp\"\n partition by kind }\n\
    table shop.kinds { from kinds }";

#[derive(Default)]
struct Memory {
    down: AtomicBool,
    databases: Mutex<BTreeSet<String>>,
    tables: Mutex<BTreeMap<String, Table>>,
    partitions: Mutex<BTreeMap<String, Vec<NewPartition>>>,
    calls: Mutex<Vec<String>>,
}

impl Memory {
    fn answer(&self, call: &str) -> Result<(), CatalogError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(CatalogError::Unreachable {
                uri: "thrift://memory".into(),
                reason: "connection refused".into(),
            });
        }
        self.calls.lock().unwrap().push(call.to_string());
        Ok(())
    }

    fn registered(&self) -> Vec<Vec<String>> {
        let partitions = self.partitions.lock().unwrap();
        let mut values: Vec<Vec<String>> = partitions
            .values()
            .flatten()
            .map(|(v, _)| v.clone())
            .collect();
        values.sort();
        values
    }
}

fn key(database: &str, name: &str) -> String {
    format!("{database}.{name}")
}

#[async_trait::async_trait]
impl Catalog for Memory {
    async fn ensure_database(&self, name: &str, _location: &str) -> Result<(), CatalogError> {
        self.answer("ensure_database")?;
        self.databases.lock().unwrap().insert(name.to_string());
        Ok(())
    }

    async fn table(&self, database: &str, name: &str) -> Result<Option<Table>, CatalogError> {
        self.answer("get_table")?;
        Ok(self
            .tables
            .lock()
            .unwrap()
            .get(&key(database, name))
            .cloned())
    }

    async fn create_table(&self, table: &Table) -> Result<(), CatalogError> {
        self.answer("create_table")?;
        self.tables
            .lock()
            .unwrap()
            .insert(key(&table.database, &table.name), table.clone());
        Ok(())
    }

    async fn alter_columns(&self, table: &Table) -> Result<(), CatalogError> {
        self.answer("alter_table")?;
        let mut tables = self.tables.lock().unwrap();
        let registered = tables.get_mut(&key(&table.database, &table.name)).unwrap();
        registered.columns = table.columns.clone();
        Ok(())
    }

    async fn add_partitions(
        &self,
        table: &Table,
        partitions: &[NewPartition],
    ) -> Result<(), CatalogError> {
        self.answer("add_partitions")?;
        let mut all = self.partitions.lock().unwrap();
        let known = all.entry(key(&table.database, &table.name)).or_default();
        for partition in partitions {
            if !known.contains(partition) {
                known.push(partition.clone());
            }
        }
        Ok(())
    }
}

struct Scratch {
    plan: Plan,
    dir: PathBuf,
    memory: Arc<Memory>,
    metrics: Arc<Metrics>,
}

impl Scratch {
    fn new(name: &str) -> Scratch {
        let compiled = compile(&Source::new("t.pipe", PIPELINE), &BTreeMap::new()).unwrap();
        let dir = std::env::temp_dir().join(format!("pipec-hms-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        Scratch {
            plan: compiled.plan,
            dir,
            memory: Arc::new(Memory::default()),
            metrics: Arc::new(Metrics::new()),
        }
    }

    fn registrar(&self) -> Registrar {
        Registrar::new(
            &self.plan,
            &self.dir,
            "thrift://memory",
            self.memory.clone(),
            self.metrics.clone(),
        )
        .unwrap()
    }

    /// A commit made a file visible in `kinds/kind=VALUE/`.
    fn commit(&self, value: &str) {
        let directory = self.dir.join("kinds").join(format!("kind={value}"));
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("part-0.parquet"), b"rows").unwrap();
    }

    fn swords(&self) -> Table {
        self.memory.tables.lock().unwrap()["shop.kinds"].clone()
    }
}

#[tokio::test]
async fn creates_the_database_and_table_then_registers_each_directory_once() {
    let scratch = Scratch::new("create");
    let mut registrar = scratch.registrar();
    registrar.prepare(Duration::from_secs(5)).await.unwrap();
    assert!(scratch.memory.databases.lock().unwrap().contains("shop"));
    let table = scratch.swords();
    assert_eq!(table.partition_keys[0].name, "kind");
    assert!(table.location.starts_with("file:///"), "{}", table.location);
    // Staged files are no partition.
    std::fs::create_dir_all(scratch.dir.join("kinds/.pipec-staging/t-000")).unwrap();
    scratch.commit("sword");
    assert_eq!(registrar.round().await.unwrap(), 0);
    scratch.commit("guild");
    registrar.round().await.unwrap();
    registrar.round().await.unwrap();
    assert_eq!(
        scratch.memory.registered(),
        [vec!["guild".to_string()], vec!["sword".to_string()]]
    );
    let adds = scratch
        .memory
        .calls
        .lock()
        .unwrap()
        .iter()
        .filter(|c| *c == "add_partitions")
        .count();
    assert_eq!(adds, 2, "a round with nothing new calls nothing");
    let location = &scratch.memory.partitions.lock().unwrap()["shop.kinds"][0].1;
    assert!(location.ends_with("/kinds/kind=sword"), "{location}");
}

#[tokio::test]
async fn partitions_committed_while_the_metastore_is_down_wait_and_are_counted() {
    let scratch = Scratch::new("down");
    let mut registrar = scratch.registrar();
    scratch.memory.down.store(true, Ordering::SeqCst);
    // Down at start: the sinks start anyway.
    registrar.prepare(Duration::from_secs(5)).await.unwrap();
    scratch.commit("sword");
    scratch.commit("guild");
    assert!(registrar.round().await.is_err());
    assert_eq!(registrar.count_unregistered().await, 2);
    let gauge = scratch
        .metrics
        .metastore_unregistered
        .with_label_values(&["shop.kinds"]);
    assert_eq!(gauge.get(), 2);
    scratch.memory.down.store(false, Ordering::SeqCst);
    assert_eq!(registrar.round().await.unwrap(), 0);
    assert_eq!(scratch.memory.registered().len(), 2);
    assert_eq!(gauge.get(), 0);
}

#[tokio::test]
async fn an_added_column_is_altered_in_and_a_retyped_one_changes_nothing() {
    let scratch = Scratch::new("alter");
    let mut wanted = metastore::table(
        &ddl::tables(
            &scratch.plan,
            &DdlOptions::new(
                std::path::absolute(&scratch.dir)
                    .unwrap()
                    .display()
                    .to_string(),
            ),
            Dialect::Hive,
        )[0],
    );
    let full = wanted.columns.clone();
    wanted.columns.pop();
    scratch.memory.create_table(&wanted).await.unwrap();
    scratch
        .registrar()
        .prepare(Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(scratch.swords().columns, full, "the new column is added");

    let mut retyped = scratch.swords();
    retyped.columns.last_mut().unwrap().type_name = "string".into();
    scratch
        .memory
        .tables
        .lock()
        .unwrap()
        .insert("shop.kinds".into(), retyped.clone());
    scratch.memory.calls.lock().unwrap().clear();
    let error = scratch
        .registrar()
        .prepare(Duration::from_secs(5))
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("is string in the metastore and bigint in the pipeline"),
        "{error}"
    );
    assert_eq!(scratch.swords(), retyped, "the metastore is left as it was");
    let calls = scratch.memory.calls.lock().unwrap().clone();
    assert!(calls.iter().all(|c| c == "get_table"), "{calls:?}");
}

#[test]
fn a_metastore_uri_is_thrift_host_and_port() {
    assert_eq!(
        parse_uri("thrift://127.0.0.1:9083"),
        Ok(("127.0.0.1".into(), 9083))
    );
    assert_eq!(parse_uri("thrift://hms:9083/"), Ok(("hms".into(), 9083)));
    for (uri, why) in [
        ("http://hms:9083", "does not start with thrift://"),
        ("thrift://hms", "no port"),
        ("thrift://:9083", "no host"),
        ("thrift://hms:port", "`port` is not a port"),
        ("thrift://hms:0", "`0` is not a port"),
    ] {
        let error = parse_uri(uri).unwrap_err();
        assert!(error.contains(why) && error.contains(uri), "{uri}: {error}");
    }
}
