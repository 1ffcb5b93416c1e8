//! Every pipeline file runs through parse and check here, with a snapshot of
//! what the user would see: the rendered diagnostics of each invalid fixture
//! (source and carets together), the plan of each valid pipeline.
//!
//! An invalid fixture names the codes it must produce in its first line,
//! `# expect: E0101 E0104`, so removing a check fails its fixture twice:
//! the expected code goes missing and the snapshot changes.

use pipec_compiler::render::{render, Style};
use pipec_compiler::{compile, Code, Severity, Source};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Fixtures see a fixed environment, never the machine's.
fn environment() -> BTreeMap<String, String> {
    BTreeMap::from([("PIPEC_FIXTURE_ROOT".to_string(), "/srv/pipec".to_string())])
}

fn relative(path: &Path) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn expected_codes(text: &str) -> BTreeSet<String> {
    let first = text.lines().next().unwrap_or_default();
    let codes = first.strip_prefix("# expect:").unwrap_or_else(|| {
        panic!("an invalid fixture starts with `# expect: CODE...`, not {first:?}")
    });
    codes.split_whitespace().map(str::to_string).collect()
}

#[test]
fn invalid_fixtures() {
    insta::glob!("fixtures/invalid/*.pipe", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let source = Source::new(relative(path), text.clone());
        let expected = expected_codes(&text);
        let diagnostics = match compile(&source, &environment()) {
            Ok(checked) => {
                assert!(
                    expected.iter().all(|c| c.starts_with('W')),
                    "{}: expected errors {expected:?}, but it checks clean",
                    source.name
                );
                checked.warnings
            }
            Err(diagnostics) => diagnostics,
        };
        let produced: BTreeSet<String> = diagnostics
            .iter()
            .map(|d| d.code.as_str().to_string())
            .collect();
        let missing: Vec<_> = expected.difference(&produced).collect();
        assert!(
            missing.is_empty(),
            "{}: expected {missing:?} among {produced:?}",
            source.name
        );
        let rendered: Vec<String> = diagnostics
            .iter()
            .map(|d| render(&source, d, Style::Plain))
            .collect();
        insta::assert_snapshot!(format!(
            "----- SOURCE CODE\n{text}\n----- DIAGNOSTICS\n{}",
            rendered.join("\n")
        ));
    });
}

#[test]
fn every_code_has_a_fixture() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut covered = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("tests/fixtures/invalid")).unwrap() {
        let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
        covered.extend(expected_codes(&text));
    }
    // `pipec diff`'s codes: the new file of each pair names them.
    for entry in std::fs::read_dir(root.join("tests/fixtures/evolve")).unwrap() {
        let path = entry.unwrap().path();
        if path.to_string_lossy().ends_with(".new.pipe") {
            covered.extend(expected_codes(&std::fs::read_to_string(path).unwrap()));
        }
    }
    let missing: Vec<_> = Code::ALL
        .iter()
        .map(|c| c.as_str())
        .filter(|c| !covered.contains(*c))
        .collect();
    assert!(missing.is_empty(), "codes without a fixture: {missing:?}");
    assert!(covered.len() >= 30);
}

/// A valid pipeline: no errors, no warnings, and a snapshot of its plan.
fn check_clean(path: &Path) {
    let text = std::fs::read_to_string(path).unwrap();
    let source = Source::new(relative(path), text);
    match compile(&source, &environment()) {
        Ok(result) => {
            let warnings: Vec<_> = result
                .warnings
                .iter()
                .filter(|d| d.severity == Severity::Warning)
                .map(|d| render(&source, d, Style::Plain))
                .collect();
            assert!(
                warnings.is_empty(),
                "{}:\n{}",
                source.name,
                warnings.join("\n")
            );
            let stem = path.file_stem().unwrap().to_string_lossy();
            insta::assert_snapshot!(format!("plan@{stem}"), result.plan.to_yaml());
            assert_ddl_snapshots(&stem, &result.plan);
            let drawn = pipec_compiler::graph::graph(&result.plan);
            insta::assert_snapshot!(
                format!("graph_mermaid@{stem}"),
                pipec_compiler::graph::to_mermaid(&drawn)
            );
        }
        Err(diagnostics) => {
            let rendered: Vec<_> = diagnostics
                .iter()
                .map(|d| render(&source, d, Style::Plain))
                .collect();
            panic!("{} does not check:\n{}", source.name, rendered.join("\n"));
        }
    }
}

