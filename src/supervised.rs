//! A stream's task with its supervision built in: a panic inside it is caught where it happens,
//! and `on_over` runs once however the task ends (finished, panicked, or dropped by an abort).
//! A second task per stream that awaited the first did this before: a 512-byte task cell and a
//! spawn for every stream, for a panic that should never come.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct Supervised<F, O: FnOnce(Option<String>)> {
    /// `None` once over: dropped where it is, never moved (it is pinned with `self`).
    run: Option<F>,
    /// Told the panic's message, if it panicked.
    on_over: Option<O>,
}

impl<F, O: FnOnce(Option<String>)> Supervised<F, O> {
    pub fn new(run: F, on_over: O) -> Self {
        Supervised {
            run: Some(run),
            on_over: Some(on_over),
        }
    }

    fn finish(&mut self, panic: Option<String>) {
        // The task's own state goes first (its socket, its sender), then the bookkeeping.
        self.run = None;
        if let Some(on_over) = self.on_over.take() {
            on_over(panic);
        }
    }
}

impl<F: Future<Output = ()>, O: FnOnce(Option<String>)> Future for Supervised<F, O> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: `run` is never moved out of `self`: it is polled in place and dropped in place
        // (`finish` sets it to `None`); `on_over` is not pinned and is only taken by value.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(run) = this.run.as_mut() else {
            return Poll::Ready(());
        };
        // SAFETY: as above; `run` stays where it is until it is dropped.
        let run = unsafe { Pin::new_unchecked(run) };
        let panic = match catch_unwind(AssertUnwindSafe(|| run.poll(cx))) {
            Ok(Poll::Pending) => return Poll::Pending,
            Ok(Poll::Ready(())) => None,
            Err(payload) => Some(panic_message(payload)),
        };
        this.finish(panic);
        Poll::Ready(())
    }
}

impl<F, O: FnOnce(Option<String>)> Drop for Supervised<F, O> {
    // An aborted task is dropped before it finished: it is over all the same.
    fn drop(&mut self) {
        self.finish(None);
    }
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// What `on_over` was told, each time it ran.
    type Seen = Arc<Mutex<Vec<Option<String>>>>;

    fn recorder() -> (Seen, impl FnOnce(Option<String>)) {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        (seen, move |panic| sink.lock().unwrap().push(panic))
    }

    #[tokio::test]
    async fn a_task_that_finishes_is_over_once_without_a_panic() {
        let (seen, on_over) = recorder();
        tokio::spawn(Supervised::new(async {}, on_over))
            .await
            .unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    }

    #[tokio::test]
    async fn a_panic_is_caught_and_reported_once() {
        let (seen, on_over) = recorder();
        let outcome = tokio::spawn(Supervised::new(
            async { panic!("wire parser bug") },
            on_over,
        ))
        .await;
        assert!(outcome.is_ok(), "the panic reached tokio");
        assert_eq!(
            *seen.lock().unwrap(),
            vec![Some("wire parser bug".to_string())]
        );
    }

    #[tokio::test]
    async fn an_aborted_task_is_over_too() {
        let (seen, on_over) = recorder();
        let task = tokio::spawn(Supervised::new(std::future::pending::<()>(), on_over));
        tokio::task::yield_now().await;
        task.abort();
        assert!(task.await.unwrap_err().is_cancelled());
        assert_eq!(*seen.lock().unwrap(), vec![None]);
    }
}
