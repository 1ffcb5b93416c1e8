//! What the bench binaries share.

/// CPU time (user + system) this process has used so far, over all its
/// threads (librdkafka's and tokio's included), in seconds.
///
/// Read from `/proc/self/stat` (fields 14 and 15, in the kernel's fixed
/// `USER_HZ` of 100 ticks a second): the whole-job bound of topic → Parquet
/// adds the CPU-seconds of the read and of the decode-and-encode limit, and
/// wall time alone cannot tell how much of both cores a limit used.
pub fn process_cpu_seconds() -> std::io::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    cpu_seconds_of_stat(&stat).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unexpected /proc/self/stat: {stat}"),
        )
    })
}

const USER_HZ: f64 = 100.0;

fn cpu_seconds_of_stat(stat: &str) -> Option<f64> {
    // The command name (field 2) is in parentheses and may hold spaces:
    // fields are counted from the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11); // fields 3..=13
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_and_system_ticks_are_summed_past_a_command_with_spaces() {
        let stat = "4242 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 250 125 0 0 20 0 9";
        assert_eq!(cpu_seconds_of_stat(stat), Some(3.75));
        assert_eq!(cpu_seconds_of_stat("garbage"), None);
    }
}
