//! `inventory`: prints the tables the app expects, one line each, as the models declare them.

fn main() {
    for table in inventory::tables() {
        let columns: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
        println!("{}: {}", table.name, columns.join(", "));
    }
}
