//! Resource amounts and quota arithmetic. GPU units and CPU cores are
//! fractional, so they are kept as whole thousandths ("milli" units) and
//! never as floats: 0.625 GPU is 625, half a core is 500. RAM is in MiB,
//! storage in whole GB (GiB, as the storage types size it).

use std::fmt;

use serde::{Deserialize, Serialize};

/// One thousand milli-units make one GPU unit or one CPU core.
pub const MILLI: u64 = 1000;

/// A bundle of resources: a quota, a use, or a request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct Resources {
    /// GPU units in thousandths.
    pub gpu_milli: u64,
    /// CPU cores in thousandths.
    pub cpu_milli: u64,
    pub ram_mib: u64,
    /// Storage in GB: what a project's storages may add up to, and what one
    /// storage holds (containers and jobs hold none). Records from before
    /// storage was part of the quota read as 0.
    pub storage_gib: u64,
}

impl Resources {
    pub const ZERO: Resources = Resources {
        gpu_milli: 0,
        cpu_milli: 0,
        ram_mib: 0,
        storage_gib: 0,
    };

    /// A storage's hold: its size and nothing else.
    pub fn storage(size_gib: u64) -> Resources {
        Resources {
            storage_gib: size_gib,
            ..Resources::ZERO
        }
    }

    pub fn checked_add(self, other: Resources) -> Option<Resources> {
        Some(Resources {
            gpu_milli: self.gpu_milli.checked_add(other.gpu_milli)?,
            cpu_milli: self.cpu_milli.checked_add(other.cpu_milli)?,
            ram_mib: self.ram_mib.checked_add(other.ram_mib)?,
            storage_gib: self.storage_gib.checked_add(other.storage_gib)?,
        })
    }

    /// What is left of `self` after `used` (never below zero).
    pub fn saturating_sub(self, used: Resources) -> Resources {
        Resources {
            gpu_milli: self.gpu_milli.saturating_sub(used.gpu_milli),
            cpu_milli: self.cpu_milli.saturating_sub(used.cpu_milli),
            ram_mib: self.ram_mib.saturating_sub(used.ram_mib),
            storage_gib: self.storage_gib.saturating_sub(used.storage_gib),
        }
    }

    /// Whether every amount of `self` is at most the one of `limit`.
    pub fn fits_within(self, limit: Resources) -> bool {
        self.gpu_milli <= limit.gpu_milli
            && self.cpu_milli <= limit.cpu_milli
            && self.ram_mib <= limit.ram_mib
            && self.storage_gib <= limit.storage_gib
    }
}

/// A per-member cap inside a project: each amount is optional ("no cap").
/// Storage has no per-member cap; only the project's quota limits it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberCap {
    pub gpu_milli: Option<u64>,
    pub cpu_milli: Option<u64>,
    pub ram_mib: Option<u64>,
}

impl MemberCap {
    pub fn is_none(&self) -> bool {
        self.gpu_milli.is_none() && self.cpu_milli.is_none() && self.ram_mib.is_none()
    }

    fn allows(&self, total: Resources) -> bool {
        self.gpu_milli.is_none_or(|cap| total.gpu_milli <= cap)
            && self.cpu_milli.is_none_or(|cap| total.cpu_milli <= cap)
            && self.ram_mib.is_none_or(|cap| total.ram_mib <= cap)
    }
}

/// Why a new workload does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuotaRefusal {
    /// The project's quota: what is left of it.
    Project { left: Resources },
    /// The owner's cap inside the project: what is left of it.
    Member { left: Resources },
}

/// Checks a new workload's `request` against the project's `quota` and
/// current `project_use`, and the owner's `cap` and current `member_use`.
pub fn check_fits(
    quota: Resources,
    project_use: Resources,
    cap: MemberCap,
    member_use: Resources,
    request: Resources,
) -> Result<(), QuotaRefusal> {
    let project_total = project_use.checked_add(request);
    if !project_total.is_some_and(|t| t.fits_within(quota)) {
        return Err(QuotaRefusal::Project {
            left: quota.saturating_sub(project_use),
        });
    }
    let member_total = member_use.checked_add(request);
    if !member_total.is_some_and(|t| cap.allows(t)) {
        return Err(QuotaRefusal::Member {
            left: left_to_member(quota.saturating_sub(project_use), cap, member_use),
        });
    }
    Ok(())
}

