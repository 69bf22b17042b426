//! The data set: one global timeline of N calls over 180 days (ids growing with
//! `created_at`, as on a real platform), each call assigned to a tenant by weight
//! and streamed to that tenant's NDJSON file. A manifest, written last, records
//! what the run needs later (counts, sample ids) and marks the files complete, so
//! a second run with the same N and seed reuses them.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::call;
use crate::tenants::{self, TENANTS};

/// Bump when the generated data changes, so that old caches are not reused.
const GENERATOR_VERSION: u32 = 2;
/// The timeline ends at a fixed instant (2026-11-01T00:00:00Z), not at "now": the
/// same N and seed then give the same bytes on any day, so results stay comparable
/// and cached files stay valid.
pub const TIMELINE_END: i64 = 1_793_491_200;
pub const TIMELINE_DAYS: i64 = 180;
/// Ids of the largest tenant kept for the get-by-id scenario.
const SAMPLE_IDS: usize = 4000;
/// Reference numbers of the largest tenant's callers kept for the rare-word
/// search scenario.
const SAMPLE_REFERENCES: usize = 500;

#[derive(Serialize, Deserialize)]
pub struct Dataset {
    pub key: String,
    pub calls: u64,
    pub seed: u64,
    pub end: i64,
    pub days: i64,
    /// Tenant 0 is the largest.
    pub tenants: Vec<TenantData>,
    /// Random ids of the largest tenant, in random order.
    pub sample_ids: Vec<u64>,
    /// Reference numbers its callers gave (words of one call, or very few).
    pub sample_references: Vec<u64>,
}

#[derive(Serialize, Deserialize)]
pub struct TenantData {
    pub email: String,
    pub name: String,
    pub file: String,
    pub calls: u64,
    pub bytes: u64,
}

impl Dataset {
    pub fn average_bytes(&self) -> f64 {
        let bytes: u64 = self.tenants.iter().map(|t| t.bytes).sum();
        bytes as f64 / self.calls.max(1) as f64
    }

    pub fn file(&self, workdir: &Path, tenant: usize) -> PathBuf {
        workdir.join(&self.tenants[tenant].file)
    }
}

/// Returns the data set for `calls` and `seed`, generating it unless a complete
/// one is already in `workdir`.
pub fn ensure(workdir: &Path, calls: u64, seed: u64) -> anyhow::Result<Dataset> {
    let key = format!("calls{calls}-seed{seed}-v{GENERATOR_VERSION}");
    let manifest = workdir.join(format!("{key}.json"));
    if let Some(dataset) = reusable(workdir, &manifest) {
        println!(
            "data set: reusing {key} ({} files in {})",
            TENANTS,
            workdir.display()
        );
        return Ok(dataset);
    }
    println!("data set: generating {calls} calls over {TENANTS} tenants (seed {seed}) ...");
    let started = Instant::now();
    let dataset = generate(workdir, key, calls, seed)?;
    let tmp = manifest.with_extension("json.tmp");
    fs::write(&tmp, serde_json::to_vec_pretty(&dataset)?)?;
    fs::rename(&tmp, &manifest)?;
    println!(
        "data set: generated in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(dataset)
}

/// The manifest's data set if every file it names is there with its exact size.
fn reusable(workdir: &Path, manifest: &Path) -> Option<Dataset> {
    let dataset: Dataset = serde_json::from_slice(&fs::read(manifest).ok()?).ok()?;
    let complete = (0..dataset.tenants.len()).all(|t| {
        fs::metadata(dataset.file(workdir, t)).is_ok_and(|m| m.len() == dataset.tenants[t].bytes)
    });
    complete.then_some(dataset)
}

fn generate(workdir: &Path, key: String, calls: u64, seed: u64) -> anyhow::Result<Dataset> {
    let profiles = tenants::tenants(seed, calls);
    let mut rng = StdRng::seed_from_u64(seed);
    // A separate stream, so sampling does not change the data.
    let mut sample_rng = StdRng::seed_from_u64(seed ^ 0x5a5a_5a5a);
    let times = timeline(&mut rng, calls as usize);

    let mut out = Vec::with_capacity(TENANTS);
    let mut data = Vec::with_capacity(TENANTS);
    for tenant in &profiles {
        let file = format!("{key}-tenant{:02}.ndjson", tenant.index + 1);
        let tmp = workdir.join(format!("{file}.tmp"));
        let writer = File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
        out.push((BufWriter::with_capacity(1 << 18, writer), tmp));
        data.push(TenantData {
            email: tenant.email.clone(),
            name: tenant.name.clone(),
            file,
            calls: 0,
            bytes: 0,
        });
    }

    let mut sample_ids = Vec::with_capacity(SAMPLE_IDS);
    let mut sample_references = Vec::with_capacity(SAMPLE_REFERENCES);
    let mut references_seen = 0usize;
    let mut line = Vec::with_capacity(8192);
    for (position, &created_at) in times.iter().enumerate() {
        let id = position as u64 + 1;
        let t = tenants::pick_tenant(&mut rng, calls);
        let record = call::generate(&mut rng, &profiles[t], id, created_at);
        if t == 0
            && let Some(reference) = record.reference
        {
            references_seen += 1;
            if sample_references.len() < SAMPLE_REFERENCES {
                sample_references.push(reference);
            } else {
                let slot = sample_rng.random_range(0..references_seen);
                if slot < SAMPLE_REFERENCES {
                    sample_references[slot] = reference;
                }
            }
        }
        line.clear();
        serde_json::to_writer(&mut line, &record)?;
        line.push(b'\n');
        out[t].0.write_all(&line)?;
        data[t].calls += 1;
        data[t].bytes += line.len() as u64;
        if t == 0 {
            // Reservoir sampling: a uniform sample of the largest tenant's ids.
            let seen = data[0].calls as usize;
            if sample_ids.len() < SAMPLE_IDS {
                sample_ids.push(id);
            } else {
                let slot = sample_rng.random_range(0..seen);
                if slot < SAMPLE_IDS {
                    sample_ids[slot] = id;
                }
            }
        }
    }
    for ((writer, tmp), tenant) in out.into_iter().zip(&data) {
        writer
            .into_inner()
            .map_err(|e| e.into_error())?
            .sync_all()?;
        fs::rename(&tmp, workdir.join(&tenant.file))?;
    }
    sample_ids.shuffle(&mut sample_rng);
    Ok(Dataset {
        key,
        calls,
        seed,
        end: TIMELINE_END,
        days: TIMELINE_DAYS,
        tenants: data,
        sample_ids,
        sample_references,
    })
}

/// `count` creation times over the last 180 days before `TIMELINE_END`, sorted.
/// Drawn by rejection so that calls follow office hours and quiet weekends.
fn timeline(rng: &mut StdRng, count: usize) -> Vec<i64> {
    let start = TIMELINE_END - TIMELINE_DAYS * 86_400;
    let mut times = Vec::with_capacity(count);
    while times.len() < count {
        let at = rng.random_range(start..TIMELINE_END);
        let days = at.div_euclid(86_400);
        // 1970-01-01 was a Thursday: 0 is Monday.
        let weekday = (days + 3) % 7;
        let day_weight = match weekday {
            5 => 0.35,
            6 => 0.2,
            _ => 1.0,
        };
        let hour_weight = match at.rem_euclid(86_400) / 3600 {
            0..=6 => 0.05,
            7 => 0.3,
            8..=17 => 1.0,
            18..=20 => 0.5,
            _ => 0.15,
        };
        if rng.random::<f64>() < day_weight * hour_weight {
            times.push(at);
        }
    }
    times.sort_unstable();
    times
}
