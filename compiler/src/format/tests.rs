use super::format;
use crate::Source;

/// Formats `text`, checks that formatting the result changes nothing, and
/// returns it.
fn fmt(text: &str) -> String {
    let once = format(&Source::new("t.pipe", text)).expect("the text parses");
    let twice = format(&Source::new("t.pipe", once.clone())).expect("the result parses");
    assert_eq!(once, twice, "formatting is not idempotent");
    once
}

/// Lines written with `|` as their left margin, so indentation shows.
fn text(lines: &str) -> String {
    lines
        .lines()
        .map(|line| line.trim_start().strip_prefix('|').unwrap_or(line.trim()))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn the_shipped_pipelines_are_already_canonical() {
    for shipped in [
        include_str!("../../../pipelines/game_events.pipe"),
        include_str!("../../../examples/storefront.pipe"),
    ] {
        assert_eq!(fmt(shipped), shipped);
    }
}

#[test]
fn a_file_that_does_not_parse_is_refused_with_its_diagnostics() {
    let diagnostics = format(&Source::new("t.pipe", "schema s {\n  a string\n}\n")).unwrap_err();
    assert!(diagnostics.has_errors());
}

#[test]
fn values_align_after_the_longest_keyword_of_a_run() {
    let messy = text(
        "|sink s {
         |from e
         |      where   a == 1
         |path \"p\"
         |checkpoint \"c\"
         |}",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|sink s {
             |  from       e
             |  where      a == 1
             |  path       \"p\"
             |  checkpoint \"c\"
             |}"
        )
    );
}

#[test]
fn a_blank_line_a_comment_or_a_long_statement_ends_a_run() {
    let messy = text(
        "|sink s {
         |from e
         |checkpoint \"c\"
         |
         |path \"p\"
         |compression zstd
         |# the filter
         |trigger once
         |where a == 1
         |and b == 2
         |partition by x
         |}",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|sink s {
             |  from       e
             |  checkpoint \"c\"
             |
             |  path        \"p\"
             |  compression zstd
             |  # the filter
             |  trigger once
             |  where a == 1
             |    and b == 2
             |  partition by x
             |}"
        )
    );
}

#[test]
fn schema_fields_align_after_the_colon_and_from_stands_apart() {
    let messy = text(
        "|schema s {
         |extra fields reject
         |a : string ?   from   \"A-a\"
         |long_name:int
         |`odd name`: bool?
         |}",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|schema s {
             |  extra fields reject
             |  a:          string?  from \"A-a\"
             |  long_name:  int
             |  `odd name`: bool?
             |}"
        )
    );
}

#[test]
fn set_header_query_and_properties_align_their_equals() {
    let messy = text(
        "|endpoint GET \"/\" {
         |into e
         |set a = query \"a\"
         |set longer = received_time
         |respond 200
         |}
         |table t {
         |from s
         |partitioned by a, b
         |properties {
         |\"k\" = \"v\"
         |\"longer\" = \"w\"
         |}
         |}
         |test t {
         |request GET \"/\" {
         |header \"Host\" = \"h\"
         |query \"q\" = \"1\"
         |bearer \"x\"
         |}
         |}",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|endpoint GET \"/\" {
             |  into    e
             |  set     a      = query \"a\"
             |  set     longer = received_time
             |  respond 200
             |}
             |table t {
             |  from           s
             |  partitioned by a, b
             |  properties {
             |    \"k\"      = \"v\"
             |    \"longer\" = \"w\"
             |  }
             |}
             |test t {
             |  request GET \"/\" {
             |    header \"Host\" = \"h\"
             |    query \"q\"     = \"1\"
             |    bearer \"x\"
             |  }
             |}"
        )
    );
}

#[test]
fn comments_stay_where_they_were() {
    let messy = text(
        "|   # about the topic
         |topic t {   # trailing on the opening line
         |    # own line, too deep
         |schema s # the schema
         |partitions 12      # how many
         |
         |key k
         |      # before the closing brace
         |}
         |# the end",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|# about the topic
             |topic t {  # trailing on the opening line
             |  # own line, too deep
             |  schema     s   # the schema
             |  partitions 12  # how many
             |
             |  key k
             |  # before the closing brace
             |}
             |# the end"
        )
    );
}

