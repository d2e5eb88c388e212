//! Where each task of a workflow is drawn: a layered layout of the task graph, left to
//! right, computed without I/O so the browser draws it (and redraws it as the editor
//! changes the graph) and it is tested as a plain function.
//!
//! - Layers: a task's column is the longest path to it from a task with no `after`
//!   (roots are in column 0), so every arrow points right.
//! - Order in a column: a few sweeps of the barycenter heuristic (a task goes to the
//!   average row of its neighbours in the column before, then after), keeping the order
//!   with the fewest crossings between adjacent columns.
//! - Coordinates: fixed-size boxes, columns and rows a fixed gap apart, each column
//!   centred on the tallest one, so boxes never overlap.
//!
//! The layout accepts a graph that does not validate yet (the editor previews while the
//! user types): unknown names in `after` are ignored, and a cycle does not loop forever
//! (its tasks are pushed right at most once per task).

use super::{RunIf, TaskSpec};
use std::collections::HashMap;

/// Width of a task's box.
pub const NODE_WIDTH: f64 = 180.0;
/// Height of a task's box.
pub const NODE_HEIGHT: f64 = 52.0;
/// Horizontal gap between columns (where the arrows go).
pub const COLUMN_GAP: f64 = 70.0;
/// Vertical gap between boxes of a column.
pub const ROW_GAP: f64 = 24.0;
/// Space around the drawing.
pub const MARGIN: f64 = 12.0;

/// Sweeps of the barycenter heuristic (down then up counts as two).
const SWEEPS: usize = 8;

/// One task's box: its index in the spec, its column and row, and its top-left corner.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBox {
    pub task: usize,
    pub layer: usize,
    pub order: usize,
    pub x: f64,
    pub y: f64,
}

/// One arrow, from the task that runs first to the one that runs after it, from the right
/// edge's middle of one box to the left edge's middle of the other.
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    /// The `run_if` of the task the arrow points to: an on-failure edge is drawn apart.
    pub run_if: RunIf,
    pub x1: f64,
    pub y1: f64,
    pub x2: f64,
    pub y2: f64,
}

/// The whole drawing: a box per task (in the spec's order), the arrows, and the size.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    pub nodes: Vec<NodeBox>,
    pub edges: Vec<Edge>,
    pub width: f64,
    pub height: f64,
}

impl Edge {
    /// The arrow as an SVG path: a horizontal S-curve between its ends.
    pub fn path(&self) -> String {
        let bend = ((self.x2 - self.x1) / 2.0).max(20.0);
        format!(
            "M {:.1} {:.1} C {:.1} {:.1}, {:.1} {:.1}, {:.1} {:.1}",
            self.x1,
            self.y1,
            self.x1 + bend,
            self.y1,
            self.x2 - bend,
            self.y2,
            self.x2,
            self.y2
        )
    }
}

