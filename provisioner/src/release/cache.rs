//! Fetches each distinct release asset once per run, however many hosts need it.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use crate::release::checksums::Sha256;
use crate::release::fetch::{fetch, Fetched};
use crate::release::Asset;

type Cell = Arc<OnceCell<Result<Fetched, String>>>;

pub struct AssetStore {
    cache_dir: PathBuf,
    cells: Mutex<HashMap<(Asset, String), Cell>>,
}

impl AssetStore {
    pub fn new(cache_dir: PathBuf) -> Self {
        Self {
            cache_dir,
            cells: Mutex::new(HashMap::new()),
        }
    }

    /// The verified asset; concurrent callers for the same asset share one fetch.
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
        let (asset, source, sha256, dir) = (
            asset.clone(),
            source.to_string(),
            sha256.clone(),
            self.cache_dir.clone(),
        );
        cell.get_or_init(|| async move {
            tokio::task::spawn_blocking(move || {
                fetch(&asset, &source, &sha256, &dir).map_err(|e| e.to_string())
            })
            .await
            .unwrap_or_else(|e| Err(format!("fetching the release failed: {e}")))
        })
        .await
        .clone()
    }
}
