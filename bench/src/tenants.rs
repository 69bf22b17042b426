//! The 20 tenants of the data set: who they are, their assistants, campaigns and
//! the pool their callers' numbers come from. Each tenant is drawn from its own
//! RNG (seed + index) so that its profile does not depend on the number of calls.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::corpus::{CAMPAIGNS, COMPANIES, ENGLISH, GERMAN, Language};

pub const TENANTS: usize = 21;
/// Share of all calls held by tenant 0, the largest; the last one, the
/// smallest, holds about [`SMALL_CALLS`]; the rest is spread evenly.
pub const LARGEST_SHARE: f64 = 0.40;
/// Calls of the smallest tenant, whatever the data set's size (a small
/// tenant's search must not pay for the big one's data).
pub const SMALL_CALLS: f64 = 3_000.0;
/// The smallest tenant.
pub const SMALL: usize = TENANTS - 1;

/// In the order of `Language::assistants`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum CallType {
    Inbound = 0,
    Outbound = 1,
    Web = 2,
}

impl CallType {
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Inbound => "inbound",
            CallType::Outbound => "outbound",
            CallType::Web => "web",
        }
    }
}

pub struct Assistant {
    pub name: String,
    pub language: &'static Language,
    pub call_type: CallType,
    /// None for web assistants, which have no number.
    pub phone: Option<String>,
    /// Relative share of the tenant's calls.
    pub weight: f64,
}

pub struct Tenant {
    pub index: usize,
    pub email: String,
    pub name: String,
    pub assistants: Vec<Assistant>,
    pub campaigns: Vec<String>,
    /// Callers are numbered 0..pool; a number is reused by several calls so that a
    /// `phone_number` filter finds a handful of them, as with real repeat callers.
    pub phone_pool: u64,
}

impl Tenant {
    /// Picks an assistant by weight.
    pub fn pick_assistant(&self, rng: &mut StdRng) -> &Assistant {
        let total: f64 = self.assistants.iter().map(|a| a.weight).sum();
        let mut roll = rng.random::<f64>() * total;
        for assistant in &self.assistants {
            if roll < assistant.weight {
                return assistant;
            }
            roll -= assistant.weight;
        }
        &self.assistants[self.assistants.len() - 1]
    }

    /// The number of caller `k`: a bijection on 10^8 (the multiplier is coprime to
    /// it), so numbers look random but never collide within a tenant.
    pub fn client_phone(&self, k: u64, german: bool) -> String {
        let digits = (k * 48_271 + self.index as u64 * 7_919_113) % 100_000_000;
        if german {
            format!("+49151{digits:08}")
        } else {
            format!("+447700{digits:08}")
        }
    }
}

/// Expected share of the calls for tenant `index`.
pub fn share(index: usize, calls: u64) -> f64 {
    let small = (SMALL_CALLS / calls.max(1) as f64).min(0.1);
    match index {
        0 => LARGEST_SHARE,
        SMALL => small,
        _ => (1.0 - LARGEST_SHARE - small) / (TENANTS - 2) as f64,
    }
}

/// Assigns a call to a tenant by weight.
pub fn pick_tenant(rng: &mut StdRng, calls: u64) -> usize {
    let roll = rng.random::<f64>();
    if roll < LARGEST_SHARE {
        return 0;
    }
    let small = share(SMALL, calls);
    if roll < LARGEST_SHARE + small {
        return SMALL;
    }
    let rest = (roll - LARGEST_SHARE - small) / share(1, calls);
    (1 + rest as usize).min(TENANTS - 2)
}

/// The tenants for a seed and a total number of calls (which sizes the phone pools).
pub fn tenants(seed: u64, calls: u64) -> Vec<Tenant> {
    (0..TENANTS).map(|i| tenant(seed, calls, i)).collect()
}

fn tenant(seed: u64, calls: u64, index: usize) -> Tenant {
    let mut rng = StdRng::seed_from_u64(seed ^ (0x7e4a_u64 << 32) ^ index as u64);
    // Some tenants work in one language, most mix; the largest is mostly German.
    let german_share = [0.7, 0.0, 1.0, 0.8, 0.2, 1.0, 0.5, 0.9, 0.3, 0.6][index % 10];
    let count = rng.random_range(3..=6);
    // Names drawn without replacement, per language and type, so that a tenant's
    // assistants are distinct and named for what they do.
    let mut names: Vec<Vec<Vec<&str>>> = [&GERMAN, &ENGLISH]
        .iter()
        .map(|lang| {
            lang.assistants
                .iter()
                .map(|list| {
                    let mut list = list.to_vec();
                    list.shuffle(&mut rng);
                    list
                })
                .collect()
        })
        .collect();
    let assistants = (0..count)
        .map(|a| {
            // The first three cover every type; the rest are drawn.
            let call_type = match a {
                0 => CallType::Inbound,
                1 => CallType::Outbound,
                2 => CallType::Web,
                _ => [CallType::Inbound, CallType::Outbound][rng.random_range(0..2)],
            };
            let german = rng.random_bool(german_share);
            let language: &'static Language = if german { &GERMAN } else { &ENGLISH };
            let name = names[usize::from(!german)][call_type as usize]
                .pop()
                .unwrap_or("Assistant");
            let phone = (call_type != CallType::Web).then(|| {
                let line = rng.random_range(10_000..100_000);
                if german {
                    format!("+4930{line}{a}0")
                } else {
                    format!("+44207{line}{a}0")
                }
            });
            let weight = match call_type {
                CallType::Inbound => 5.0,
                CallType::Outbound => 4.0,
                CallType::Web => 1.5,
            } * rng.random_range(0.5..1.5);
            Assistant {
                name: name.to_owned(),
                language,
                call_type,
                phone,
                weight,
            }
        })
        .collect();
    let mut campaigns: Vec<String> = CAMPAIGNS.iter().map(|c| (*c).to_owned()).collect();
    campaigns.shuffle(&mut rng);
    campaigns.truncate(rng.random_range(0..=4));
    let expected = (calls as f64 * share(index, calls)) as u64;
    Tenant {
        index,
        email: format!("tenant{:02}@bench.callbase.local", index + 1),
        name: COMPANIES[index].to_owned(),
        assistants,
        campaigns,
        phone_pool: (expected / 4).max(8),
    }
}