/// What a member may still ask for: of each resource their `cap` limits,
/// what is left of the cap after `member_use`, at most what is left of the
/// project (`project_left`); of the others, what is left of the project.
pub fn left_to_member(project_left: Resources, cap: MemberCap, member_use: Resources) -> Resources {
    let left = |cap: Option<u64>, used: u64, project: u64| {
        cap.map_or(project, |c| c.saturating_sub(used).min(project))
    };
    Resources {
        gpu_milli: left(cap.gpu_milli, member_use.gpu_milli, project_left.gpu_milli),
        cpu_milli: left(cap.cpu_milli, member_use.cpu_milli, project_left.cpu_milli),
        ram_mib: left(cap.ram_mib, member_use.ram_mib, project_left.ram_mib),
        storage_gib: project_left.storage_gib,
    }
}

/// Parses a decimal amount with at most `decimals` decimals into units of
/// 10^-`decimals`. Refuses signs, exponents, more decimals and overflow.
fn parse_fixed(input: &str, decimals: usize) -> Option<u64> {
    let text = input.trim();
    let (whole, fraction) = text.split_once('.').unwrap_or((text, ""));
    if whole.is_empty() && fraction.is_empty() {
        return None;
    }
    let digits = |s: &str| s.chars().all(|c| c.is_ascii_digit());
    if !digits(whole) || !digits(fraction) || fraction.len() > decimals {
        return None;
    }
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut fraction_units: u64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    for _ in fraction.len()..decimals {
        fraction_units *= 10;
    }
    whole
        .checked_mul(10u64.pow(decimals as u32))?
        .checked_add(fraction_units)
}

/// Parses a decimal amount with at most three decimals ("0.625", "2", "1.5")
/// into thousandths. Refuses signs, exponents, more decimals and overflow.
pub fn parse_milli(input: &str) -> Option<u64> {
    parse_fixed(input, 3)
}

/// MiB in one GB, as pages read and write RAM.
pub const MIB_PER_GB: u64 = 1024;

/// Parses RAM typed in GB with at most one decimal ("16", "1.5", ".5") into
/// MiB, rounded to the nearest MiB (0.1 GB is 102 MiB). Refuses signs,
/// exponents, more decimals and overflow.
pub fn parse_gb_as_mib(input: &str) -> Option<u64> {
    let tenths = parse_fixed(input, 1)?;
    Some(tenths.checked_mul(MIB_PER_GB)?.checked_add(5)? / 10)
}

/// Shows thousandths as a short decimal: 625 -> "0.625", 3000 -> "3", 1500 -> "1.5".
pub struct Milli(pub u64);

