//! The graph as SVG, laid out and drawn here rather than by Graphviz, so
//! `pipec graph --format svg` and the status page need nothing installed.
//!
//! The layout is layered left to right by what a node is: endpoints, then
//! topics, then sinks, then tables with the dead-letter table under them.
//! Every endpoint feeds one topic and every sink reads one topic and writes
//! one table, so ordering each column by the position of its neighbours
//! leaves no two solid edges crossing; only the dashed dead-letter edges,
//! which all end in one node, cross the sink-to-table edges.
//!
//! Text is set in a monospace font, whose advance is 0.6 em in every common
//! monospace face, so a label's width is known without measuring glyphs and
//! boxes always fit their text. The picture has its own opaque background,
//! so it looks the same in light and dark viewers.

use super::{Graph, Node, NodeKind};
use std::collections::BTreeMap;
use std::fmt::Write;

/// How the picture is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SvgStyle {
    /// A picture on its own (`pipec graph --format svg`, the README).
    Static,
    /// The status page's: every node has empty `live-{id}-{n}` lines that
    /// the page fills with figures.
    Live,
}

const FONT_PX: f64 = 12.0;
const CHAR_PX: f64 = FONT_PX * 0.6;
const LINE_PX: f64 = 16.0;
const CAPTION_PX: f64 = 13.0;
const PAD_X: f64 = 12.0;
const PAD_Y: f64 = 8.0;
const COLUMN_GAP: f64 = 72.0;
const ROW_GAP: f64 = 14.0;
const MARGIN: f64 = 16.0;
/// Longer lines (filters, mostly) wrap at a space.
const WRAP_CHARS: usize = 44;
/// Room for the status page's figures, e.g. `lag 0 · 12,345 rows · 3 files`.
const LIVE_CHARS: usize = 34;

/// The number of figure lines the status page writes into a node.
pub fn live_lines(kind: NodeKind) -> usize {
    match kind {
        NodeKind::Sink => 2,
        _ => 1,
    }
}

/// The graph drawn as a standalone SVG document.
pub fn to_svg(graph: &Graph, style: SvgStyle) -> String {
    let boxes = measure(graph, style);
    let placed = place(graph, &boxes);
    render(graph, &boxes, &placed, style)
}

/// A node's text and size, before it is placed.
struct Measured {
    lines: Vec<String>,
    live: usize,
    width: f64,
    height: f64,
}

fn column(kind: NodeKind) -> usize {
    match kind {
        NodeKind::Endpoint => 0,
        NodeKind::Topic => 1,
        NodeKind::Sink => 2,
        NodeKind::Table | NodeKind::DeadLetters => 3,
    }
}

fn caption(kind: NodeKind) -> &'static str {
    match kind {
        NodeKind::Endpoint => "endpoint",
        NodeKind::Topic => "topic",
        NodeKind::Sink => "sink",
        NodeKind::Table => "table",
        NodeKind::DeadLetters => "dead letters",
    }
}

fn measure(graph: &Graph, style: SvgStyle) -> Vec<Measured> {
    let mut boxes: Vec<Measured> = graph
        .nodes
        .iter()
        .map(|node| {
            let mut lines: Vec<String> = Vec::new();
            for line in &node.label {
                lines.extend(wrap(line, WRAP_CHARS));
            }
            // An edge's label (a sink's filter) is drawn inside the node it
            // enters: labels on curves collide, labels in boxes cannot.
            for edge in graph.edges.iter().filter(|e| e.to == node.id) {
                if let Some(label) = &edge.label {
                    lines.extend(wrap(label, WRAP_CHARS));
                }
            }
            let live = match style {
                SvgStyle::Static => 0,
                SvgStyle::Live => live_lines(node.kind),
            };
            let widest = lines
                .iter()
                .map(|l| l.chars().count())
                .chain([caption(node.kind).len()])
                .chain((live > 0).then_some(LIVE_CHARS))
                .max()
                .unwrap_or(0);
            Measured {
                width: widest as f64 * CHAR_PX + 2.0 * PAD_X,
                height: CAPTION_PX + (lines.len() + live) as f64 * LINE_PX + 2.0 * PAD_Y,
                lines,
                live,
            }
        })
        .collect();
    // One width per column: edges leave and enter a column at one x.
    let mut widths = [0.0f64; 4];
    for (node, measured) in graph.nodes.iter().zip(&boxes) {
        let c = column(node.kind);
        widths[c] = widths[c].max(measured.width);
    }
    for (node, measured) in graph.nodes.iter().zip(&mut boxes) {
        measured.width = widths[column(node.kind)];
    }
    boxes
}

/// Splits a line at spaces so no piece is longer than `width` characters,
/// unless a single word is.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        let fits = current.chars().count() + 1 + word.chars().count() <= width;
        if !current.is_empty() && !fits {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(current);
    out
}

