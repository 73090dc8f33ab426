//! Diesel's view of the tables, as `diesel print-schema` would write it from the database that
//! qvdiff's migrations build.

diesel::table! {
    projects (id) {
        id -> BigInt,
        name -> Text,
    }
}

diesel::table! {
    tasks (id) {
        id -> BigInt,
        project_id -> BigInt,
        title -> Text,
        notes -> Nullable<Text>,
        status -> Text,
        points -> Integer,
        estimate_hours -> Double,
        archived -> Bool,
        due_at -> Timestamp,
        attachment -> Nullable<Binary>,
    }
}

diesel::joinable!(tasks -> projects (project_id));
diesel::allow_tables_to_appear_in_same_query!(projects, tasks);
