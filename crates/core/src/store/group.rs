//! Group commit for the turn path: concurrent durable writes share one transaction and one
//! fsync. Each caller queues its write, then waits for the writer connection; whoever gets it
//! first runs everything queued, each write in its own savepoint (a failing write undoes only
//! itself), commits once, and gives every caller its own result before letting go of the writer.
//! So a caller still returns only after its write is on disk, while a burst of visitors pays for
//! one fsync instead of one each.

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use super::Store;
use crate::error::{Error, Result};

/// A queued write: run it (`Some`) or fail it unrun (`None`); then deliver its result once the
/// group's commit is known (`Some(error)` when the group did not commit).
pub(super) type Job = Box<dyn FnOnce(Option<&Connection>) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce(Option<&str>) + Send>;
type Slot<T> = Arc<Mutex<Option<Result<T>>>>;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section here is a push, a take or a swap: nothing is left half-done.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Store {
    /// Runs `f` durably, in a transaction shared with other writes queued at the same time.
    pub fn write_grouped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let job: Job = Box::new(move |conn| {
            let result = match conn {
                Some(conn) => in_savepoint(conn, f),
                None => Err(Error::Internal(
                    "the write group failed before this write ran".into(),
                )),
            };
            Box::new(move |commit_error| {
                let result = match (result, commit_error) {
                    (Ok(_), Some(e)) => Err(Error::Internal(format!("could not commit: {e}"))),
                    (r, _) => r,
                };
                *lock(&out) = Some(result);
            })
        });
        lock(&self.queue).push(job);
        let mut conn = self
            .writer
            .lock()
            .map_err(|_| Error::Internal("store writer poisoned".into()))?;
        // A leader delivers before it lets go of the writer, so an empty slot here means this
        // write is still queued and this caller leads the next group.
        if let Some(result) = lock(&slot).take() {
            return result;
        }
        let jobs = std::mem::take(&mut *lock(&self.queue));
        run_group(&mut conn, jobs);
        lock(&slot)
            .take()
            .unwrap_or_else(|| Err(Error::Internal("a grouped write got no result".into())))
    }
}

fn run_group(conn: &mut Connection, jobs: Vec<Job>) {
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        let e = e.to_string();
        for job in jobs {
            job(None)(Some(&e));
        }
        return;
    }
    let mut delivers = Vec::with_capacity(jobs.len());
    let mut broken = None;
    for job in jobs {
        if broken.is_some() {
            delivers.push(job(None));
            continue;
        }
        delivers.push(job(Some(conn)));
        // Some errors (a full disk) make SQLite roll the whole transaction back by itself.
        if conn.is_autocommit() {
            broken = Some("SQLite rolled the transaction back".to_owned());
        }
    }
    let commit_error = match broken {
        Some(e) => Some(e),
        None => conn.execute_batch("COMMIT").err().map(|e| e.to_string()),
    };
    if commit_error.is_some() && !conn.is_autocommit() {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for deliver in delivers {
        deliver(commit_error.as_deref());
    }
}

fn in_savepoint<T>(conn: &Connection, f: impl FnOnce(&Connection) -> Result<T>) -> Result<T> {
    conn.execute_batch("SAVEPOINT job")?;
    let result = f(conn);
    let end = if result.is_ok() {
        "RELEASE job"
    } else {
        "ROLLBACK TO job; RELEASE job"
    };
    match (result, conn.execute_batch(end)) {
        (Ok(v), Ok(())) => Ok(v),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => {
            let _ = conn.execute_batch("ROLLBACK TO job; RELEASE job");
            Err(e.into())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::error::Error;
    use crate::store::settings;
    use crate::store::test_util::temp_store;

    #[test]
    fn concurrent_writes_each_land_or_fail_alone() {
        let (_dir, store) = temp_store();
        let store = Arc::new(store);
        let threads: Vec<_> = (0..16)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|n| {
                            store.write_grouped(move |c| {
                                settings::set(c, &format!("k{i}-{n}"), "v")?;
                                if n % 10 == 3 {
                                    return Err(Error::invalid("refused"));
                                }
                                Ok(n)
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for (i, t) in threads.into_iter().enumerate() {
            for (n, result) in t.join().expect("writer thread").into_iter().enumerate() {
                let stored = store
                    .read(|c| settings::get(c, &format!("k{i}-{n}")))
                    .expect("read back");
                if n % 10 == 3 {
                    assert_eq!(result.expect_err("refused").code(), "invalid_input");
                    assert_eq!(stored, None, "a failed write leaves nothing");
                } else {
                    assert_eq!(result.expect("ok"), n);
                    assert_eq!(stored.as_deref(), Some("v"), "an ok write is there");
                }
            }
        }
    }
}
