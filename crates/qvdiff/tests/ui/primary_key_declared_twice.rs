use qvdiff::Model;

#[derive(Model)]
#[model(primary_key(sale_id, line_no))]
pub struct SaleLine {
    #[column(primary_key)]
    pub sale_id: i64,
    pub line_no: i32,
}

fn main() {}
