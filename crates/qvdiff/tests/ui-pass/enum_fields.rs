use qvdiff::{ColumnType, DefaultValue, Enum, Model, VariantRename};

#[derive(Enum, Debug, PartialEq)]
#[enum_type(name = "task_status")]
pub enum Status {
    Todo,
    InProgress,
    #[variant(name = "done", renamed_from = "finished")]
    Done,
}

mod kinds {
    #[derive(qvdiff::Enum, Debug, PartialEq)]
    pub enum Kind {
        Bug,
        Feature,
    }
}

#[derive(Model)]
pub struct Task {
    #[column(primary_key)]
    pub id: i64,
    #[column(default = "todo")]
    pub status: Status,
    pub previous: Option<Status>,
    pub kind: kinds::Kind,
}

fn main() {
    let table = Task::table();
    let status = ColumnType::Enum {
        name: "task_status".to_string(),
        values: vec!["todo".into(), "in_progress".into(), "done".into()],
        renames: vec![VariantRename {
            from: "finished".into(),
            to: "done".into(),
        }],
    };
    assert_eq!(table.columns[1].ty, status);
    assert_eq!(table.columns[1].default, Some(DefaultValue::Text("todo".into())));
    assert!(!table.columns[1].nullable);
    assert_eq!(table.columns[2].ty, status);
    assert!(table.columns[2].nullable);
    assert_eq!(
        table.columns[3].ty,
        ColumnType::Enum {
            name: "kind".to_string(),
            values: vec!["bug".into(), "feature".into()],
            renames: vec![],
        }
    );
    for (variant, stored) in [
        (Status::Todo, "todo"),
        (Status::InProgress, "in_progress"),
        (Status::Done, "done"),
    ] {
        assert_eq!(variant.as_str(), stored);
        assert_eq!(Status::from_stored(stored), Some(variant));
    }
    assert_eq!(Status::from_stored("finished"), None);
}
