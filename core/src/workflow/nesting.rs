//! Workflows that run other workflows (`{"type": "workflow"}` tasks): the rules that keep
//! the nesting finite. A workflow must not include itself, directly or through others,
//! and the chain of workflows run by workflows is at most [`MAX_NESTING_DEPTH`] deep.
//!
//! Checked twice, as other workflows may change after one is saved: at save and at a
//! run's start over the saved workflows ([`check_nesting`]), and when a task starts its
//! child run over the runs that actually started it ([`check_ancestry`]).

use crate::ids::WorkflowId;
use std::collections::{HashMap, HashSet};

/// Most levels of workflows run by a workflow task below a run started otherwise (a
/// person, a schedule): a workflow running one that runs one is 2 deep.
pub const MAX_NESTING_DEPTH: usize = 4;

/// A saved workflow as the nesting check sees it: its name, and the workflows its tasks
/// run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    pub runs: Vec<WorkflowId>,
}

/// Why a workflow's nesting is refused, with the names on the way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NestingProblem {
    /// Workflows that run each other, the first repeated at the end (`A -> B -> A`).
    Cycle(Vec<String>),
    /// The chain of workflows that goes deeper than [`MAX_NESTING_DEPTH`].
    TooDeep(Vec<String>),
}

impl NestingProblem {
    /// In words an analyst reads.
    pub fn message(&self) -> String {
        match self {
            NestingProblem::Cycle(names) => format!(
                "These workflows run each other, so a run would never end: {}. A workflow cannot include itself, directly or through other workflows; remove one of these workflow tasks.",
                names.join(" -> ")
            ),
            NestingProblem::TooDeep(names) => format!(
                "Workflows run other workflows at most {MAX_NESTING_DEPTH} levels deep; this chain is {} deep: {}.",
                names.len() - 1,
                names.join(" -> ")
            ),
        }
    }
}

/// Checks the workflows reachable from `root` in `graph` (the root with its tasks as they
/// are to be saved, the others as saved; ids absent from it are left to the reference
/// check). On a problem, answers the workflow run by the root's task that leads to it.
pub fn check_nesting(
    root: WorkflowId,
    graph: &HashMap<WorkflowId, Node>,
) -> Result<(), (WorkflowId, NestingProblem)> {
    struct Walk<'a> {
        graph: &'a HashMap<WorkflowId, Node>,
        path: Vec<WorkflowId>,
        on_path: HashSet<WorkflowId>,
        /// Levels below each workflow already walked through.
        height: HashMap<WorkflowId, usize>,
    }
    impl Walk<'_> {
        fn name(&self, id: WorkflowId) -> String {
            self.graph
                .get(&id)
                .map(|n| n.name.clone())
                .unwrap_or_default()
        }
        fn visit(&mut self, id: WorkflowId) -> Result<usize, Vec<WorkflowId>> {
            self.path.push(id);
            self.on_path.insert(id);
            let mut height = 0;
            let children = self
                .graph
                .get(&id)
                .map(|n| n.runs.clone())
                .unwrap_or_default();
            for child in children {
                if !self.graph.contains_key(&child) {
                    continue;
                }
                if self.on_path.contains(&child) {
                    let start = self.path.iter().position(|&p| p == child).unwrap_or(0);
                    let mut cycle = self.path[start..].to_vec();
                    cycle.push(child);
                    return Err(cycle);
                }
                let below = match self.height.get(&child) {
                    Some(&h) => h,
                    None => self.visit(child)?,
                };
                height = height.max(below + 1);
            }
            self.path.pop();
            self.on_path.remove(&id);
            self.height.insert(id, height);
            Ok(height)
        }
    }
    let mut walk = Walk {
        graph,
        path: Vec::new(),
        on_path: HashSet::new(),
        height: HashMap::new(),
    };
    match walk.visit(root) {
        Err(cycle) => {
            // The root's task that leads to the cycle: the path's second workflow.
            let via = walk.path.get(1).copied().unwrap_or(root);
            let names = cycle.iter().map(|&id| walk.name(id)).collect();
            Err((via, NestingProblem::Cycle(names)))
        }
        Ok(height) if height > MAX_NESTING_DEPTH => {
            // Down the deepest branch.
            let mut chain = vec![root];
            let mut at = root;
            while let Some(next) = graph[&at]
                .runs
                .iter()
                .filter(|c| walk.height.contains_key(c))
                .max_by_key(|c| walk.height[c])
            {
                chain.push(*next);
                at = *next;
            }
            let names = chain.iter().map(|&id| walk.name(id)).collect();
            Err((chain[1], NestingProblem::TooDeep(names)))
        }
        Ok(_) => Ok(()),
    }
}

