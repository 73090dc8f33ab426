"""Generates the same synthetic project for qvdiff and its peers.

A project of N tables x C columns: every table has an integer primary key, a mix of NOT NULL and
nullable columns of several types, an index every few columns, and (from the second table on) a
foreign key to the previous table. The shape is deterministic for a given (N, C).
"""

import os

TYPES = [
    # (rust type, nullable?, extra column attribute)
    ("String", False, "max_length = 120"),
    ("i64", False, None),
    ("Option<String>", True, None),
    ("f64", False, None),
    ("bool", False, "default = true"),
    ("Option<i64>", True, None),
    ("String", False, None),
    ("Option<f64>", True, None),
]


def table_name(i):
    return f"t{i:05d}"


def columns(n_cols):
    """(name, rust type, attributes) for the non-key columns of a table."""
    out = []
    for c in range(1, n_cols):
        rust, _nullable, extra = TYPES[c % len(TYPES)]
        attrs = []
        if extra:
            attrs.append(extra)
        if c % 7 == 0:
            attrs.append("index")
        out.append((f"c{c:02d}", rust, attrs))
    return out


def qvdiff_models(n_tables, n_cols):
    """Rust source of the models, one string."""
    lines = ["use qvdiff::Model;", ""]
    for i in range(n_tables):
        name = table_name(i)
        lines.append("#[derive(Debug, Clone, Model)]")
        lines.append(f'#[model(table = "{name}")]')
        lines.append(f"pub struct T{i:05d} {{")
        lines.append("    #[column(primary_key)]")
        lines.append("    pub id: i64,")
        for col, rust, attrs in columns(n_cols):
            if col == "c01" and i > 0:
                # The first integer column points at the previous table.
                rust = "i64"
                attrs = [f'references = "{table_name(i - 1)}.id"', "index"]
            if attrs:
                lines.append(f"    #[column({', '.join(attrs)})]")
            lines.append(f"    pub {col}: {rust},")
        lines.append("}")
        lines.append("")
    return "\n".join(lines)


def write_qvdiff_project(root, n_tables, n_cols):
    """A qvdiff project directory: qvdiff.toml, src/models.rs, migrations/."""
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    os.makedirs(os.path.join(root, "migrations"), exist_ok=True)
    with open(os.path.join(root, "qvdiff.toml"), "w") as f:
        f.write('models = ["src"]\nmigrations = "migrations"\ndatabase = "sqlite://app.db"\n')
    with open(os.path.join(root, "src", "models.rs"), "w") as f:
        f.write(qvdiff_models(n_tables, n_cols))
