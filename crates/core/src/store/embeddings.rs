//! The vectors of agents' knowledge texts (optional semantic matching), filed by the text's
//! SHA-256 and the server and model that made them.

use std::collections::{HashMap, HashSet};

use rusqlite::params;

use super::Store;
use crate::error::Result;

/// A text's SHA-256: what a vector is filed under.
pub type TextHash = [u8; 32];

/// Vectors are kept as little-endian `f32`s.
fn to_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn from_bytes(b: &[u8]) -> Option<Vec<f32>> {
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    Some(
        b.chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

impl Store {
    /// The vectors of `folder`'s texts that `model` made, by text hash.
    pub fn embeddings(&self, folder: &str, model: &str) -> Result<HashMap<TextHash, Vec<f32>>> {
        self.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT hash, vector FROM embeddings WHERE folder = ?1 AND model = ?2",
            )?;
            let rows = stmt.query_map(params![folder, model], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, Vec<u8>>(1)?))
            })?;
            let mut out = HashMap::new();
            for row in rows {
                let (hash, vector) = row?;
                // A damaged row is a cache miss: the text is embedded again.
                if let (Ok(hash), Some(vector)) = (TextHash::try_from(hash), from_bytes(&vector)) {
                    out.insert(hash, vector);
                }
            }
            Ok(out)
        })
    }

    /// Files new vectors, and forgets `folder`'s vectors of texts it no longer has (`keep`) or
    /// of another server or model, in one transaction.
    pub fn put_embeddings(
        &self,
        folder: &str,
        model: &str,
        new: &[(TextHash, Vec<f32>)],
        keep: &HashSet<TextHash>,
    ) -> Result<()> {
        self.write(|tx| {
            let stale: Vec<(String, Vec<u8>)> = {
                let mut stmt = tx.prepare("SELECT model, hash FROM embeddings WHERE folder = ?1")?;
                let rows = stmt.query_map([folder], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<(String, Vec<u8>)>>>()?
                    .into_iter()
                    .filter(|(m, h)| {
                        m != model || TextHash::try_from(h.as_slice()).map_or(true, |h| !keep.contains(&h))
                    })
                    .collect()
            };
            for (m, h) in stale {
                tx.execute(
                    "DELETE FROM embeddings WHERE folder = ?1 AND model = ?2 AND hash = ?3",
                    params![folder, m, h],
                )?;
            }
            let mut insert = tx.prepare(
                "INSERT OR REPLACE INTO embeddings(folder, model, hash, vector) VALUES (?1, ?2, ?3, ?4)",
            )?;
            for (hash, vector) in new {
                insert.execute(params![folder, model, hash.as_slice(), to_bytes(vector)])?;
            }
            Ok(())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_round_trip_and_stale_ones_are_forgotten() {
        let (_d, store) = crate::store::test_util::temp_store();
        store.create_folder("f", "F", "", "").expect("folder");
        let (a, b) = ([1u8; 32], [2u8; 32]);
        let keep: HashSet<TextHash> = [a, b].into();
        store
            .put_embeddings(
                "f",
                "m1",
                &[(a, vec![0.5, -1.0]), (b, vec![2.0, 3.0])],
                &keep,
            )
            .expect("put");
        let got = store.embeddings("f", "m1").expect("read");
        assert_eq!(got.get(&a), Some(&vec![0.5, -1.0]));
        assert_eq!(got.len(), 2);
        // `b`'s text is gone and another model is used now: only `a` under m2 remains.
        store
            .put_embeddings("f", "m2", &[(a, vec![1.0])], &[a].into())
            .expect("put");
        assert!(store.embeddings("f", "m1").expect("read").is_empty());
        assert_eq!(store.embeddings("f", "m2").expect("read").len(), 1);
        assert!(store.embeddings("other", "m2").expect("read").is_empty());
    }

    #[test]
    fn a_damaged_vector_reads_as_missing() {
        assert_eq!(from_bytes(&[0, 0, 128]), None);
        assert_eq!(from_bytes(&[]), None);
        assert_eq!(from_bytes(&to_bytes(&[1.5, -2.0])), Some(vec![1.5, -2.0]));
    }
}
