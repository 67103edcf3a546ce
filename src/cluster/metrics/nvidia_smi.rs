//! The local GPUs' utilization and memory from `nvidia-smi`, run as a
//! process every scrape interval, bounded in time and size: the GPU
//! metrics of a single server on the local driver, without Kubernetes or
//! DCGM.
//!
//! Why a process and not NVML in-process (the nvml-wrapper crate): the
//! released binary is statically linked against musl, and a static musl
//! binary cannot `dlopen` libnvidia-ml.so (musl's static `dlopen` only
//! answers "Dynamic loading not supported"), so NVML could never load in
//! the product we ship. nvidia-smi is NVML's own client and comes with the
//! driver; its numbers are NVML's. A process can also be killed when the
//! driver hangs, where a stuck NVML call would hold one of our threads.
//! See ARCHITECTURE.md.

use std::path::Path;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::dcgm::DcgmScrape;
use crate::domain::metrics::GpuReading;

/// The fields asked for, in this order (`memory.total` before
/// `memory.used`: the order of the recorded output in
/// tests/fixtures/nvidia-smi/).
pub const QUERY: &str = "--query-gpu=index,uuid,utilization.gpu,memory.total,memory.used";
/// Plain numbers, no header.
pub const FORMAT: &str = "--format=csv,noheader,nounits";

/// The source's name on the admin's Metrics Sources page.
pub const SOURCE: &str = "nvidia-smi";

/// Reads `nvidia-smi --query-gpu=index,uuid,utilization.gpu,memory.total,
/// memory.used --format=csv,noheader,nounits` output (`0, GPU-…, 34, 15360,
/// 3072`) into one reading per GPU. A line that is not five fields, a bad
/// index, a repeated GPU, and values that are not numbers in range
/// (`[N/A]`, `[Not Supported]`, a utilization over 100, more memory used
/// than there is) are named; an answer without any GPU is a problem too.
pub fn parse(text: &str) -> DcgmScrape {
    let mut scrape = DcgmScrape::default();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [index, uuid, util, total, used] = fields[..] else {
            scrape.note(format!(
                "line {}: {} fields, not the 5 asked for",
                number + 1,
                fields.len()
            ));
            continue;
        };
        let Ok(index) = index.parse::<u32>() else {
            scrape.note(format!("line {}: {index:?} is not a GPU index", number + 1));
            continue;
        };
        if uuid.is_empty()
            || scrape
                .gpus
                .iter()
                .any(|g| g.index == index || g.uuid == uuid)
        {
            scrape.note(format!(
                "line {}: GPU {index} ({uuid:?}) listed twice or without a UUID; the first kept",
                number + 1
            ));
            continue;
        }
        let number_in = |text: &str, max: f64| {
            text.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && (0.0..=max).contains(v))
        };
        let total_mib = number_in(total, f64::MAX);
        let util_pct = number_in(util, 100.0);
        let mem_used_mib = number_in(used, total_mib.unwrap_or(f64::MAX));
        if util_pct.is_none() {
            scrape.note(format!(
                "GPU {index}: utilization.gpu is {util:?}, not a percentage"
            ));
        }
        if mem_used_mib.is_none() {
            scrape.note(format!(
                "GPU {index}: memory.used is {used:?} (of {total:?} MiB), not a valid value"
            ));
        }
        scrape.gpus.push(GpuReading {
            host: String::new(),
            uuid: uuid.to_owned(),
            index,
            pod: None,
            util_pct,
            mem_used_mib,
        });
    }
    if scrape.gpus.is_empty() && scrape.problems.is_empty() {
        scrape.note("nvidia-smi listed no GPUs".to_owned());
    }
    scrape
}

