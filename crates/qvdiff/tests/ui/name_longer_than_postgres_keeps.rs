use qvdiff::Model;

// Every name written here is over PostgreSQL's 63 bytes; each is reported at its own span.
#[derive(Model)]
#[model(table = "orders_with_a_table_name_that_goes_on_well_past_what_postgres_keeps")]
#[model(index(fields(customer_id, placed_at), name = "ix_orders_by_customer_and_placement_date_for_the_monthly_report_job"))]
#[model(unique(customer_id, reference, name = "uq_orders_customer_reference_which_is_spelled_out_in_full_here_too"))]
#[model(check(name = "ck_orders_total_is_never_negative_even_after_refunds_and_discounts", expr = "total >= 0"))]
pub struct Order {
    #[column(primary_key)]
    pub id: i64,
    pub customer_id: i64,
    pub placed_at: i64,
    pub reference: String,
    pub total: i64,
    #[column(name = "shipping_address_line_as_printed_on_the_label_for_the_courier_service")]
    pub shipping: String,
    pub billing_address_line_as_printed_on_the_invoice_sent_to_the_customer: String,
}

// A generated index name over the limit is fine: it is shortened with a hash.
#[derive(Model)]
pub struct Shipment {
    #[column(primary_key)]
    pub id: i64,
    #[column(index)]
    pub tracking_number_given_by_the_courier_service_at_pickup_time: String,
}

fn main() {}