/// Every table of a plan in every dialect, with a fixed data directory.
fn assert_ddl_snapshots(stem: &str, plan: &pipec_compiler::Plan) {
    use pipec_compiler::ddl::{generate, DdlOptions, Dialect};
    let options = DdlOptions::new("/srv/pipec/data");
    for (dialect, name) in [
        (Dialect::Hive, "hive"),
        (Dialect::Spark, "spark"),
        (Dialect::Trino, "trino"),
    ] {
        // Hive cannot read a Delta table: its snapshot is the error.
        let ddl = generate(plan, dialect, &options, None).unwrap_or_else(|e| format!("error: {e}"));
        insta::assert_snapshot!(format!("ddl_{name}@{stem}"), ddl);
    }
}

#[test]
fn ddl_fixtures_check_clean() {
    insta::glob!("fixtures/ddl", "*.pipe", check_clean);
}

#[test]
fn pipelines_check_clean() {
    insta::glob!("../pipelines", "*.pipe", check_clean);
}

#[test]
fn test_pipelines_check_clean() {
    insta::glob!("pipelines", "*.pipe", check_clean);
}

#[test]
fn examples_check_clean() {
    insta::glob!("../examples", "*.pipe", check_clean);
}

/// Checks a file that must check clean, for the pairs of `pipec diff`.
fn checked(source: &Source) -> pipec_compiler::Plan {
    match compile(source, &environment()) {
        Ok(checked) => checked.plan,
        Err(diagnostics) => {
            let rendered: Vec<_> = diagnostics
                .iter()
                .map(|d| render(source, d, Style::Plain))
                .collect();
            panic!("{} does not check:\n{}", source.name, rendered.join("\n"));
        }
    }
}

/// `NAME.old.pipe` → `NAME.new.pipe`: exactly the codes the new file's
/// first line expects, the changes as `pipec diff` prints them, and the
/// `ALTER TABLE`s of `pipec ddl --alter` in each dialect.
#[test]
fn evolve_fixtures() {
    use pipec_compiler::ddl::{alter, DdlOptions, Dialect};
    use pipec_compiler::evolve;
    insta::glob!("fixtures/evolve", "*.new.pipe", |path| {
        let old_path = path.with_file_name(
            path.file_name()
                .unwrap()
                .to_string_lossy()
                .replace(".new.pipe", ".old.pipe"),
        );
        let read = |p: &Path| Source::new(relative(p), std::fs::read_to_string(p).unwrap());
        let (old_source, new_source) = (read(&old_path), read(path));
        let (old, new) = (checked(&old_source), checked(&new_source));
        let ast = pipec_compiler::parse(&new_source).unwrap();
        let changes = evolve::diff(&old, &new, &ast);
        let produced: BTreeSet<String> = changes
            .iter()
            .map(|c| c.code.as_str().to_string())
            .collect();
        assert_eq!(
            produced,
            expected_codes(&new_source.text),
            "{}",
            new_source.name
        );
        let rendered: Vec<String> = changes
            .iter()
            .map(|c| evolve::render(&new_source, c, Style::Plain))
            .collect();
        insta::assert_snapshot!("diff", rendered.join("\n"));
        let options = DdlOptions::new("/srv/pipec/data");
        let altered: Vec<String> = [
            (Dialect::Hive, "hive"),
            (Dialect::Spark, "spark"),
            (Dialect::Trino, "trino"),
        ]
        .into_iter()
        .map(|(dialect, name)| format!("----- {name}\n{}", alter(&old, &new, dialect, &options)))
        .collect();
        insta::assert_snapshot!("alter", altered.join("\n"));
    });
}
