//! Running two independent pieces of work at once.
//!
//! Planning a migration both ways, or reading the models beside the recorded schema, are two
//! pieces of work of tens of milliseconds on a big project that need nothing of each other, so
//! they share the machine's cores.

use std::sync::Mutex;

/// Runs `a` on a helper thread and `b` on this one and returns both results, like
/// `rayon::join`. When no thread can be started, `a` runs here after `b`. A panic in `a` is
/// resumed here.
pub fn join<A: Send, B>(a: impl FnOnce() -> A + Send, b: impl FnOnce() -> B) -> (A, B) {
    let task = Mutex::new(Some(a));
    let result: Mutex<Option<A>> = Mutex::new(None);
    // Borrows only: the same closure can go to the helper, or run here if it cannot start.
    let run = || {
        let taken = task.lock().ok().and_then(|mut task| task.take());
        if let Some(a) = taken {
            let value = a();
            if let Ok(mut slot) = result.lock() {
                *slot = Some(value);
            }
        }
    };
    let b = std::thread::scope(|scope| {
        let helper = std::thread::Builder::new()
            .name("qvdiff-join".to_string())
            .spawn_scoped(scope, run);
        let b = b();
        match helper {
            Ok(handle) => {
                if let Err(panic) = handle.join() {
                    std::panic::resume_unwind(panic);
                }
            }
            Err(_) => run(),
        }
        b
    });
    let a = result
        .into_inner()
        .ok()
        .flatten()
        .expect("the joined work ran to completion");
    (a, b)
}

#[cfg(test)]
mod tests {
    #[test]
    fn both_results_come_back_in_order() {
        let text = String::from("shared");
        let (a, b) = super::join(|| text.len(), || text.to_uppercase());
        assert_eq!((a, b.as_str()), (6, "SHARED"));
    }
}
