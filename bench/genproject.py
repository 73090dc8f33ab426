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


# --- peers -------------------------------------------------------------------------------------
#
# The same tables for SQLAlchemy/Alembic and for diesel. Column types map to what each tool calls
# the same SQLite type: i64 -> INTEGER / BigInt, f64 -> REAL / Double, bool -> BOOLEAN / Bool,
# String -> TEXT / Text, `max_length = 120` -> VARCHAR(120) (diesel has no length: Text).

# The one-field change measured by "generate after a change": a new nullable text column on the
# middle table, the commonest migration there is.
CHANGED_FIELD = "extra"


def changed_table(n_tables):
    return n_tables // 2


def table_columns(i, n_cols):
    """(name, base type, nullable, max_length, default_true, index, references) per non-key column."""
    out = []
    for col, rust, attrs in columns(n_cols):
        nullable = rust.startswith("Option<")
        base = rust[7:-1] if nullable else rust
        references = None
        index = "index" in attrs
        if col == "c01" and i > 0:
            base, nullable, references, index = "i64", False, table_name(i - 1), True
        max_length = 120 if "max_length = 120" in attrs else None
        default_true = "default = true" in attrs
        out.append((col, base, nullable, max_length, default_true, index, references))
    return out


def qvdiff_models_changed(n_tables, n_cols):
    """The models with the one-field change applied."""
    text = qvdiff_models(n_tables, n_cols)
    struct = f"pub struct T{changed_table(n_tables):05d} {{\n"
    return text.replace(struct, struct + f"    pub {CHANGED_FIELD}: Option<String>,\n", 1)


SA_TYPES = {"i64": "Integer", "f64": "Float", "bool": "Boolean", "String": "Text"}


def sqlalchemy_models(n_tables, n_cols, changed=False):
    lines = [
        "from sqlalchemy import Boolean, Column, Float, ForeignKey, Integer, String, Text, text",
        "from sqlalchemy.orm import declarative_base",
        "",
        "Base = declarative_base()",
        "",
    ]
    for i in range(n_tables):
        lines.append(f"class T{i:05d}(Base):")
        lines.append(f'    __tablename__ = "{table_name(i)}"')
        lines.append("    id = Column(Integer, primary_key=True)")
        for col, base, nullable, max_length, default_true, index, references in table_columns(i, n_cols):
            ty = f"String({max_length})" if max_length else SA_TYPES[base]
            args = [ty]
            if references:
                args.append(f'ForeignKey("{references}.id")')
            args.append(f"nullable={nullable}")
            if index:
                args.append("index=True")
            if default_true:
                args.append('server_default=text("TRUE")')
            lines.append(f"    {col} = Column({', '.join(args)})")
        if changed and i == changed_table(n_tables):
            lines.append(f"    {CHANGED_FIELD} = Column(Text, nullable=True)")
        lines.append("")
    return "\n".join(lines) + "\n"


ALEMBIC_ENV = '''\
from alembic import context
from sqlalchemy import create_engine

import models

config = context.config
target_metadata = models.Base.metadata


def run_migrations_offline():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online():
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata,
                          render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
'''

ALEMBIC_MAKO = '''\
"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""
from alembic import op
import sqlalchemy as sa
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade():
    ${upgrades if upgrades else "pass"}


def downgrade():
    ${downgrades if downgrades else "pass"}
'''


def write_alembic_project(root, n_tables, n_cols, changed=False):
    """An Alembic project: alembic.ini, env.py, models.py, versions/, database app.db."""
    os.makedirs(os.path.join(root, "versions"), exist_ok=True)
    with open(os.path.join(root, "alembic.ini"), "w") as f:
        f.write("[alembic]\nscript_location = .\nprepend_sys_path = .\nsqlalchemy.url = sqlite:///app.db\n")
    with open(os.path.join(root, "env.py"), "w") as f:
        f.write(ALEMBIC_ENV)
    with open(os.path.join(root, "script.py.mako"), "w") as f:
        f.write(ALEMBIC_MAKO)
    with open(os.path.join(root, "models.py"), "w") as f:
        f.write(sqlalchemy_models(n_tables, n_cols, changed))


DIESEL_TYPES = {"i64": "BigInt", "f64": "Double", "bool": "Bool", "String": "Text"}


def diesel_schema(n_tables, n_cols, changed=False):
    """A diesel `schema.rs` (what `diesel print-schema` writes): table!, joinable!, allow_tables."""
    lines = ["// @generated by bench/genproject.py", ""]
    joins = []
    for i in range(n_tables):
        lines.append("diesel::table! {")
        lines.append(f"    {table_name(i)} (id) {{")
        lines.append("        id -> BigInt,")
        for col, base, nullable, _max_length, _default, _index, references in table_columns(i, n_cols):
            ty = DIESEL_TYPES[base]
            lines.append(f"        {col} -> {'Nullable<' + ty + '>' if nullable else ty},")
            if references:
                joins.append(f"diesel::joinable!({table_name(i)} -> {references} ({col}));")
        if changed and i == changed_table(n_tables):
            lines.append(f"        {CHANGED_FIELD} -> Nullable<Text>,")
        lines.append("    }")
        lines.append("}")
        lines.append("")
    lines.extend(joins)
    lines.append("")
    lines.append("diesel::allow_tables_to_appear_in_same_query!(")
    lines.extend(f"    {table_name(i)}," for i in range(n_tables))
    lines.append(");")
    return "\n".join(lines) + "\n"


def write_diesel_project(root, n_tables, n_cols, changed=False):
    """A diesel project: diesel.toml, src/schema.rs, migrations/."""
    os.makedirs(os.path.join(root, "src"), exist_ok=True)
    os.makedirs(os.path.join(root, "migrations"), exist_ok=True)
    with open(os.path.join(root, "diesel.toml"), "w") as f:
        f.write('[print_schema]\nfile = "src/schema.rs"\n\n[migrations_directory]\ndir = "migrations"\n')
    with open(os.path.join(root, "src", "schema.rs"), "w") as f:
        f.write(diesel_schema(n_tables, n_cols, changed))


def write_qvdiff_models(root, n_tables, n_cols, changed=False):
    """Rewrites only the models of a qvdiff project (the one-field change, or back)."""
    text = qvdiff_models_changed(n_tables, n_cols) if changed else qvdiff_models(n_tables, n_cols)
    with open(os.path.join(root, "src", "models.rs"), "w") as f:
        f.write(text)
