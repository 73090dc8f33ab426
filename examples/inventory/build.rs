// The migrations are compiled into the binary; a new file in the directory must rebuild it.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