/// The layout of `tasks` (see the module's documentation).
pub fn layout(tasks: &[TaskSpec]) -> Layout {
    let n = tasks.len();
    if n == 0 {
        return Layout::default();
    }
    let index: HashMap<&str, usize> = tasks
        .iter()
        .enumerate()
        .rev() // the first of two tasks with the same name wins, as in validation
        .map(|(i, t)| (t.name.as_str(), i))
        .collect();
    // (upstream, downstream): the downstream task runs after the upstream one.
    let mut links: Vec<(usize, usize)> = Vec::new();
    for (to, task) in tasks.iter().enumerate() {
        for name in &task.after {
            if let Some(&from) = index.get(name.as_str())
                && from != to
                && !links.contains(&(from, to))
            {
                links.push((from, to));
            }
        }
    }

    // Longest path from the roots; at most n rounds, so a cycle ends too.
    let mut layer = vec![0usize; n];
    for _ in 0..n {
        let mut changed = false;
        for &(from, to) in &links {
            if layer[to] < layer[from] + 1 && layer[from] + 1 < n {
                layer[to] = layer[from] + 1;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let layers = layer.iter().max().map_or(0, |m| m + 1);
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); layers];
    for (task, &l) in layer.iter().enumerate() {
        columns[l].push(task);
    }

    let mut best = columns.clone();
    let mut best_crossings = crossings(&columns, &links, &layer);
    for sweep in 0..SWEEPS {
        let down = sweep % 2 == 0;
        let rows = rows_of(&columns, n);
        let range: Vec<usize> = if down {
            (1..layers).collect()
        } else {
            (0..layers.saturating_sub(1)).rev().collect()
        };
        for l in range {
            // Neighbours in the column just before (down) or just after (up); a task with
            // none keeps its row.
            let mut keyed: Vec<(f64, usize, usize)> = columns[l]
                .iter()
                .enumerate()
                .map(|(row, &task)| {
                    let neighbours: Vec<f64> = links
                        .iter()
                        .filter_map(|&(from, to)| {
                            if down && to == task && layer[from] + 1 == l {
                                Some(rows[from] as f64)
                            } else if !down && from == task && layer[to] == l + 1 {
                                Some(rows[to] as f64)
                            } else {
                                None
                            }
                        })
                        .collect();
                    let key = if neighbours.is_empty() {
                        row as f64
                    } else {
                        neighbours.iter().sum::<f64>() / neighbours.len() as f64
                    };
                    (key, row, task)
                })
                .collect();
            // Ties keep the current order, so the spec's order shows when nothing better.
            keyed.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            columns[l] = keyed.into_iter().map(|(_, _, task)| task).collect();
        }
        let c = crossings(&columns, &links, &layer);
        if c < best_crossings {
            best_crossings = c;
            best = columns.clone();
        }
    }
    let columns = best;

    let tallest = columns.iter().map(Vec::len).max().unwrap_or(1);
    let column_height =
        |count: usize| count as f64 * NODE_HEIGHT + count.saturating_sub(1) as f64 * ROW_GAP;
    let height = column_height(tallest) + 2.0 * MARGIN;
    let width =
        layers as f64 * NODE_WIDTH + layers.saturating_sub(1) as f64 * COLUMN_GAP + 2.0 * MARGIN;
    let mut nodes: Vec<Option<NodeBox>> = vec![None; n];
    for (l, column) in columns.iter().enumerate() {
        let top = MARGIN + (column_height(tallest) - column_height(column.len())) / 2.0;
        for (order, &task) in column.iter().enumerate() {
            nodes[task] = Some(NodeBox {
                task,
                layer: l,
                order,
                x: MARGIN + l as f64 * (NODE_WIDTH + COLUMN_GAP),
                y: top + order as f64 * (NODE_HEIGHT + ROW_GAP),
            });
        }
    }
    let nodes: Vec<NodeBox> = nodes.into_iter().flatten().collect();
    let edges = links
        .iter()
        .map(|&(from, to)| {
            let (a, b) = (&nodes[from], &nodes[to]);
            Edge {
                from,
                to,
                run_if: tasks[to].run_if,
                x1: a.x + NODE_WIDTH,
                y1: a.y + NODE_HEIGHT / 2.0,
                x2: b.x,
                y2: b.y + NODE_HEIGHT / 2.0,
            }
        })
        .collect();
    Layout {
        nodes,
        edges,
        width,
        height,
    }
}

/// Each task's row in its column.
fn rows_of(columns: &[Vec<usize>], n: usize) -> Vec<usize> {
    let mut rows = vec![0; n];
    for column in columns {
        for (row, &task) in column.iter().enumerate() {
            rows[task] = row;
        }
    }
    rows
}

/// Crossings between arrows joining adjacent columns (the ones the sweeps reorder).
fn crossings(columns: &[Vec<usize>], links: &[(usize, usize)], layer: &[usize]) -> usize {
    let rows = rows_of(columns, layer.len());
    let adjacent: Vec<(usize, usize, usize)> = links
        .iter()
        .filter(|&&(from, to)| layer[from] + 1 == layer[to])
        .map(|&(from, to)| (layer[from], rows[from], rows[to]))
        .collect();
    let mut count = 0;
    for (i, a) in adjacent.iter().enumerate() {
        for b in &adjacent[i + 1..] {
            if a.0 == b.0 && ((a.1 < b.1 && a.2 > b.2) || (a.1 > b.1 && a.2 < b.2)) {
                count += 1;
            }
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workflow::WorkflowSpec;
    use serde_json::json;

    fn tasks(list: &[(&str, &[&str])]) -> Vec<TaskSpec> {
        let tasks: Vec<serde_json::Value> = list
            .iter()
            .map(|(name, after)| {
                json!({"name": name, "action": {"type": "wait", "seconds": 1}, "after": after})
            })
            .collect();
        let spec: WorkflowSpec = serde_json::from_value(json!({ "tasks": tasks })).unwrap();
        spec.tasks
    }

    fn node(layout: &Layout, task: usize) -> &NodeBox {
        layout.nodes.iter().find(|b| b.task == task).unwrap()
    }

    fn assert_no_overlaps(layout: &Layout) {
        for (i, a) in layout.nodes.iter().enumerate() {
            assert!(a.x >= 0.0 && a.y >= 0.0);
            assert!(a.x + NODE_WIDTH <= layout.width && a.y + NODE_HEIGHT <= layout.height);
            for b in &layout.nodes[i + 1..] {
                let apart = a.x + NODE_WIDTH <= b.x
                    || b.x + NODE_WIDTH <= a.x
                    || a.y + NODE_HEIGHT <= b.y
                    || b.y + NODE_HEIGHT <= a.y;
                assert!(apart, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn layers_are_the_longest_path_from_the_roots() {
        // e runs after a directly and after d, which is three steps from a: column 3.
        let t = tasks(&[
            ("a", &[]),
            ("b", &["a"]),
            ("c", &["b"]),
            ("d", &["c"]),
            ("e", &["a", "d"]),
            ("f", &[]),
        ]);
        let l = layout(&t);
        let layers: Vec<usize> = (0..6).map(|i| node(&l, i).layer).collect();
        assert_eq!(layers, [0, 1, 2, 3, 4, 0]);
        // Every arrow points right.
        for e in &l.edges {
            assert!(e.x2 > e.x1, "{e:?}");
        }
        assert_eq!(l.edges.len(), 5);
        assert_no_overlaps(&l);
    }

    #[test]
    fn a_diamond_has_its_branches_side_by_side_between_the_ends() {
        let t = tasks(&[("a", &[]), ("b", &["a"]), ("c", &["a"]), ("d", &["b", "c"])]);
        let l = layout(&t);
        let (a, b, c, d) = (node(&l, 0), node(&l, 1), node(&l, 2), node(&l, 3));
        assert_eq!((a.layer, b.layer, c.layer, d.layer), (0, 1, 1, 2));
        assert_eq!(b.x, c.x);
        assert_ne!(b.y, c.y);
        // The ends sit in the middle, between the two branches.
        let middle = (b.y + c.y) / 2.0;
        assert!((a.y - middle).abs() < 1e-9, "{a:?} {middle}");
        assert!((d.y - middle).abs() < 1e-9, "{d:?} {middle}");
        assert_no_overlaps(&l);
        assert_eq!(l.width, 3.0 * NODE_WIDTH + 2.0 * COLUMN_GAP + 2.0 * MARGIN);
        assert_eq!(l.height, 2.0 * NODE_HEIGHT + ROW_GAP + 2.0 * MARGIN);
    }

    #[test]
    fn the_order_in_a_column_follows_the_neighbours_to_avoid_crossings() {
        // In the spec's order x1 would be across from b and x2 across from a: the arrows
        // a -> x1 and b -> x2 would cross. The sweeps swap x1 and x2.
        let t = tasks(&[("a", &[]), ("b", &[]), ("x2", &["b"]), ("x1", &["a"])]);
        let l = layout(&t);
        let (a, b, x2, x1) = (node(&l, 0), node(&l, 1), node(&l, 2), node(&l, 3));
        assert!(a.y < b.y);
        assert!(x1.y < x2.y, "x1 {x1:?} should be above x2 {x2:?}");
        let columns = vec![vec![0, 1], vec![3, 2]];
        let layer = vec![0, 0, 1, 1];
        assert_eq!(crossings(&columns, &[(0, 3), (1, 2)], &layer), 0);
        assert_eq!(
            crossings(&[vec![0, 1], vec![2, 3]], &[(0, 3), (1, 2)], &layer),
            1
        );
    }

    #[test]
    fn a_wide_graph_has_no_overlaps() {
        let mut list: Vec<(String, Vec<String>)> = vec![("root".into(), vec![])];
        for i in 0..12 {
            list.push((format!("t{i}"), vec!["root".into()]));
        }
        for i in 0..12 {
            list.push((
                format!("u{i}"),
                vec![format!("t{}", (i * 5) % 12), format!("t{}", (i + 1) % 12)],
            ));
        }
        let borrowed: Vec<(&str, Vec<&str>)> = list
            .iter()
            .map(|(n, a)| (n.as_str(), a.iter().map(String::as_str).collect()))
            .collect();
        let refs: Vec<(&str, &[&str])> = borrowed.iter().map(|(n, a)| (*n, a.as_slice())).collect();
        let l = layout(&tasks(&refs));
        assert_eq!(l.nodes.len(), 25);
        assert_no_overlaps(&l);
    }

    #[test]
    fn an_unfinished_graph_is_drawn_anyway() {
        // Unknown names, a task after itself and a cycle: the editor shows it while the
        // user fixes it, and the layout ends.
        let t = tasks(&[("a", &["nope", "a"]), ("b", &["c"]), ("c", &["b"])]);
        let l = layout(&t);
        assert_eq!(l.nodes.len(), 3);
        assert_eq!(l.edges.len(), 2);
        assert_no_overlaps(&l);
        assert_eq!(layout(&[]), Layout::default());
    }

    #[test]
    fn on_failure_edges_are_marked() {
        let mut t = tasks(&[("a", &[]), ("alert", &["a"])]);
        t[1].run_if = RunIf::Failure;
        let l = layout(&t);
        assert_eq!(l.edges[0].run_if, RunIf::Failure);
        assert!(l.edges[0].path().starts_with("M "));
    }
}
