//! The job queue's rules: a job that does not fit its project's free quota
//! or its owner's cap waits in its project's queue, first in, first out,
//! and the job list says why in numbers ("needs 2 GPUs (H100); the project
//! has 0.5 free; 3 jobs ahead"). Pure: the service reads the queue and the
//! holds and asks these functions.

use super::quota::{MemberCap, QuotaRefusal, Resources, check_fits};

/// The resource a waiting job is short of, the first of GPU, CPU and RAM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Short {
    /// GPU units (thousandths).
    Gpu,
    /// CPU cores (thousandths).
    Cpu,
    /// RAM in MiB.
    Ram,
}

/// Why a queued job waits now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// It would fit; it waits for the jobs ahead of it.
    Turn,
    /// The project's free quota is short: it needs `needs`, `free` is left.
    Project { short: Short, needs: u64, free: u64 },
    /// Its owner's cap inside the project is short.
    Member { short: Short, needs: u64, free: u64 },
}

/// Where a queued job stands: its place (from 1), how many jobs are ahead
/// of it and why it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueuePlace {
    pub position: usize,
    pub ahead: usize,
    pub wait: Wait,
}

/// The first resource of `request` that `left` cannot give, with what is
/// needed and what is left of it (GPU and CPU in thousandths, RAM in MiB).
pub fn shortage(request: Resources, left: Resources) -> (Short, u64, u64) {
    if request.gpu_milli > left.gpu_milli {
        (Short::Gpu, request.gpu_milli, left.gpu_milli)
    } else if request.cpu_milli > left.cpu_milli {
        (Short::Cpu, request.cpu_milli, left.cpu_milli)
    } else {
        (Short::Ram, request.ram_mib, left.ram_mib)
    }
}

/// Why a job requesting `request` waits, given the project's quota and use
/// and its owner's cap and use now.
pub fn wait_of(
    quota: Resources,
    project_use: Resources,
    cap: MemberCap,
    member_use: Resources,
    request: Resources,
) -> Wait {
    match check_fits(quota, project_use, cap, member_use, request) {
        Ok(()) => Wait::Turn,
        Err(QuotaRefusal::Project { left }) => {
            let (short, needs, free) = shortage(request, left);
            Wait::Project { short, needs, free }
        }
        Err(QuotaRefusal::Member { left }) => {
            let (short, needs, free) = shortage(request, left);
            Wait::Member { short, needs, free }
        }
    }
}

/// Whether a member who has `queued` jobs waiting in a project may queue
/// another under the platform's cap (None: no cap).
pub fn may_queue_another(queued: usize, cap: Option<u32>) -> bool {
    cap.is_none_or(|cap| queued < cap as usize)
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
    fn the_first_short_resource_is_named_with_its_numbers() {
        assert_eq!(
            shortage(r(2000, 1000, 1024), r(500, 8000, 8192)),
            (Short::Gpu, 2000, 500)
        );
        assert_eq!(
            shortage(r(0, 4000, 1024), r(0, 1500, 8192)),
            (Short::Cpu, 4000, 1500)
        );
        assert_eq!(
            shortage(r(0, 1000, 4096), r(0, 1000, 2048)),
            (Short::Ram, 4096, 2048)
        );
    }

    #[test]
    fn a_job_waits_for_the_project_its_owner_or_its_turn() {
        let quota = r(2000, 16_000, 65_536);
        let no_cap = MemberCap::default();
        assert_eq!(
            wait_of(
                quota,
                r(1500, 2000, 4096),
                no_cap,
                r(0, 0, 0),
                r(2000, 1000, 1024)
            ),
            Wait::Project {
                short: Short::Gpu,
                needs: 2000,
                free: 500
            }
        );
        let cap = MemberCap {
            gpu_milli: Some(1000),
            ..MemberCap::default()
        };
        assert_eq!(
            wait_of(
                quota,
                r(1000, 2000, 4096),
                cap,
                r(1000, 2000, 4096),
                r(1000, 1000, 1024)
            ),
            Wait::Member {
                short: Short::Gpu,
                needs: 1000,
                free: 0
            }
        );
        assert_eq!(
            wait_of(quota, r(0, 0, 0), no_cap, r(0, 0, 0), r(1000, 1000, 1024)),
            Wait::Turn
        );
    }

    #[test]
    fn the_queue_cap_counts_a_members_waiting_jobs() {
        assert!(may_queue_another(1000, None));
        assert!(may_queue_another(2, Some(3)));
        assert!(!may_queue_another(3, Some(3)));
        assert!(!may_queue_another(0, Some(0)));
    }
}
