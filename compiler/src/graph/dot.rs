//! The graph as Graphviz DOT.

use super::{Graph, NodeKind};

/// Graphviz DOT, laid out left to right.
pub fn to_dot(graph: &Graph) -> String {
    let mut out = String::from(
        "digraph pipeline {\n  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=11];\n  edge [fontname=\"Helvetica\", fontsize=10];\n",
    );
    for node in &graph.nodes {
        let shape = match node.kind {
            NodeKind::Endpoint => "box, style=rounded",
            NodeKind::Topic => "cylinder",
            NodeKind::Sink => "box",
            NodeKind::Table => "folder",
            NodeKind::DeadLetters => "folder, style=dashed",
        };
        let text = node
            .label
            .iter()
            .map(|l| dot_text(l))
            .collect::<Vec<_>>()
            .join("\\n");
        out.push_str(&format!(
            "  {} [shape={shape}, label=\"{text}\"];\n",
            node.id
        ));
    }
    for edge in &graph.edges {
        let mut attributes = Vec::new();
        if let Some(label) = &edge.label {
            attributes.push(format!("label=\"{}\"", dot_text(label)));
        }
        if edge.dashed {
            attributes.push("style=dashed".to_string());
        }
        let attributes = if attributes.is_empty() {
            String::new()
        } else {
            format!(" [{}]", attributes.join(", "))
        };
        out.push_str(&format!("  {} -> {}{attributes};\n", edge.from, edge.to));
    }
    out.push_str("}\n");
    out
}

fn dot_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}