/// Each node's position in `graph.nodes`, by id.
fn node_index(graph: &Graph) -> BTreeMap<&str, usize> {
    graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i))
        .collect()
}

/// A node's top-left corner.
#[derive(Debug, Clone, Copy, Default)]
struct Position {
    x: f64,
    y: f64,
}

fn place(graph: &Graph, boxes: &[Measured]) -> Vec<Position> {
    let index = node_index(graph);
    // The solid edge into a node (a sink's topic, a table's sink) and out of
    // an endpoint (its topic).
    let parent = |i: usize| {
        graph
            .edges
            .iter()
            .find(|e| !e.dashed && index.get(e.to.as_str()) == Some(&i))
            .and_then(|e| index.get(e.from.as_str()).copied())
    };
    let target = |i: usize| {
        graph
            .edges
            .iter()
            .find(|e| !e.dashed && index.get(e.from.as_str()) == Some(&i))
            .and_then(|e| index.get(e.to.as_str()).copied())
    };
    let of_kind = |kind: NodeKind| -> Vec<usize> {
        (0..graph.nodes.len())
            .filter(|&i| graph.nodes[i].kind == kind)
            .collect()
    };
    let topics = of_kind(NodeKind::Topic);
    let order_in = |list: &[usize], i: Option<usize>| {
        i.and_then(|i| list.iter().position(|&n| n == i))
            .unwrap_or(usize::MAX)
    };
    let mut sinks = of_kind(NodeKind::Sink);
    sinks.sort_by_key(|&s| order_in(&topics, parent(s)));
    let mut endpoints = of_kind(NodeKind::Endpoint);
    endpoints.sort_by_key(|&e| order_in(&topics, target(e)));

    let mut centre = vec![f64::NAN; graph.nodes.len()];
    // Sinks and their tables share rows; the dead letters go below.
    let mut y = 0.0;
    for &sink in &sinks {
        let table = (0..graph.nodes.len())
            .find(|&t| graph.nodes[t].kind == NodeKind::Table && parent(t) == Some(sink));
        let height = table.map_or(boxes[sink].height, |t| {
            boxes[sink].height.max(boxes[t].height)
        });
        centre[sink] = y + height / 2.0;
        if let Some(table) = table {
            centre[table] = centre[sink];
        }
        y += height + ROW_GAP;
    }
    let mut bottom_of_tables = y;
    for t in of_kind(NodeKind::Table) {
        if centre[t].is_nan() {
            centre[t] = bottom_of_tables + boxes[t].height / 2.0;
            bottom_of_tables += boxes[t].height + ROW_GAP;
        }
    }
    for dead in of_kind(NodeKind::DeadLetters) {
        centre[dead] = bottom_of_tables + boxes[dead].height / 2.0;
        bottom_of_tables += boxes[dead].height + ROW_GAP;
    }
    // A topic sits in the middle of the sinks that read it.
    let mean = |members: Vec<usize>, centre: &[f64]| {
        (!members.is_empty())
            .then(|| members.iter().map(|&m| centre[m]).sum::<f64>() / members.len() as f64)
    };
    let wanted: Vec<Option<f64>> = topics
        .iter()
        .map(|&t| {
            mean(
                sinks
                    .iter()
                    .copied()
                    .filter(|&s| parent(s) == Some(t))
                    .collect(),
                &centre,
            )
        })
        .collect();
    pack(&topics, &wanted, boxes, &mut centre);
    // Endpoints stack around the topic they feed.
    let mut wanted = Vec::new();
    for (k, &e) in endpoints.iter().enumerate() {
        let topic = target(e);
        let first = k == 0 || target(endpoints[k - 1]) != topic;
        if !first {
            wanted.push(None);
            continue;
        }
        let group: Vec<usize> = endpoints[k..]
            .iter()
            .copied()
            .take_while(|&other| target(other) == topic)
            .collect();
        let total: f64 = group
            .iter()
            .map(|&g| boxes[g].height + ROW_GAP)
            .sum::<f64>()
            - ROW_GAP;
        wanted.push(topic.map(|t| centre[t] - total / 2.0 + boxes[e].height / 2.0));
    }
    pack(&endpoints, &wanted, boxes, &mut centre);

    // Columns left to right, empty ones taking no room.
    let mut widths = [0.0f64; 4];
    for (node, measured) in graph.nodes.iter().zip(boxes) {
        let c = column(node.kind);
        widths[c] = widths[c].max(measured.width);
    }
    let mut left = [0.0f64; 4];
    let mut x = MARGIN;
    for c in 0..4 {
        left[c] = x;
        if widths[c] > 0.0 {
            x += widths[c] + COLUMN_GAP;
        }
    }
    let top = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, _)| centre[i] - boxes[i].height / 2.0)
        .fold(f64::INFINITY, f64::min);
    let shift = if top.is_finite() {
        MARGIN - top
    } else {
        MARGIN
    };
    graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, node)| {
            let c = column(node.kind);
            Position {
                x: left[c],
                y: centre[i] - boxes[i].height / 2.0 + shift,
            }
        })
        .collect()
}

