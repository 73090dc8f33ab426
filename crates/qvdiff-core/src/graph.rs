//! The revision graph: parents, heads, topological order, merges, cycle detection.
