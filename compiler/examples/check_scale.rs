//! How `pipec check` grows with a file: parse and check a generated file of
//! N endpoints, topics, sinks and tables, for N = 1,000 and 4,000, and print
//! the time of each and the ratio per declaration (1.0 is linear). Run by
//! `bench/run` and by hand:
//!
//!     cargo run --release -p pipec-compiler --example check_scale

use pipec_compiler::{compile, Source};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// N of each: an endpoint into its own topic, a filtered sink, a table.
fn pipeline(n: usize) -> String {
    let mut text = String::from("schema e {\n  kind: string\n  n:    int?\n}\n");
    for i in 0..n {
        text.push_str(&format!(
            "\ntopic t{i} {{\n  schema e\n}}\n\n\
             endpoint GET \"/e{i}\" {{\n  into t{i}\n  set  kind = \"k{i}\"\n}}\n\n\
             sink s{i} {{\n  from       t{i}\n  where      kind == \"k{i}\"\n  path       \"s{i}\"\n  checkpoint \"c/s{i}\"\n}}\n\n\
             table default.s{i} {{\n  from s{i}\n}}\n"
        ));
    }
    text
}

/// Rounds per size. Each size keeps its best time, the least disturbed by
/// the rest of the machine; the sizes take turns within each round, so a
/// disturbance that lasts seconds falls on both rather than on one.
const ROUNDS: usize = 15;

fn check_once(text: &str) -> Duration {
    let source = Source::new("scale.pipe", text);
    let started = Instant::now();
    let checked = compile(&source, &BTreeMap::new());
    let elapsed = started.elapsed();
    assert!(checked.is_ok(), "the generated file checks clean");
    elapsed
}

fn main() {
    let sizes = [1_000usize, 4_000];
    let texts: Vec<String> = sizes.iter().map(|&n| pipeline(n)).collect();
    let mut times = vec![Duration::MAX; sizes.len()];
    for _ in 0..ROUNDS {
        for (best, text) in times.iter_mut().zip(&texts) {
            *best = (*best).min(check_once(text));
        }
    }
    for (n, time) in sizes.iter().zip(&times) {
        println!("check_scale: {n} of each: {:.3} s", time.as_secs_f64());
    }
    let per_declaration = |i: usize| times[i].as_secs_f64() / sizes[i] as f64;
    println!(
        "check_scale: time per declaration at 4,000 / at 1,000 = {:.2} (1.00 is linear)",
        per_declaration(1) / per_declaration(0)
    );
}
