//! Fetches each distinct release asset once per run, however many hosts
//! need it, and makes sure each host gets the file that was verified.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;

use crate::release::checksums::Sha256;
use crate::release::fetch::{fetch, Fetched};
use crate::release::Asset;

/// One asset's last fetch in this run: the verified file, or why it failed.
type Cell = Arc<Mutex<Option<Result<Fetched, String>>>>;

pub struct AssetStore {
    cache_dir: PathBuf,
    cells: std::sync::Mutex<HashMap<(Asset, String), Cell>>,
}

impl AssetStore {
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            cells: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// The verified asset; concurrent callers for the same asset share one
    /// fetch. Every call (one per host) checks that the file is still the
    /// one that was verified; if it was written to or replaced since, it is
    /// fetched and verified again (a cached download whose sha256 no longer
    /// matches is downloaded anew, a local file is refused), so a file that
    /// changed during a long rollout never reaches the later hosts.
    pub async fn get(
        &self,
        asset: &Asset,
        source: &str,
        sha256: &Sha256,
    ) -> Result<Fetched, String> {
        let cell = {
            let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
            cells
                .entry((asset.clone(), source.to_string()))
                .or_default()
                .clone()
        };
        let mut slot = cell.lock().await;
        match slot.as_ref() {
            Some(Ok(fetched)) if fetched.unchanged() => return Ok(fetched.clone()),
            Some(Err(e)) => return Err(e.clone()),
            _ => {}
        }
        let (asset, source, sha256, dir) = (
            asset.clone(),
            source.to_string(),
            sha256.clone(),
            self.cache_dir.clone(),
        );
        let result = tokio::task::spawn_blocking(move || {
            fetch(&asset, &source, &sha256, &dir).map_err(|e| e.to_string())
        })
        .await
        .unwrap_or_else(|e| Err(format!("fetching the release failed: {e}")));
        *slot = Some(result.clone());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::release::fetch::tests::{asset, release_bytes};

    /// Regression: the first fetch of a run was reused for every host, so a
    /// file changed mid-rollout went to the later hosts unchecked.
    #[tokio::test]
    async fn every_use_checks_the_file_is_still_the_verified_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(asset().file_name());
        let body = release_bytes("good");
        std::fs::write(&path, &body).unwrap();
        let store = AssetStore::new(dir.path().join("cache"));
        let source = path.to_str().unwrap().to_string();
        let sha = Sha256::of(&body);

        store.get(&asset(), &source, &sha).await.unwrap();
        store.get(&asset(), &source, &sha).await.unwrap();
        std::fs::write(&path, release_bytes("evil")).unwrap();
        let e = store.get(&asset(), &source, &sha).await.unwrap_err();
        assert!(e.contains("checksum mismatch"), "{e}");
    }
}
