use qvdiff::Model;

#[derive(Model)]
#[model(primary_key(order_id, region))]
pub struct Order {
    pub order_id: i64,
    pub region: String,
}

// One referenced column for two fields, a reference without its columns, and a field that is
// not there: each reported at its span.
#[derive(Model)]
#[model(foreign_key(fields(order_id, region), references = "order(order_id)"))]
#[model(foreign_key(fields(order_id, region), references = "order"))]
#[model(foreign_key(fields(order_id, regoin), references = "order(order_id, region)"))]
pub struct Shipment {
    #[column(primary_key)]
    pub id: i64,
    pub order_id: i64,
    pub region: String,
}

fn main() {}
