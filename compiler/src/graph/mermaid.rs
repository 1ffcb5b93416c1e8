//! The graph as Mermaid, which GitHub draws in Markdown.

use super::{Graph, NodeKind};

/// Mermaid, as GitHub renders it in Markdown (` ```mermaid ` blocks).
pub fn to_mermaid(graph: &Graph) -> String {
    let mut out = String::from("flowchart LR\n");
    for node in &graph.nodes {
        let text = node
            .label
            .iter()
            .map(|line| mermaid_text(line))
            .collect::<Vec<_>>()
            .join("<br/>");
        let (open, close) = match node.kind {
            NodeKind::Endpoint => ("([", "])"),
            NodeKind::Topic => ("[(", ")]"),
            NodeKind::Sink => ("[", "]"),
            NodeKind::Table | NodeKind::DeadLetters => ("[/", "/]"),
        };
        out.push_str(&format!("  {}{open}\"{text}\"{close}\n", node.id));
    }
    for edge in &graph.edges {
        let arrow = if edge.dashed { "-.->" } else { "-->" };
        match &edge.label {
            Some(label) => out.push_str(&format!(
                "  {} {arrow}|\"{}\"| {}\n",
                edge.from,
                mermaid_text(label),
                edge.to
            )),
            None => out.push_str(&format!("  {} {arrow} {}\n", edge.from, edge.to)),
        }
    }
    out
}

/// Text inside Mermaid's quotes: `"` and the characters Mermaid reads as
/// markup become entity codes.
fn mermaid_text(text: &str) -> String {
    text.replace('&', "#amp;")
        .replace('"', "#quot;")
        .replace('<', "#lt;")
        .replace('>', "#gt;")
}