impl fmt::Display for Milli {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MILLI;
        let fraction = self.0 % MILLI;
        if fraction == 0 {
            return write!(f, "{whole}");
        }
        let text = format!("{fraction:03}");
        write!(f, "{whole}.{}", text.trim_end_matches('0'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(gpu: u64, cpu: u64, ram: u64) -> Resources {
        Resources {
            gpu_milli: gpu,
            cpu_milli: cpu,
            ram_mib: ram,
            storage_gib: 0,
        }
    }

    #[test]
    fn gb_with_one_decimal_parses_to_mib() {
        assert_eq!(parse_gb_as_mib("1.5"), Some(1536));
        assert_eq!(parse_gb_as_mib(" 16 "), Some(16_384));
        assert_eq!(parse_gb_as_mib("16384"), Some(16 * 1024 * 1024));
        assert_eq!(parse_gb_as_mib(".5"), Some(512));
        assert_eq!(parse_gb_as_mib("2."), Some(2048));
        assert_eq!(parse_gb_as_mib("0.1"), Some(102));
        assert_eq!(parse_gb_as_mib("0"), Some(0));
        for bad in [
            "",
            ".",
            "1.25",
            "-1",
            "+1",
            "1e3",
            "1,5",
            "1 GB",
            "99999999999999999999",
        ] {
            assert_eq!(parse_gb_as_mib(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn decimals_parse_to_thousandths() {
        assert_eq!(parse_milli("0.625"), Some(625));
        assert_eq!(parse_milli("3"), Some(3000));
        assert_eq!(parse_milli("1.5"), Some(1500));
        assert_eq!(parse_milli(".5"), Some(500));
        assert_eq!(parse_milli(" 2. "), Some(2000));
        for bad in [
            "",
            ".",
            "-1",
            "+1",
            "1e3",
            "0.0001",
            "abc",
            "1,5",
            "99999999999999999999",
        ] {
            assert_eq!(parse_milli(bad), None, "{bad}");
        }
    }

    #[test]
    fn thousandths_display_short() {
        assert_eq!(Milli(625).to_string(), "0.625");
        assert_eq!(Milli(3000).to_string(), "3");
        assert_eq!(Milli(1500).to_string(), "1.5");
        assert_eq!(Milli(0).to_string(), "0");
    }

    #[test]
    fn a_request_must_fit_the_project_and_the_member_cap() {
        let quota = r(3000, 16000, 65536);
        let cap = MemberCap {
            gpu_milli: Some(2000),
            ..MemberCap::default()
        };
        assert_eq!(
            check_fits(quota, r(2000, 0, 0), cap, r(1000, 0, 0), r(1000, 0, 0)),
            Ok(())
        );
        assert_eq!(
            check_fits(quota, r(2500, 0, 0), cap, r(0, 0, 0), r(625, 0, 0)),
            Err(QuotaRefusal::Project {
                left: r(500, 16000, 65536)
            })
        );
        assert_eq!(
            check_fits(quota, r(1500, 0, 0), cap, r(1500, 0, 0), r(1000, 0, 0)),
            Err(QuotaRefusal::Member {
                left: r(500, 16000, 65536)
            })
        );
        assert_eq!(
            check_fits(
                quota,
                r(0, 0, 0),
                MemberCap::default(),
                r(0, 0, 0),
                r(3000, 16000, 65536)
            ),
            Ok(()),
            "exactly the whole quota fits"
        );
        assert!(
            check_fits(quota, r(u64::MAX, 0, 0), cap, r(0, 0, 0), r(1, 0, 0)).is_err(),
            "no overflow"
        );
    }

    #[test]
    fn storage_counts_against_the_project_and_no_member_cap() {
        let quota = Resources {
            storage_gib: 100,
            ..r(1000, 4000, 8192)
        };
        let cap = MemberCap {
            gpu_milli: Some(0),
            cpu_milli: Some(0),
            ram_mib: Some(0),
        };
        let used = Resources::storage(80);
        assert_eq!(
            check_fits(quota, used, cap, used, Resources::storage(20)),
            Ok(()),
            "a member capped at nothing may still fill the project's storage"
        );
        assert_eq!(
            check_fits(quota, used, cap, used, Resources::storage(21)),
            Err(QuotaRefusal::Project {
                left: Resources {
                    storage_gib: 20,
                    ..r(1000, 4000, 8192)
                }
            })
        );
    }

    #[test]
    fn over_the_cap_what_is_left_of_uncapped_resources_is_the_projects() {
        // Others hold 12 of the 16 cores and 60 of the 64 GiB; the member
        // holds 1.5 GPU of their 2-GPU cap, 1 core and 1 GiB.
        let quota = r(3000, 16000, 65536);
        let cap = MemberCap {
            gpu_milli: Some(2000),
            ..MemberCap::default()
        };
        let project_use = r(1500, 13000, 62464);
        let member_use = r(1500, 1000, 1024);
        assert_eq!(
            check_fits(quota, project_use, cap, member_use, r(1000, 0, 0)),
            Err(QuotaRefusal::Member {
                left: r(500, 3000, 3072)
            }),
            "the project's 3 cores and 3 GiB are left, not the quota less the member's own"
        );
        // A cap larger than what the project still has: the project's rest.
        let roomy = MemberCap {
            gpu_milli: Some(2000),
            cpu_milli: Some(8000),
            ram_mib: None,
        };
        assert_eq!(
            check_fits(quota, project_use, roomy, member_use, r(0, 7500, 0)),
            Err(QuotaRefusal::Project {
                left: r(1500, 3000, 3072)
            })
        );
        assert_eq!(
            check_fits(quota, r(1500, 1000, 1024), roomy, member_use, r(0, 7500, 0)),
            Err(QuotaRefusal::Member {
                left: r(500, 7000, 64512)
            })
        );
        assert_eq!(
            left_to_member(r(500, 2000, 0), roomy, member_use),
            r(500, 2000, 0),
            "never more than the project has left"
        );
    }
}