/// Places a column's nodes, in order, as near their wanted centres as they
/// can be without overlapping; a node without a wish follows the one above.
fn pack(order: &[usize], wanted: &[Option<f64>], boxes: &[Measured], centre: &mut [f64]) {
    let mut bottom = f64::NEG_INFINITY;
    for (&node, wish) in order.iter().zip(wanted) {
        let half = boxes[node].height / 2.0;
        let lowest = bottom + ROW_GAP + half;
        let wish = wish.unwrap_or(if bottom.is_finite() { lowest } else { half });
        centre[node] = if bottom.is_finite() {
            wish.max(lowest)
        } else {
            wish
        };
        bottom = centre[node] + half;
    }
}

struct Palette {
    fill: &'static str,
    stroke: &'static str,
}

fn palette(kind: NodeKind) -> Palette {
    let (fill, stroke) = match kind {
        NodeKind::Endpoint => ("#e8f1fd", "#3572c6"),
        NodeKind::Topic => ("#fdf3e1", "#b7700c"),
        NodeKind::Sink => ("#e6f5ea", "#2f8a4c"),
        NodeKind::Table => ("#f1ebfa", "#7150b5"),
        NodeKind::DeadLetters => ("#fdecec", "#c0392b"),
    };
    Palette { fill, stroke }
}

fn render(graph: &Graph, boxes: &[Measured], placed: &[Position], style: SvgStyle) -> String {
    let width = placed
        .iter()
        .zip(boxes)
        .map(|(p, b)| p.x + b.width)
        .fold(0.0, f64::max)
        + MARGIN;
    let height = placed
        .iter()
        .zip(boxes)
        .map(|(p, b)| p.y + b.height)
        .fold(0.0, f64::max)
        + MARGIN;
    let (width, height) = (width.ceil(), height.ceil());
    let mut out = String::new();
    let _ = writeln!(
        out,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace" font-size="{FONT_PX}" role="img">"##
    );
    let names: Vec<&str> = graph
        .nodes
        .iter()
        .filter_map(|n| n.label.first().map(String::as_str))
        .collect();
    let _ = writeln!(
        out,
        "<title>{}</title>",
        escape(&format!("pipeline: {}", names.join(", ")))
    );
    out.push_str(concat!(
        "<defs><marker id=\"pipec-arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" ",
        "markerWidth=\"7\" markerHeight=\"7\" orient=\"auto\">",
        "<path d=\"M0,0 L10,5 L0,10 z\" fill=\"#57606a\"/></marker></defs>\n"
    ));
    let _ = writeln!(
        out,
        r##"<rect width="{width}" height="{height}" rx="8" fill="#ffffff" stroke="#d0d7de"/>"##
    );
    let index = node_index(graph);
    for edge in &graph.edges {
        let (Some(&from), Some(&to)) = (index.get(edge.from.as_str()), index.get(edge.to.as_str()))
        else {
            continue;
        };
        let (x1, y1) = (
            placed[from].x + boxes[from].width,
            placed[from].y + boxes[from].height / 2.0,
        );
        let (x2, y2) = (placed[to].x, placed[to].y + boxes[to].height / 2.0);
        let bend = (x2 - x1) / 2.0;
        let dash = if edge.dashed {
            r##" stroke="#c0392b" stroke-dasharray="5 4" opacity="0.7""##
        } else {
            r##" stroke="#57606a""##
        };
        let _ = writeln!(
            out,
            r#"<path class="edge" d="M{x1:.1},{y1:.1} C{:.1},{y1:.1} {:.1},{y2:.1} {x2:.1},{y2:.1}" fill="none" stroke-width="1.4"{dash} marker-end="url(#pipec-arrow)"/>"#,
            x1 + bend,
            x2 - bend,
        );
    }
    for ((node, measured), at) in graph.nodes.iter().zip(boxes).zip(placed) {
        node_svg(&mut out, node, measured, *at, style);
    }
    out.push_str("</svg>\n");
    out
}