#[test]
fn blank_lines_are_the_authors_but_never_two_nor_inside_brackets() {
    let messy = "\n\npipeline p\n\n\n\ntopic t {\n\n  schema s\n\n\n  partitions 1\n\n}\ntopic u {\n  schema s\n}\n\n\n";
    assert_eq!(
        fmt(messy),
        "pipeline p\n\ntopic t {\n  schema s\n\n  partitions 1\n}\ntopic u {\n  schema s\n}\n"
    );
}

#[test]
fn nesting_sets_the_indentation_and_json_lines_keep_their_breaks() {
    let messy = text(
        "|test t {
         |request POST \"/\" {
         |body json [
         |{ \"a\" : 1,
         |\"b\":[ 1 ,2 ] },
         |{}
         |]
         |}
         |        message m json { \"x\": 1,
         |   \"y\": { \"z\": null } }
         |expect x {
         |row {
         |a = 1,
         |longer contains \"x\",
         |}
         |row { a = 2 , b = any }
         |}
         |}",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|test t {
             |  request POST \"/\" {
             |    body json [
             |      { \"a\": 1,
             |        \"b\": [1, 2] },
             |      {}
             |    ]
             |  }
             |  message m json { \"x\": 1,
             |                   \"y\": { \"z\": null } }
             |  expect x {
             |    row {
             |      a      = 1,
             |      longer contains \"x\",
             |    }
             |    row { a = 2, b = any }
             |  }
             |}"
        )
    );
}

#[test]
fn expressions_are_spaced_but_calls_and_names_are_tight() {
    let messy = text(
        "|sink s {
         |from e
         |where not starts_with (lower( h ),\"a\")and(x%2==0 or y in[\"a\",\"b\"]) and q>-5
         |partition by date ( t ) as day
         |}
         |table db . t {
         |from s
         |}",
    );
    assert_eq!(
        fmt(&messy),
        text(
            "|sink s {
             |  from      e
             |  where     not starts_with(lower(h), \"a\") and (x % 2 == 0 or y in [\"a\", \"b\"]) and q > -5
             |  partition by date(t) as day
             |}
             |table db.t {
             |  from s
             |}"
        )
    );
}

#[test]
fn strings_numbers_and_names_are_copied_byte_for_byte() {
    let messy = "endpoint GET \"/a  b\" {\n  into `odd  topic`\n  set x = \"tab\\t # not a comment \\\"q\\\" \\u{1F600} ${A:-b}\"\n  set y = -1.50e+3\n}\n";
    let formatted = fmt(messy);
    assert!(formatted.contains("\"/a  b\""), "{formatted}");
    assert!(formatted.contains("`odd  topic`"), "{formatted}");
    assert!(
        formatted.contains("\"tab\\t # not a comment \\\"q\\\" \\u{1F600} ${A:-b}\""),
        "{formatted}"
    );
    assert!(formatted.contains("-1.50e+3"), "{formatted}");
}

#[test]
fn crlf_tabs_and_trailing_spaces_go() {
    let messy = "pipeline p   \r\n\ttopic t {\r\n\t\tschema s\t\r\n}";
    assert_eq!(fmt(messy), "pipeline p\ntopic t {\n  schema s\n}\n");
}

#[test]
fn an_empty_file_stays_empty() {
    assert_eq!(fmt(""), "");
    assert_eq!(fmt("\n\n  \n"), "");
    assert_eq!(fmt("# only a comment"), "# only a comment\n");
}

#[test]
fn line_breaks_are_the_authors() {
    // Two statements on a line stay together (and out of alignment); a
    // one-line declaration stays on one line.
    let messy = "table t { from s }\nendpoint GET \"/\" {\n  into e set a = 1\n  respond 200\n}\n";
    assert_eq!(
        fmt(messy),
        "table t { from s }\nendpoint GET \"/\" {\n  into e set a = 1\n  respond 200\n}\n"
    );
}
