//! An in-memory stand-in for Kafka, for `pipec test`: topics with their
//! declared partitions, each an append-only list of messages whose index is
//! its offset. The API produces into it and sinks read from it through the
//! same code they use with Kafka (event building, `PartitionBuffer`).

use pipec_compiler::plan::Plan;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Debug, Clone)]
pub struct MemoryMessage {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    /// When it was appended, as Kafka's message timestamp.
    pub timestamp_micros: i64,
}

#[derive(Debug, Default)]
struct MemoryTopic {
    partitions: Vec<Vec<MemoryMessage>>,
    /// Where the next message without a key goes: spread like Kafka's
    /// default partitioner spreads them.
    next_unkeyed: usize,
}

#[derive(Debug, Default)]
pub struct MemoryBus {
    topics: Mutex<BTreeMap<String, MemoryTopic>>,
}

impl MemoryBus {
    /// Every topic of the plan, with its declared partitions, empty.
    pub fn new(plan: &Plan) -> Self {
        let topics = plan
            .topics
            .iter()
            .map(|topic| {
                let partitions = vec![Vec::new(); topic.partitions.max(1) as usize];
                (
                    topic.name.clone(),
                    MemoryTopic {
                        partitions,
                        next_unkeyed: 0,
                    },
                )
            })
            .collect();
        MemoryBus {
            topics: Mutex::new(topics),
        }
    }

    /// Appends a message; its partition and offset. A key always lands on
    /// the same partition.
    pub fn send(&self, topic: &str, key: Option<&[u8]>, payload: &[u8]) -> Option<(i32, i64)> {
        let mut topics = self.topics.lock().expect("the bus lock is never poisoned");
        let topic = topics.get_mut(topic)?;
        let count = topic.partitions.len();
        let partition = match key {
            Some(key) => (fnv1a(key) % count as u64) as usize,
            None => {
                let p = topic.next_unkeyed % count;
                topic.next_unkeyed += 1;
                p
            }
        };
        let timestamp_micros = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as i64);
        let messages = &mut topic.partitions[partition];
        messages.push(MemoryMessage {
            key: key.map(<[u8]>::to_vec),
            payload: payload.to_vec(),
            timestamp_micros,
        });
        Some((partition as i32, messages.len() as i64 - 1))
    }

    /// A copy of every partition of `topic`, in partition order.
    pub fn partitions(&self, topic: &str) -> Vec<Vec<MemoryMessage>> {
        let topics = self.topics.lock().expect("the bus lock is never poisoned");
        topics
            .get(topic)
            .map(|t| t.partitions.clone())
            .unwrap_or_default()
    }
}

/// FNV-1a: stable across runs and platforms, unlike `DefaultHasher`.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf29ce484222325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x100000001b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipec_compiler::{compile, Source};

    #[test]
    fn keys_stick_to_a_partition_and_offsets_count_per_partition() {
        let text = "schema e {\n a: string\n}\ntopic t {\n schema e\n partitions 3\n}";
        let plan = compile(&Source::new("t.pipe", text), &BTreeMap::new())
            .unwrap()
            .plan;
        let bus = MemoryBus::new(&plan);
        let first = bus.send("t", Some(b"k"), b"1").unwrap();
        let second = bus.send("t", Some(b"k"), b"2").unwrap();
        assert_eq!(first.0, second.0);
        assert_eq!((first.1, second.1), (0, 1));
        let spread: std::collections::BTreeSet<i32> = (0..3)
            .map(|_| bus.send("t", None, b"x").unwrap().0)
            .collect();
        assert_eq!(spread.len(), 3, "unkeyed messages spread over partitions");
        assert_eq!(bus.partitions("t").iter().map(Vec::len).sum::<usize>(), 5);
        assert!(bus.send("nope", None, b"x").is_none());
    }
}