fn node_svg(out: &mut String, node: &Node, measured: &Measured, at: Position, style: SvgStyle) {
    let Palette { fill, stroke } = palette(node.kind);
    let radius = match node.kind {
        NodeKind::Endpoint => 14.0,
        NodeKind::Topic => 8.0,
        _ => 3.0,
    };
    let dash = if node.kind == NodeKind::DeadLetters {
        r#" stroke-dasharray="5 3""#
    } else {
        ""
    };
    let _ = writeln!(
        out,
        r#"<g class="node {}" id="node-{}">"#,
        caption(node.kind).replace(' ', "-"),
        node.id
    );
    let _ = writeln!(
        out,
        r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="{radius}" fill="{fill}" stroke="{stroke}" stroke-width="1.5"{dash}/>"#,
        at.x, at.y, measured.width, measured.height
    );
    let x = at.x + PAD_X;
    let mut baseline = at.y + PAD_Y + 9.0;
    let _ = writeln!(
        out,
        r#"<text x="{x:.1}" y="{baseline:.1}" font-size="9" letter-spacing="0.5" fill="{stroke}">{}</text>"#,
        caption(node.kind).to_uppercase()
    );
    baseline += CAPTION_PX - 9.0 + 12.0;
    for (i, line) in measured.lines.iter().enumerate() {
        let weight = if i == 0 { r#" font-weight="bold""# } else { "" };
        let _ = writeln!(
            out,
            r##"<text x="{x:.1}" y="{baseline:.1}" fill="#1f2328"{weight} xml:space="preserve">{}</text>"##,
            escape(line)
        );
        baseline += LINE_PX;
    }
    if style == SvgStyle::Live {
        for n in 0..measured.live {
            let _ = writeln!(
                out,
                r##"<text class="live" id="live-{}-{n}" x="{x:.1}" y="{baseline:.1}" fill="#0b5cad"></text>"##,
                node.id
            );
            baseline += LINE_PX;
        }
    }
    out.push_str("</g>\n");
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::graph;
    use crate::{compile, Source};

    fn seed() -> Graph {
        let text = include_str!("../../../pipelines/game_events.pipe");
        let plan = compile(
            &Source::new("seed.pipe", text),
            &std::collections::BTreeMap::new(),
        )
        .unwrap()
        .plan;
        graph(&plan)
    }

    fn overlap(a: (Position, &Measured), b: (Position, &Measured)) -> bool {
        a.0.x < b.0.x + b.1.width
            && b.0.x < a.0.x + a.1.width
            && a.0.y < b.0.y + b.1.height
            && b.0.y < a.0.y + a.1.height
    }

    #[test]
    fn no_two_nodes_overlap_and_columns_run_left_to_right() {
        for style in [SvgStyle::Static, SvgStyle::Live] {
            let graph = seed();
            let boxes = measure(&graph, style);
            let placed = place(&graph, &boxes);
            for i in 0..placed.len() {
                assert!(placed[i].x >= MARGIN && placed[i].y >= MARGIN - 0.01);
                for j in i + 1..placed.len() {
                    assert!(
                        !overlap((placed[i], &boxes[i]), (placed[j], &boxes[j])),
                        "{} overlaps {}",
                        graph.nodes[i].id,
                        graph.nodes[j].id
                    );
                }
            }
            for edge in graph.edges.iter() {
                let at = |id: &str| graph.nodes.iter().position(|n| n.id == id).unwrap();
                let (from, to) = (at(&edge.from), at(&edge.to));
                assert!(
                    placed[from].x + boxes[from].width < placed[to].x,
                    "{} -> {} does not run left to right",
                    edge.from,
                    edge.to
                );
            }
        }
    }

    #[test]
    fn every_label_line_is_inside_its_box() {
        let graph = seed();
        let boxes = measure(&graph, SvgStyle::Static);
        for (node, measured) in graph.nodes.iter().zip(&boxes) {
            for line in &measured.lines {
                let needed = line.chars().count() as f64 * CHAR_PX + 2.0 * PAD_X;
                assert!(needed <= measured.width + 0.01, "{}: {line}", node.id);
            }
        }
        // The filter moved from the edge into the sink's box.
        let svg = to_svg(&graph, SvgStyle::Static);
        assert!(
            svg.contains("where event_type == &quot;purchase_sword&quot;"),
            "{svg}"
        );
    }

    #[test]
    fn wrapping_keeps_every_word_and_breaks_only_at_spaces() {
        let line =
            "where country in (\"de\", \"fr\", \"it\") and amount * 2 > 100 or not sku is null";
        let pieces = wrap(line, 20);
        assert_eq!(pieces.join(" "), line);
        assert!(pieces.iter().all(|p| p.chars().count() <= 20), "{pieces:?}");
        assert_eq!(wrap("short", 20), vec!["short"]);
    }

    #[test]
    fn the_live_picture_has_a_slot_for_every_figure() {
        let graph = seed();
        let svg = to_svg(&graph, SvgStyle::Live);
        for node in &graph.nodes {
            for n in 0..live_lines(node.kind) {
                assert!(svg.contains(&format!("id=\"live-{}-{n}\"", node.id)));
            }
        }
        assert!(!to_svg(&graph, SvgStyle::Static).contains("class=\"live\""));
    }
}
