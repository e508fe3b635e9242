//! The gate mode's wait graph: who waits for whom in the cluster. A gated object's pods wait
//! for its Jobs, a Job's pod for the Job before it and for the objects it follows, and a
//! Job's `waitFor` for the objects behind the Service it names. A cycle is a release that
//! never becomes ready, so the graph refuses every edge that would close one: it stays
//! acyclic by construction, and [`Graph::path`] names the way round for the message.
//!
//! Jobs are added in list order with their own waits only (nothing waits for a new Job yet),
//! which can never close a cycle; only a gate, an edge *into* a Job, can.

/// A node: a job of the list, or a document of the stream that runs pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Node {
    /// A job, by its position in the `deploy_jobs` list.
    Job(usize),
    /// An object of the stream, by document index.
    Object(usize),
}

/// `from` waits for `to`; `why` finishes the sentence `<from> waits for <to> (<why>)`.
#[derive(Debug, Clone, PartialEq)]
struct Edge {
    from: Node,
    to: Node,
    why: String,
}

/// The waits so far, and how to name each node in a message.
#[derive(Debug, Clone, Default)]
pub struct Graph {
    edges: Vec<Edge>,
    names: Vec<(Node, String)>,
}

impl Graph {
    /// Names a node for messages (`Job migrate`, `StatefulSet/db`).
    pub fn name(&mut self, node: Node, name: String) {
        if !self.names.iter().any(|(n, _)| *n == node) {
            self.names.push((node, name));
        }
    }

    /// Adds `from` waits for `to`. The caller has checked, with [`Graph::path`], that `to`
    /// does not already reach `from`.
    pub fn add(&mut self, from: Node, to: Node, why: impl Into<String>) {
        debug_assert!(self.path(to, from).is_none(), "a cycle slipped in");
        self.edges.push(Edge {
            from,
            to,
            why: why.into(),
        });
    }

    /// The waits that lead from `from` to `to`, shortest first, as a sentence per step:
    /// `Job seed waits for Job migrate (it runs after it, in list order)`. `None` when
    /// `from` does not wait for `to`, even indirectly; empty when they are the same node.
    pub fn path(&self, from: Node, to: Node) -> Option<Vec<String>> {
        // Breadth first, remembering the edge each node was reached by.
        let mut reached: Vec<(Node, Option<usize>)> = vec![(from, None)];
        let mut next = 0;
        while next < reached.len() {
            let (node, _) = reached[next];
            if node == to {
                return Some(self.steps(&reached, next));
            }
            for (e, edge) in self.edges.iter().enumerate() {
                if edge.from == node && !reached.iter().any(|(n, _)| *n == edge.to) {
                    reached.push((edge.to, Some(e)));
                }
            }
            next += 1;
        }
        None
    }

    /// Every node `from` waits for, directly or not.
    pub fn reach(&self, from: Node) -> Vec<Node> {
        let mut out = vec![from];
        let mut next = 0;
        while next < out.len() {
            let node = out[next];
            for edge in self.edges.iter().filter(|e| e.from == node) {
                if !out.contains(&edge.to) {
                    out.push(edge.to);
                }
            }
            next += 1;
        }
        out.remove(0);
        out
    }

    fn steps(&self, reached: &[(Node, Option<usize>)], mut at: usize) -> Vec<String> {
        let mut steps = Vec::new();
        while let Some(e) = reached[at].1 {
            let edge = &self.edges[e];
            steps.push(format!(
                "{} waits for {} ({})",
                self.label(edge.from),
                self.label(edge.to),
                edge.why
            ));
            at = reached
                .iter()
                .position(|(n, _)| *n == edge.from)
                .expect("an edge's start was reached first");
        }
        steps.reverse();
        steps
    }

    fn label(&self, node: Node) -> String {
        self.names
            .iter()
            .find(|(n, _)| *n == node)
            .map(|(_, name)| name.clone())
            .unwrap_or_else(|| format!("{node:?}"))
    }

    /// Whether any path leads from a node back to itself (never, by construction).
    pub fn has_cycle(&self) -> bool {
        self.edges
            .iter()
            .any(|e| e.from == e.to || self.path(e.to, e.from).is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn graph() -> Graph {
        let mut g = Graph::default();
        g.name(Node::Job(0), "Job migrate".into());
        g.name(Node::Job(1), "Job seed".into());
        g.name(Node::Object(7), "StatefulSet/db".into());
        g.name(Node::Object(8), "Deployment/web".into());
        g
    }

    #[test]
    fn a_path_names_every_step_in_order() {
        let mut g = graph();
        g.add(
            Node::Job(0),
            Node::Object(7),
            "waitFor db:5432 reaches it through Service/db",
        );
        g.add(Node::Job(1), Node::Job(0), "list order");
        g.add(Node::Object(8), Node::Job(1), "its gate");
        assert_eq!(
            g.path(Node::Object(8), Node::Object(7)).unwrap(),
            [
                "Deployment/web waits for Job seed (its gate)",
                "Job seed waits for Job migrate (list order)",
                "Job migrate waits for StatefulSet/db (waitFor db:5432 reaches it through Service/db)",
            ],
            "the way from the web pods to the database, step by step"
        );
        assert_eq!(
            g.path(Node::Object(7), Node::Object(8)),
            None,
            "one way only"
        );
        assert_eq!(g.path(Node::Job(0), Node::Job(0)), Some(Vec::new()));
        assert_eq!(
            g.reach(Node::Job(1)),
            [Node::Job(0), Node::Object(7)],
            "seed waits for migrate and, through it, the database"
        );
        assert!(!g.has_cycle());
    }

    #[test]
    fn a_cycle_is_seen_whether_it_loops_on_one_node_or_round_several() {
        let edge = |from, to| Edge {
            from,
            to,
            why: "test".into(),
        };
        let round = Graph {
            edges: vec![
                edge(Node::Job(0), Node::Object(7)),
                edge(Node::Object(7), Node::Job(1)),
                edge(Node::Job(1), Node::Job(0)),
            ],
            names: Vec::new(),
        };
        assert!(round.has_cycle(), "three nodes round");
        let own = Graph {
            edges: vec![edge(Node::Job(0), Node::Job(0))],
            names: Vec::new(),
        };
        assert!(own.has_cycle(), "a node waiting for itself");
        let line = Graph {
            edges: vec![
                edge(Node::Job(0), Node::Object(7)),
                edge(Node::Job(1), Node::Object(7)),
            ],
            names: Vec::new(),
        };
        assert!(!line.has_cycle(), "two waits for one node are no cycle");
    }

    proptest! {
        /// Adding only the edges whose reverse path does not exist keeps the graph acyclic,
        /// and `path` finds exactly what `reach` reaches.
        #[test]
        fn guarded_edges_never_make_a_cycle(edges in proptest::collection::vec((0usize..6, 0usize..6), 0..40)) {
            let mut g = Graph::default();
            let node = |i: usize| if i % 2 == 0 { Node::Job(i) } else { Node::Object(i) };
            for (a, b) in edges {
                let (a, b) = (node(a), node(b));
                if a != b && g.path(b, a).is_none() {
                    g.add(a, b, "test");
                }
            }
            prop_assert!(!g.has_cycle());
            for a in 0..6 {
                for b in 0..6 {
                    let (a, b) = (node(a), node(b));
                    if a != b {
                        prop_assert_eq!(g.path(a, b).is_some(), g.reach(a).contains(&b));
                    }
                }
            }
        }
    }
}