/// When a task of a run of workflow `ancestors[0]` is to start a run of `child`:
/// `ancestors` are the workflows of that run and of the runs above it, nearest first.
/// Refuses a child that is one of them (a loop made by changes since the start) or one
/// level too deep; the message names the chain, top first.
pub fn check_ancestry(
    child: WorkflowId,
    ancestors: &[(WorkflowId, String)],
    child_name: &str,
) -> Result<(), String> {
    let chain = || {
        let mut names: Vec<&str> = ancestors.iter().rev().map(|(_, n)| n.as_str()).collect();
        names.push(child_name);
        names
    };
    if ancestors.iter().any(|(id, _)| *id == child) {
        return Err(
            NestingProblem::Cycle(chain().into_iter().map(str::to_owned).collect()).message(),
        );
    }
    if ancestors.len() > MAX_NESTING_DEPTH {
        return Err(
            NestingProblem::TooDeep(chain().into_iter().map(str::to_owned).collect()).message(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn graph(
        edges: &[(&str, &[&str])],
    ) -> (HashMap<&'static str, WorkflowId>, HashMap<WorkflowId, Node>) {
        let mut ids = HashMap::new();
        for (name, runs) in edges {
            for n in std::iter::once(name).chain(runs.iter()) {
                let leaked: &'static str = Box::leak(n.to_string().into_boxed_str());
                ids.entry(leaked).or_insert_with(WorkflowId::new);
            }
        }
        let nodes = edges
            .iter()
            .map(|(name, runs)| {
                (
                    ids[name],
                    Node {
                        name: name.to_string(),
                        runs: runs.iter().map(|r| ids[r]).collect(),
                    },
                )
            })
            .collect();
        (ids, nodes)
    }

    #[test]
    fn a_workflow_including_itself_is_refused_with_the_cycle_named() {
        let (ids, g) = graph(&[("A", &["A"])]);
        let (via, problem) = check_nesting(ids["A"], &g).unwrap_err();
        assert_eq!(via, ids["A"]);
        assert_eq!(problem, NestingProblem::Cycle(vec!["A".into(), "A".into()]));

        let (ids, g) = graph(&[("A", &["B"]), ("B", &["C"]), ("C", &["A"])]);
        let (via, problem) = check_nesting(ids["A"], &g).unwrap_err();
        assert_eq!(via, ids["B"]);
        assert!(
            problem.message().contains("A -> B -> C -> A"),
            "{}",
            problem.message()
        );
    }

    #[test]
    fn a_diamond_is_fine_and_depth_is_limited() {
        let (ids, g) = graph(&[("A", &["B", "C"]), ("B", &["D"]), ("C", &["D"]), ("D", &[])]);
        assert_eq!(check_nesting(ids["A"], &g), Ok(()));
        let (ids, g) = graph(&[
            ("L0", &["L1"]),
            ("L1", &["L2"]),
            ("L2", &["L3"]),
            ("L3", &["L4"]),
            ("L4", &[]),
        ]);
        assert_eq!(
            check_nesting(ids["L0"], &g),
            Ok(()),
            "4 levels below is the limit"
        );
        let (ids, g) = graph(&[
            ("L0", &["X", "L1"]),
            ("X", &[]),
            ("L1", &["L2"]),
            ("L2", &["L3"]),
            ("L3", &["L4"]),
            ("L4", &["L5"]),
            ("L5", &[]),
        ]);
        let (via, problem) = check_nesting(ids["L0"], &g).unwrap_err();
        assert_eq!(via, ids["L1"]);
        assert_eq!(
            problem.message(),
            "Workflows run other workflows at most 4 levels deep; this chain is 5 deep: L0 -> L1 -> L2 -> L3 -> L4 -> L5."
        );
    }

    #[test]
    fn unknown_workflows_are_left_to_the_reference_check() {
        let (ids, mut g) = graph(&[("A", &["B"]), ("B", &[])]);
        g.remove(&ids["B"]);
        assert_eq!(check_nesting(ids["A"], &g), Ok(()));
    }

    #[test]
    fn ancestry_refuses_loops_and_depth_at_run_time() {
        let a = WorkflowId::new();
        let b = WorkflowId::new();
        let up = vec![(b, "B".to_owned()), (a, "A".to_owned())];
        let e = check_ancestry(a, &up, "A").unwrap_err();
        assert!(e.contains("A -> B -> A"), "{e}");
        assert_eq!(check_ancestry(WorkflowId::new(), &up, "C"), Ok(()));
        let deep: Vec<(WorkflowId, String)> = (0..=MAX_NESTING_DEPTH)
            .map(|i| (WorkflowId::new(), format!("W{i}")))
            .collect();
        let e = check_ancestry(WorkflowId::new(), &deep, "C").unwrap_err();
        assert!(e.contains("at most 4 levels"), "{e}");
    }
}