/// Runs `program` (nvidia-smi) with [`QUERY`] and [`FORMAT`] and reads its
/// answer; the process is killed when it takes longer than `timeout` or
/// writes more than `max_bytes`. The error says why there is no answer.
pub async fn sample(
    program: &Path,
    timeout: Duration,
    max_bytes: usize,
) -> Result<DcgmScrape, String> {
    let mut child = tokio::process::Command::new(program)
        .args([QUERY, FORMAT])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => format!(
                "{} was not found (it comes with the NVIDIA driver)",
                program.display()
            ),
            _ => format!("{} could not be started: {e}", program.display()),
        })?;
    let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) else {
        return Err("nvidia-smi's output could not be read".to_owned());
    };
    let limit = u64::try_from(max_bytes).unwrap_or(u64::MAX);
    let run = async {
        let mut out = Vec::new();
        let mut err = Vec::new();
        stdout
            .take(limit.saturating_add(1))
            .read_to_end(&mut out)
            .await
            .map_err(|e| format!("reading nvidia-smi's answer failed: {e}"))?;
        if out.len() as u64 > limit {
            return Err(format!("the answer is larger than {max_bytes} bytes"));
        }
        // What it said of a failure (its first few KiB).
        let _ = stderr.take(4096).read_to_end(&mut err).await;
        let status = child
            .wait()
            .await
            .map_err(|e| format!("nvidia-smi did not end: {e}"))?;
        Ok((status, out, err))
    };
    let (status, out, err) = match tokio::time::timeout(timeout, run).await {
        Ok(result) => result?,
        Err(_) => return Err(format!("no answer within {timeout:?}")),
    };
    if !status.success() {
        let said = String::from_utf8_lossy(if err.is_empty() { &out } else { &err });
        let first = said.lines().next().unwrap_or("").trim();
        let first: String = first.chars().take(200).collect();
        return Err(format!("nvidia-smi failed ({status}): {first}"));
    }
    let text = String::from_utf8(out).map_err(|_| "the answer is not UTF-8 text".to_owned())?;
    Ok(parse(&text))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    const RECORDED: &str = include_str!("../../../tests/fixtures/nvidia-smi/query-gpu.csv");

    #[test]
    fn the_recorded_output_is_read() {
        let scrape = parse(RECORDED);
        assert_eq!(scrape.problems, Vec::<String>::new());
        assert_eq!(scrape.gpus.len(), 3);
        let gpu = &scrape.gpus[1];
        assert_eq!(gpu.index, 1);
        assert_eq!(gpu.uuid, "GPU-3b91b854-3dfa-fa53-5612-52ccda6d8f2a");
        assert_eq!(gpu.util_pct, Some(0.0));
        assert_eq!(gpu.mem_used_mib, Some(48_353.0));
        assert_eq!(gpu.pod, None);
    }

    #[test]
    fn malformed_lines_and_values_are_named() {
        let text = "0, GPU-a, 34, 15360, 3072\n\
                    garbage\n\
                    x, GPU-b, 1, 2, 3\n\
                    1, GPU-c, [N/A], 15360, [Not Supported]\n\
                    2, GPU-d, 140, 15360, 99999\n";
        let scrape = parse(text);
        assert_eq!(scrape.gpus.len(), 3, "{:?}", scrape.gpus);
        assert_eq!(scrape.gpus[0].util_pct, Some(34.0));
        assert_eq!(scrape.gpus[1].util_pct, None);
        assert_eq!(scrape.gpus[2].mem_used_mib, None);
        let summary = scrape.problem_summary().expect("problems");
        for words in [
            "5 asked for",
            "not a GPU index",
            "[N/A]",
            "140",
            "(and 1 more)",
        ] {
            assert!(summary.contains(words), "{words}: {summary}");
        }
        let more_than_there_is = parse("2, GPU-d, 14, 15360, 99999\n");
        assert!(
            more_than_there_is
                .problem_summary()
                .is_some_and(|p| p.contains("\"99999\" (of \"15360\" MiB)"))
        );
        let twice = parse("0, GPU-a, 34, 15360, 3072\n0, GPU-a, 35, 15360, 3072\n");
        assert_eq!(twice.gpus.len(), 1);
        assert!(
            twice
                .problem_summary()
                .is_some_and(|p| p.contains("listed twice"))
        );
        assert!(
            parse("")
                .problem_summary()
                .is_some_and(|p| p.contains("no GPUs"))
        );
    }

    /// A script standing in for nvidia-smi: a real process.
    fn script(dir: &Path, name: &str, body: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("mode");
        path
    }

    #[tokio::test]
    async fn a_process_is_run_and_bounded() {
        let dir = tempfile::tempdir().expect("dir");
        let good = script(
            dir.path(),
            "good",
            &format!(
                "[ \"$1 $2\" = \"{QUERY} {FORMAT}\" ] || exit 9\necho '0, GPU-a, 34, 15360, 3072'"
            ),
        );
        let scrape = sample(&good, Duration::from_secs(10), 1024)
            .await
            .expect("read");
        assert_eq!(scrape.gpus[0].util_pct, Some(34.0));

        let hangs = script(dir.path(), "hangs", "exec sleep 60");
        let started = std::time::Instant::now();
        let error = sample(&hangs, Duration::from_millis(300), 1024)
            .await
            .expect_err("killed");
        assert_eq!(error, "no answer within 300ms");
        assert!(started.elapsed() < Duration::from_secs(30));

        let fails = script(
            dir.path(),
            "fails",
            "echo 'NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.' >&2; exit 9",
        );
        let error = sample(&fails, Duration::from_secs(10), 1024)
            .await
            .expect_err("failed");
        assert!(error.contains("could not communicate"), "{error}");

        let endless = script(
            dir.path(),
            "endless",
            "exec yes '0, GPU-a, 34, 15360, 3072'",
        );
        let error = sample(&endless, Duration::from_secs(10), 4096)
            .await
            .expect_err("too large");
        assert!(error.contains("larger than 4096"), "{error}");

        let missing = dir.path().join("nvidia-smi");
        let error = sample(&missing, Duration::from_secs(10), 1024)
            .await
            .expect_err("missing");
        assert!(error.contains("was not found"), "{error}");
    }
}
